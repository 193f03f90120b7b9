"""Settings layering and password hygiene."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration.cli import main
from migration.errors import SettingsError
from migration.secrets import redact_url, scrub
from migration.settings import load_settings


def test_layers_rise_in_priority(tmp_path: Path) -> None:
    cfg = tmp_path / "safestats-migrate.toml"
    cfg.write_text('[source]\nurl = "sqlite:///legacy.sqlite"\n[target]\nurl = "postgresql://cfg@h/db"\n')
    s = load_settings(env={}, cwd=tmp_path)
    assert s.target_url is not None and s.target_url.username == "cfg"
    assert s.source_url is not None and s.source_url.database == str(tmp_path / "legacy.sqlite")
    s = load_settings(env={"SAFESTATS_TARGET_URL": "postgresql://env@h/db"}, cwd=tmp_path)
    assert s.target_url is not None and s.target_url.username == "env"
    assert "environment" in s.origins["target_url"]
    s = load_settings(cli={"target_url": "postgresql://cli@h/db"},
                      env={"SAFESTATS_TARGET_URL": "postgresql://env@h/db"}, cwd=tmp_path)
    assert s.target_url is not None and s.target_url.username == "cli"
    assert s.origins["target_url"].startswith("--target")


def test_password_refused_in_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "safestats-migrate.toml"
    cfg.write_text('[target]\nurl = "postgresql://u:hunter2@h/db"\n')
    with pytest.raises(SettingsError) as ei:
        load_settings(env={}, cwd=tmp_path)
    assert "hunter2" not in str(ei.value)
    assert "SAFESTATS_TARGET_PASSWORD" in str(ei.value)


def test_password_key_refused_in_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[target]\nurl = "postgresql://u@h/db"\npassword = "hunter3"\n')
    with pytest.raises(SettingsError) as ei:
        load_settings(env={}, config_path=cfg)
    assert "hunter3" not in str(ei.value)


def test_password_refused_on_command_line() -> None:
    with pytest.raises(SettingsError):
        load_settings(cli={"source_url": "mysql+pyodbc://u:pw123@h/db"}, env={})


def test_password_from_environment_variable_is_applied_and_hidden() -> None:
    s = load_settings(cli={"target_url": "postgresql://u@h/db"}, env={"SAFESTATS_TARGET_PASSWORD": "s3cr3t-xyz"})
    assert s.target_url is not None and s.target_url.password == "s3cr3t-xyz"
    assert "s3cr3t-xyz" not in redact_url(s.target_url)
    assert "s3cr3t-xyz" not in str(s.describe())
    assert scrub("oops s3cr3t-xyz leaked") == "oops *** leaked"


def test_pgpass_file_for_odbc_url(tmp_path: Path) -> None:
    pgpass = tmp_path / "pass"
    pgpass.write_text("dbhost:3306:legacy:reader:from-passfile\n")
    s = load_settings(cli={"source_url": "mysql+pyodbc://reader@dbhost:3306/legacy?driver=MariaDB+Unicode"},
                      env={"SAFESTATS_PASSFILE": str(pgpass)})
    assert s.source_url is not None and s.source_url.password == "from-passfile"
    assert "from-passfile" not in redact_url(s.source_url)


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[target]\nulr = "postgresql://u@h/db"\n')
    with pytest.raises(SettingsError) as ei:
        load_settings(env={}, config_path=cfg)
    assert "ulr" in str(ei.value) and str(cfg) in str(ei.value)


def test_cli_error_boundary_one_line_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--target", "postgresql://u:topsecret99@h/db", "config", "show"])
    err = capsys.readouterr().err
    assert code == 2
    assert "topsecret99" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:")


def test_cli_debug_shows_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    # --debug adds the (redacted) traceback and keeps the exit code of the table: 2, a settings error
    code = main(["--debug", "--target", "postgresql://u:topsecret99@h/db", "config", "show"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback (most recent call last)" in err and "SettingsError" in err
    assert "topsecret99" not in err


REPO = Path(__file__).resolve().parents[1]


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SAFESTATS_MAPPINGS_DIR", "SAFESTATS_CHECKS_DIR", "SAFESTATS_CONFIG", "SAFESTATS_SOURCE_URL",
                 "SAFESTATS_TARGET_URL"):
        monkeypatch.delenv(name, raising=False)


def test_mapping_and_check_folders_rise_from_the_shipped_set_to_the_command_line(tmp_path: Path) -> None:
    from migration.shipped import shipped_dir

    s = load_settings(env={}, cwd=tmp_path)  # nothing said: the set shipped with the package
    assert s.mappings_dir == shipped_dir("mappings") == REPO / "mappings"  # a source checkout
    assert s.checks_dir == shipped_dir("checks") == REPO / "checks"
    assert "mappings_dir" not in s.origins and "shipped with the package" in s.describe()["mappings_dir"]
    cfg = tmp_path / "safestats-migrate.toml"
    cfg.write_text('[paths]\nmappings = "cfg-m"\nchecks = "/abs/cfg-c"\n')
    s = load_settings(env={}, cwd=tmp_path)
    assert (s.mappings_dir, s.checks_dir) == (tmp_path / "cfg-m", Path("/abs/cfg-c"))  # relative to the file
    env = {"SAFESTATS_MAPPINGS_DIR": "/env/m", "SAFESTATS_CHECKS_DIR": "/env/c"}
    s = load_settings(env=env, cwd=tmp_path)
    assert (s.mappings_dir, s.checks_dir) == (Path("/env/m"), Path("/env/c"))
    s = load_settings(cli={"mappings_dir": "/cli/m", "checks_dir": "/cli/c"}, env=env, cwd=tmp_path)
    assert (s.mappings_dir, s.checks_dir) == (Path("/cli/m"), Path("/cli/c"))
    assert s.origins["mappings_dir"] == s.origins["checks_dir"] == "command line"


def test_config_show_prints_absolute_paths_and_where_each_came_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    _clean(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAFESTATS_CHECKS_DIR", "my-checks")
    assert main(["--log-json", "--mappings", "m", "config", "show"]) == 0
    table = next(json.loads(line) for line in capsys.readouterr().err.splitlines()
                 if json.loads(line)["message"] == "Effective settings")
    shown = dict(table["rows"])
    assert shown["mappings_dir"] == f"{tmp_path / 'm'}  [command line]"
    assert shown["checks_dir"] == f"{tmp_path / 'my-checks'}  [environment SAFESTATS_CHECKS_DIR]"
    assert shown["reports_dir"].startswith(f"{tmp_path / 'reports'}  [default: reports/ in the working folder")
    monkeypatch.delenv("SAFESTATS_CHECKS_DIR")
    assert main(["--log-json", "config", "show"]) == 0
    table = next(json.loads(line) for line in capsys.readouterr().err.splitlines()
                 if json.loads(line)["message"] == "Effective settings")
    shown = dict(table["rows"])
    assert shown["mappings_dir"] == f"{REPO / 'mappings'}  [shipped with the package (source checkout)]"
    assert shown["checks_dir"] == f"{REPO / 'checks'}  [shipped with the package (source checkout)]"


def test_commands_find_the_shipped_files_from_any_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10: run from any folder but the checkout, every command failed with
    `mappings:0: no such file or directory`."""
    _clean(monkeypatch)
    monkeypatch.chdir(tmp_path)
    assert main(["mappings", "validate"]) == 0, capsys.readouterr().err
    assert main(["plan", "--json"]) == 0
    assert '"stage": "istv_assault"' in capsys.readouterr().out


def test_a_mapping_problem_met_by_run_is_printed_in_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`run` said only `1 problem(s) in the mapping files`; now every problem, file and line."""
    import shutil

    _clean(monkeypatch)
    mappings = tmp_path / "mappings"
    shutil.copytree(REPO / "mappings", mappings)
    f = mappings / "20_areas.yaml"
    f.write_text(f.read_text().replace("title: Wards", "colour: blue\ntitle: Wards", 1)
                 .replace("    business_key: {columns: [WardCode, Vintage]}",
                          "    business_key: {columns: [WardCode, Vintage], sort: up}", 1))
    assert main(["--mappings", str(mappings), "run", "--all"]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: 2 problem(s) in the mapping files")
    assert f"{f}:7: colour" in err and f"{f}:16: tables[0].business_key.sort" in err, err
    # a single problem is the error line itself
    assert main(["--mappings", str(tmp_path / "nowhere"), "run", "--all"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 1 problem(s) in the mapping files: ") and "nowhere" in err
    assert len(err.splitlines()) == 1


def test_a_database_error_never_shows_the_row_values_it_quotes() -> None:
    """A constraint error quotes the failing row (issue 13: a stage stopped by a target constraint
    printed a legacy row's values); the error line keeps what failed and withholds the values."""
    from migration.secrets import WITHHELD, scrub

    nhs = "943 476 5919"
    err = ('(psycopg2.errors.CheckViolation) new row for relation "ed_assault" violates check constraint '
           f'"ck_age"\nDETAIL:  Failing row contains (17, {nhs}, Kings College Hospital, 2010-03-09).\n'
           f'[SQL: INSERT INTO istv.ed_assault (a, b) VALUES (%(a)s, %(b)s)]\n'
           f"[parameters: {{'a': 17, 'b': '{nhs}'}}]\n(Background on this error at: https://sqlalche.me/e/20/gkpj)")
    out = scrub(err)
    assert nhs not in out and "Kings College" not in out
    assert 'violates check constraint "ck_age"' in out and out.count(WITHHELD) == 2
    assert "Background on this error" in out
    dup = scrub('duplicate key value violates unique constraint "pk"\nDETAIL:  Key (source_ref)=(MP10SD0002442) '
                'already exists.')
    assert "MP10SD0002442" not in dup and f"Key (source_ref)={WITHHELD} already exists" in dup


def test_throttle_and_logs_folder_rise_in_priority_and_refuse_nonsense(tmp_path: Path) -> None:
    cfg = tmp_path / "safestats-migrate.toml"
    cfg.write_text('[run]\nmax_rows_per_second = 100\n[paths]\nlogs = "runlogs"\n')
    s = load_settings(config_path=cfg, env={})
    assert s.max_rows_per_second == 100.0 and s.run_logs_dir == tmp_path / "runlogs"
    s = load_settings(config_path=cfg, env={"SAFESTATS_MAX_ROWS_PER_SECOND": "200",
                                            "SAFESTATS_LOGS_DIR": str(tmp_path / "envlogs")})
    assert s.max_rows_per_second == 200.0 and s.run_logs_dir == tmp_path / "envlogs"
    s = load_settings(cli={"max_rows_per_second": 300}, config_path=cfg, env={"SAFESTATS_MAX_ROWS_PER_SECOND": "200"})
    assert s.max_rows_per_second == 300.0 and s.origins["max_rows_per_second"] == "command line"
    s = load_settings(config_path=cfg, env={"SAFESTATS_REPORTS_DIR": str(tmp_path / "envreports")})
    assert s.reports_dir == tmp_path / "envreports" and s.run_logs_dir == tmp_path / "runlogs"
    assert s.origins["reports_dir"] == "environment SAFESTATS_REPORTS_DIR"
    # unset: no throttle, and the logs beside the reports folder
    s = load_settings(cli={"reports_dir": str(tmp_path / "out" / "reports")}, env={})
    assert s.max_rows_per_second is None and s.run_logs_dir == tmp_path / "out" / "logs"
    assert "unlimited" in s.describe()["max_rows_per_second"]
    for bad in ("0", "-3", "fast"):
        with pytest.raises(SettingsError):
            load_settings(env={"SAFESTATS_MAX_ROWS_PER_SECOND": bad})
