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


def test_cli_debug_shows_traceback() -> None:
    with pytest.raises(SettingsError):
        main(["--debug", "--target", "postgresql://u:topsecret99@h/db", "config", "show"])
