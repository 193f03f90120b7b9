"""`report` is a group: no subcommand still writes the report; `report runs` lists the runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL

from migration.cli import main


def test_report_runs_shows_what_runs_shows(loaded_url: URL, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("SAFESTATS_TARGET_URL", loaded_url.render_as_string(hide_password=False))
    capsys.readouterr()
    assert main(["runs", "--limit", "3"]) == 0
    plain = capsys.readouterr().out
    assert main(["report", "runs", "--limit", "3"]) == 0
    grouped = capsys.readouterr().out
    assert "Runs (newest first)" in plain and grouped == plain
    assert main(["report", "runs", "--stage", "nosuch"]) == 2


def test_run_id_as_argument_or_option_writes_the_same_scope(loaded_url: URL, engine_of: Any, tmp_path: Path,
                                                            monkeypatch: Any) -> None:
    monkeypatch.setenv("SAFESTATS_TARGET_URL", loaded_url.render_as_string(hide_password=False))
    with engine_of(loaded_url).connect() as c:
        run_id = c.execute(text("SELECT min(run_id) FROM ledger.run")).scalar_one()
    assert main(["report", str(run_id), "--out", str(tmp_path / "a"), "--format", "json"]) == 0
    assert main(["report", "--out", str(tmp_path / "b"), str(run_id), "--format", "json"]) == 0
    assert main(["report", "--run", str(run_id), "--out", str(tmp_path / "c"), "--format", "json"]) == 0
    scopes = [json.loads((tmp_path / d / "report.json").read_text())["scope"] for d in "abc"]
    assert scopes[0]["run_id"] == run_id and scopes[0] == scopes[1] == scopes[2]
    assert main(["report", "--out", str(tmp_path / "d"), "--format", "json"]) == 0
    assert json.loads((tmp_path / "d" / "report.json").read_text())["scope"]["run_id"] is None
