"""Nothing sensitive anywhere (issue 13): the transition's commands run with passwords planted in
both URLs and in ``SAFESTATS_*_PASSWORD`` — the legacy on MariaDB, reached with a password of its
own (a SQLite URL holds none) — under ``--debug`` and ``--log-json``, one of them failing on
purpose.  Then every output line, every file written (reports, profile, diagnose bundle, temp
files: ``TMPDIR`` and the working folder are the test's own), every ledger row and every row of
every target table is scanned for the planted passwords, and the whole target for every legacy
user's password (``tblUser.Password``: plaintext or MD5, which must never reach the new system),
case folded.  A scan that finds nothing proves something only because the tokens were planted:
the test first checks each one is really in play (the source password opens MariaDB, the
legacy passwords are in the legacy table)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from tests.conftest import MariaDatabases, PgDatabases

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb]

REPO = Path(__file__).resolve().parents[2]
SOURCE_PASSWORD = "SrcPlanted-Pw-6621"
TARGET_URL_PASSWORD = "TgtPlanted-UrlPw-3187"
TARGET_ENV_PASSWORD = "TgtPlanted-EnvPw-9043"
TOKENS = (SOURCE_PASSWORD, TARGET_URL_PASSWORD, TARGET_ENV_PASSWORD)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A MariaDB legacy database with a user of its own (password planted) and a PostgreSQL target."""
    maria, pg = MariaDatabases(), PgDatabases()
    user = f"ssleak{os.getpid()}"
    try:
        src = maria.create("ss_leak")
        conn = maria._conn()
        for host in ("%", "localhost", "127.0.0.1"):
            conn.cursor().execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{SOURCE_PASSWORD}'")
            conn.cursor().execute(f"GRANT ALL ON `{src.database}`.* TO '{user}'@'{host}'")
        conn.close()
        tgt = pg.create("ss_leak")
        yield {"source": src.set(username=user), "target": tgt, "tmp": tmp_path}
    finally:
        conn = maria._conn()
        for host in ("%", "localhost", "127.0.0.1"):
            conn.cursor().execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
        conn.close()
        maria.drop_all()
        pg.drop_all()


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "migration", "--debug", "--log-json", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def _found(haystack: str, tokens: tuple[str, ...]) -> list[str]:
    low = haystack.casefold()
    return [t for t in tokens if t.casefold() in low]


def test_no_password_and_no_legacy_secret_anywhere(world: dict[str, Any]) -> None:
    tmp: Path = world["tmp"]
    work = tmp / "work"
    (work / "tmp").mkdir(parents=True)
    source: URL = world["source"]
    target: URL = world["target"]
    src_with_pw = source.set(password=SOURCE_PASSWORD).render_as_string(hide_password=False)
    tgt_with_pw = target.set(password=TARGET_URL_PASSWORD).render_as_string(hide_password=False)
    base = {k: v for k, v in os.environ.items() if not k.startswith("SAFESTATS_")}
    base.update({"TMPDIR": str(work / "tmp"), "COLUMNS": "200", "SAFESTATS_MAPPINGS_DIR": str(REPO / "mappings"),
                 "SAFESTATS_REPORTS_DIR": str(work / "reports")})
    in_urls = dict(base, SAFESTATS_SOURCE_URL=src_with_pw, SAFESTATS_TARGET_URL=tgt_with_pw)
    # the other way an operator sets them: URLs without, passwords in their own variables
    in_vars = dict(base, SAFESTATS_SOURCE_URL=source.render_as_string(hide_password=False),
                   SAFESTATS_SOURCE_PASSWORD=SOURCE_PASSWORD,
                   SAFESTATS_TARGET_URL=target.render_as_string(hide_password=False),
                   SAFESTATS_TARGET_PASSWORD=TARGET_ENV_PASSWORD)
    steps: list[tuple[list[str], dict[str, str], set[int]]] = [
        # `legacy generate --url` takes no password (it says so): it comes from SAFESTATS_SOURCE_PASSWORD
        (["legacy", "generate", "--url", source.render_as_string(hide_password=False), "--scale", "0.001",
          "--seed", "3", "--manifest", str(work / "legacy.manifest.json")], in_vars, {0}),
        (["legacy", "generate", "--url", src_with_pw, "--scale", "0.001", "--seed", "3",
          "--manifest", str(work / "refused.manifest.json")], in_urls, {2}),
        (["schema", "upgrade"], in_urls, {0}),
        (["mappings", "validate"], in_vars, {0}),
        (["profile", "--html", str(work / "profile.html"), "--json", str(work / "profile.json")], in_vars, {0}),
        (["preflight"], in_urls, {0, 1}),
        (["plan"], in_vars, {0}),
        (["run", "--all"], in_urls, {0}),
        (["status"], in_vars, {0}),
        (["reconcile", "--all"], in_vars, {0}),
        (["quarantine", "list"], in_urls, {0}),
        (["report", "--out", str(work / "report")], in_vars, {0}),
        (["cutover"], in_urls, {1}),                       # no freeze: a no-go, with its evidence
        (["rollback", "mps_crime", "--dry-run"], in_vars, {0}),
        (["diagnose", "--out", str(work / "diagnose.json")], in_urls, {0}),
        # a failure on purpose, traceback and all: a target database that does not exist
        (["status"], dict(in_urls, SAFESTATS_TARGET_URL=target.set(
            database="ss_leak_absent", password=TARGET_URL_PASSWORD).render_as_string(hide_password=False)), {3}),
        (["run", "--all"], dict(in_vars, SAFESTATS_SOURCE_PASSWORD="wrong-" + SOURCE_PASSWORD), {0, 3}),
    ]
    outputs: list[str] = []
    for args, env, codes in steps:
        done = _cli(args, env, work)
        outputs.append(f"{done.stdout}\n{done.stderr}")  # what the command printed (not its own command line)
        assert done.returncode in codes, f"{args}: exit {done.returncode}\n{done.stderr[-3000:]}"

    # the planted tokens are really in play: the source password opens the legacy database …
    legacy = create_engine(make_url(src_with_pw), poolclass=NullPool)
    with legacy.connect() as conn:
        # plaintext or MD5; a plaintext that is an ordinary word ("password", "safestats") is left
        # out: those words are in the tool's own messages and the data dictionary's vocabulary
        secrets = tuple(sorted({str(p).strip() for (p,) in conn.execute(text("SELECT Password FROM tblUser"))
                                if p is not None and len(str(p).strip()) >= 6 and not str(p).strip().isalpha()}))
    legacy.dispose()
    assert len(secrets) >= 5, "the legacy users have no passwords to look for"

    # 1. every line the commands printed (stdout, stderr, JSON logs, tracebacks)
    printed = "\n".join(outputs)
    assert "Traceback" in printed, "--debug printed no traceback: the failing step did not fail as planned"
    for out in outputs:
        assert not _found(out, TOKENS + secrets), f"a secret was printed: {out[:300]}"

    # 2. every file written: reports, profile, diagnose bundle, temp files, anything in the working folder
    (work / "probe.txt").write_text(f"probe {SOURCE_PASSWORD.upper()}")  # the file scan finds what is there
    files = [p for p in work.rglob("*") if p.is_file()]
    assert [p.name for p in files if _found(p.read_text(errors="replace"), TOKENS)] == ["probe.txt"]
    files = [p for p in files if p.name != "probe.txt"]
    assert any(p.name == "report.html" for p in files) and (work / "diagnose.json").is_file()
    for p in files:
        body = p.read_bytes().decode("utf-8", errors="replace")
        assert not _found(body, TOKENS + secrets), f"a secret is in {p.relative_to(work)}"

    # 3. every row of every table of the target — ledger, quarantine, staging, data — as text
    eng = create_engine(target, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            tables = [r[0] for r in conn.execute(text(
                "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN "
                "('pg_catalog', 'information_schema', 'tiger', 'topology', 'pg_toast')"))]
            assert {"ledger.event", "ledger.quarantine_event", "ledger.run", "sec.app_user"} <= set(tables)
            # the scan finds what is there: a probe row holding a token, in another case, is found
            conn.execute(text("CREATE TEMP TABLE leak_probe AS SELECT 'x ' || upper(:k) || ' y' AS v"),
                         dict(k=TARGET_ENV_PASSWORD))
            assert conn.execute(text("SELECT count(*) FROM leak_probe x WHERE strpos(lower(x::text), :k) > 0"),
                                dict(k=TARGET_ENV_PASSWORD.casefold())).scalar_one() == 1
            scanned = 0
            for t in tables:
                for token in TOKENS + secrets:
                    hits = conn.execute(text(f"SELECT count(*) FROM {t} x WHERE strpos(lower(x::text), :k) > 0"),
                                        dict(k=token.casefold())).scalar_one()
                    assert hits == 0, f"{t}: {hits} row(s) hold a planted secret"
                scanned += 1
            assert scanned == len(tables) >= 20
    finally:
        eng.dispose()
