"""Settings: one frozen object built from defaults < config file < environment < CLI.

Passwords are accepted only from the environment (inside ``SAFESTATS_*_URL`` or as
``SAFESTATS_SOURCE_PASSWORD`` / ``SAFESTATS_TARGET_PASSWORD``) or from a pgpass file.
A password written in the config file or on a command line is refused, because ``ps``,
shell history and version control keep them.  Every value remembers where it came from
so a person can trace it; URLs are only ever shown redacted.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from migration.errors import SettingsError
from migration.secrets import redact_url, register_secret
from migration.shipped import origin as shipped_origin
from migration.shipped import shipped_dir

CONFIG_FILE_NAME = "safestats-migrate.toml"
ROLES = ("source", "target")
_KNOWN_CONFIG_KEYS = {
    "source": {"url"},
    "target": {"url"},
    "paths": {"mappings", "checks", "reports", "logs"},
    "run": {"chunk_rows", "log_json", "max_rows_per_second"},
}


@dataclass(frozen=True)
class Settings:
    source_url: URL | None = None
    target_url: URL | None = None
    #: the mapping and check files: --mappings/--checks > SAFESTATS_*_DIR > config file > the shipped set
    mappings_dir: Path = field(default_factory=lambda: shipped_dir("mappings"))
    checks_dir: Path = field(default_factory=lambda: shipped_dir("checks"))
    #: outputs stay relative to the working folder
    reports_dir: Path = Path("reports")
    #: rows per committed chunk; peak memory grows with it (about 20 MB per 1,000 rows in flight)
    chunk_rows: int = 20_000
    #: throttle on reading the live legacy (rows per second, on average); None: as fast as it goes
    max_rows_per_second: float | None = None
    #: where each run's log goes (``run-<id>.log``); None: ``logs/`` beside the reports folder
    logs_dir: Path | None = None
    log_json: bool = False
    config_file: Path | None = None
    origins: Mapping[str, str] = field(default_factory=dict)

    @property
    def run_logs_dir(self) -> Path:
        """The folder of the run logs: ``logs_dir``, else ``logs`` beside ``reports_dir``."""
        return self.logs_dir if self.logs_dir is not None else self.reports_dir.parent / "logs"

    def require_source(self) -> URL:
        if self.source_url is None:
            raise SettingsError(
                "no legacy source database is configured",
                hint="set SAFESTATS_SOURCE_URL, [source] url in safestats-migrate.toml, or pass --source",
            )
        return self.source_url

    def require_target(self) -> URL:
        if self.target_url is None:
            raise SettingsError(
                "no target PostgreSQL database is configured",
                hint="set SAFESTATS_TARGET_URL, [target] url in safestats-migrate.toml, or pass --target",
            )
        return self.target_url

    def describe(self) -> dict[str, str]:
        """Every setting, redacted, with where it came from (for `config show`)."""
        return {
            "source_url": f"{redact_url(self.source_url)}  [{self.origins.get('source_url', 'default')}]",
            "target_url": f"{redact_url(self.target_url)}  [{self.origins.get('target_url', 'default')}]",
            "mappings_dir": f"{_absolute(self.mappings_dir)}  [{self.origins.get('mappings_dir', shipped_origin('mappings'))}]",
            "checks_dir": f"{_absolute(self.checks_dir)}  [{self.origins.get('checks_dir', shipped_origin('checks'))}]",
            "reports_dir": f"{_absolute(self.reports_dir)}  "
                           f"[{self.origins.get('reports_dir', 'default: reports/ in the working folder')}]",
            "chunk_rows": f"{self.chunk_rows}  [{self.origins.get('chunk_rows', 'default')}]",
            "max_rows_per_second": f"{self.max_rows_per_second or 'unlimited'}  "
                                   f"[{self.origins.get('max_rows_per_second', 'default')}]",
            "logs_dir": f"{_absolute(self.run_logs_dir)}  "
                        f"[{self.origins.get('logs_dir', 'default: logs/ beside the reports folder')}]",
            "config_file": str(self.config_file) if self.config_file else "(none)",
        }


def _absolute(path: Path) -> Path:
    """The folder as it will be used (relative paths are relative to the working folder)."""
    return path.expanduser().resolve()


def parse_url(text: str, *, origin: str) -> URL:
    try:
        url = make_url(text.strip())
        if url.drivername == "postgresql":  # SQLAlchemy 2.1 would pick psycopg 3; we ship psycopg2
            url = url.set(drivername="postgresql+psycopg2")
        return url
    except (ArgumentError, ValueError) as exc:
        raise SettingsError(
            f"cannot parse the database URL from {origin}: {redact_url(text)}",
            hint="write it as dialect+driver://user@host:port/database (SQLAlchemy URL syntax)",
        ) from exc


def _refuse_password(url: URL, *, role: str, origin: str) -> None:
    if url.password:
        register_secret(str(url.password))
        raise SettingsError(
            f"a password was given for the {role} database in {origin}",
            hint=(
                f"remove it and set SAFESTATS_{role.upper()}_PASSWORD in the environment "
                "(or use a pgpass file): config files and command lines are kept by ps, "
                "shell history and version control"
            ),
        )


def command_line_url(text: str, *, role: str, origin: str, env: dict[str, str] | None = None) -> URL:
    """A database URL typed on a command line outside the settings (``legacy generate --url``):
    a password in it is refused as everywhere else (:func:`_refuse_password`, the one rule),
    and ``SAFESTATS_<ROLE>_PASSWORD`` from the environment supplies one."""
    url = parse_url(text, origin=origin)
    _refuse_password(url, role=role, origin=origin)
    password = (os.environ if env is None else env).get(f"SAFESTATS_{role.upper()}_PASSWORD")
    if password:
        register_secret(password)
        url = url.set(password=password)
    return url


def _read_config(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SettingsError(f"config file {path} does not exist", hint="check --config / SAFESTATS_CONFIG") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}", where=str(path)) from exc
    for section, keys in data.items():
        if section not in _KNOWN_CONFIG_KEYS or not isinstance(keys, dict):
            raise SettingsError(
                f"unknown section [{section}] in config file",
                where=str(path),
                hint=f"known sections: {', '.join(sorted(_KNOWN_CONFIG_KEYS))}",
            )
        for key in keys:
            if key == "password":
                raise SettingsError(
                    f"a password was given in [{section}] of the config file",
                    where=str(path),
                    hint=f"remove it and set SAFESTATS_{section.upper()}_PASSWORD in the environment",
                )
            if key not in _KNOWN_CONFIG_KEYS[section]:
                raise SettingsError(
                    f"unknown key '{key}' in [{section}] of the config file",
                    where=str(path),
                    hint=f"known keys: {', '.join(sorted(_KNOWN_CONFIG_KEYS[section]))}",
                )
    return data


def _pgpass_lookup(url: URL, env: Mapping[str, str]) -> str | None:
    """Find a password for a non-libpq URL in a pgpass-format file (libpq reads its own)."""
    candidates = [env.get("SAFESTATS_PASSFILE"), env.get("PGPASSFILE"), str(Path.home() / ".pgpass")]
    for name in candidates:
        if not name:
            continue
        path = Path(name)
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = _split_pgpass(line)
            if len(fields) != 5:
                continue
            host, port, db, user, password = fields
            wanted = (url.host or "localhost", str(url.port or "*"), url.database or "*", url.username or "*")
            if all(f == "*" or f == w for f, w in zip((host, port, db, user), wanted, strict=True)):
                return password
    return None


def _split_pgpass(line: str) -> list[str]:
    fields, cur, esc = [], [], False
    for ch in line:
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == ":":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    fields.append("".join(cur))
    return fields


def load_settings(
    *,
    cli: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build the settings from every layer; raise :class:`SettingsError` on anything unsafe."""
    env = os.environ if env is None else env
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    cwd = cwd or Path.cwd()
    values: dict[str, object] = {}
    origins: dict[str, str] = {}

    # config file: --config > SAFESTATS_CONFIG > ./safestats-migrate.toml
    cfg_path: Path | None = None
    if config_path is not None:
        cfg_path = Path(config_path)
    elif env.get("SAFESTATS_CONFIG"):
        cfg_path = Path(env["SAFESTATS_CONFIG"])
    elif (cwd / CONFIG_FILE_NAME).is_file():
        cfg_path = cwd / CONFIG_FILE_NAME
    if cfg_path is not None:
        data = _read_config(cfg_path)
        for role in ROLES:
            text = data.get(role, {}).get("url")
            if text:
                origin = f"config file {cfg_path} [{role}] url"
                url = parse_url(text, origin=origin)
                _refuse_password(url, role=role, origin=origin)
                values[f"{role}_url"] = url
                origins[f"{role}_url"] = origin
        for key in ("mappings", "checks", "reports", "logs"):
            if key in data.get("paths", {}):
                p = Path(data["paths"][key])
                values[f"{key}_dir"] = p if p.is_absolute() else (cfg_path.parent / p)
                origins[f"{key}_dir"] = f"config file {cfg_path}"
        run = data.get("run", {})
        if "chunk_rows" in run:
            values["chunk_rows"] = int(run["chunk_rows"])
            origins["chunk_rows"] = f"config file {cfg_path}"
        if "log_json" in run:
            values["log_json"] = bool(run["log_json"])
            origins["log_json"] = f"config file {cfg_path}"
        if "max_rows_per_second" in run:
            values["max_rows_per_second"] = _rate(run["max_rows_per_second"], origin=f"config file {cfg_path}")
            origins["max_rows_per_second"] = f"config file {cfg_path}"

    # environment
    for role in ROLES:
        name = f"SAFESTATS_{role.upper()}_URL"
        if env.get(name):
            url = parse_url(env[name], origin=name)
            if url.password:
                register_secret(str(url.password))
            values[f"{role}_url"] = url
            origins[f"{role}_url"] = f"environment {name}"
    if env.get("SAFESTATS_MAPPINGS_DIR"):
        values["mappings_dir"] = Path(env["SAFESTATS_MAPPINGS_DIR"])
        origins["mappings_dir"] = "environment SAFESTATS_MAPPINGS_DIR"
    if env.get("SAFESTATS_CHECKS_DIR"):
        values["checks_dir"] = Path(env["SAFESTATS_CHECKS_DIR"])
        origins["checks_dir"] = "environment SAFESTATS_CHECKS_DIR"
    if env.get("SAFESTATS_REPORTS_DIR"):
        values["reports_dir"] = Path(env["SAFESTATS_REPORTS_DIR"])
        origins["reports_dir"] = "environment SAFESTATS_REPORTS_DIR"
    if env.get("SAFESTATS_LOGS_DIR"):
        values["logs_dir"] = Path(env["SAFESTATS_LOGS_DIR"])
        origins["logs_dir"] = "environment SAFESTATS_LOGS_DIR"
    if env.get("SAFESTATS_MAX_ROWS_PER_SECOND"):
        values["max_rows_per_second"] = _rate(env["SAFESTATS_MAX_ROWS_PER_SECOND"],
                                              origin="environment SAFESTATS_MAX_ROWS_PER_SECOND")
        origins["max_rows_per_second"] = "environment SAFESTATS_MAX_ROWS_PER_SECOND"

    # command line
    for role in ROLES:
        text = cli.get(f"{role}_url")
        if text:
            origin = f"--{role} on the command line"
            url = parse_url(str(text), origin=origin)
            _refuse_password(url, role=role, origin=origin)
            values[f"{role}_url"] = url
            origins[f"{role}_url"] = origin
    if cli.get("max_rows_per_second"):
        values["max_rows_per_second"] = _rate(cli["max_rows_per_second"], origin="--max-rows-per-second")
        origins["max_rows_per_second"] = "command line"
    for key in ("mappings_dir", "checks_dir", "reports_dir", "logs_dir"):
        if cli.get(key):
            values[key] = Path(str(cli[key]))
            origins[key] = "command line"
    if cli.get("chunk_rows"):
        values["chunk_rows"] = int(str(cli["chunk_rows"]))
        origins["chunk_rows"] = "command line"
    if cli.get("log_json"):
        values["log_json"] = True
        origins["log_json"] = "command line"

    # passwords from the environment or a pgpass file, whatever layer gave the URL
    for role in ROLES:
        found = values.get(f"{role}_url")
        if not isinstance(found, URL):
            continue
        url = found
        pw_name = f"SAFESTATS_{role.upper()}_PASSWORD"
        if env.get(pw_name):
            register_secret(env[pw_name])
            values[f"{role}_url"] = url.set(password=env[pw_name])
            origins[f"{role}_password"] = f"environment {pw_name}"
        elif not url.password and not url.get_backend_name().startswith("postgresql"):
            pw = _pgpass_lookup(url, env) if url.host else None
            if pw:
                register_secret(pw)
                values[f"{role}_url"] = url.set(password=pw)
                origins[f"{role}_password"] = "pgpass file"
        if url.get_backend_name() == "sqlite" and url.database and not url.database.startswith("file:"):
            db = Path(url.database)
            if cfg_path is not None and origins.get(f"{role}_url", "").startswith("config file") and not db.is_absolute():
                values[f"{role}_url"] = url.set(database=str(cfg_path.parent / db))

    if values.get("chunk_rows") is not None and int(values["chunk_rows"]) < 1:  # type: ignore[call-overload]
        raise SettingsError("chunk_rows must be at least 1", hint="fix [run] chunk_rows or --chunk-rows")
    settings = Settings(**values, config_file=cfg_path, origins=origins)  # type: ignore[arg-type]
    return settings


def _rate(value: object, *, origin: str) -> float:
    """A rows-per-second throttle: a positive number."""
    try:
        rate = float(str(value))
    except ValueError:
        rate = 0.0
    if not rate > 0:
        raise SettingsError(f"max_rows_per_second from {origin} must be a positive number, not {value!r}",
                            hint="e.g. --max-rows-per-second 2000 (leave it out for no throttle)")
    return rate


def with_overrides(settings: Settings, **changes: object) -> Settings:
    return replace(settings, **changes)  # type: ignore[arg-type]
