"""`diagnose --out FILE` (issue 14): the bundle to send when calling someone — versions,
redacted settings, the plan, the lock holder, the last 200 events — with no password and no
row data, checked by planting both and scanning the file (real PostgreSQL and SQLite)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration.cli import main
from migration.console import RecordingConsole
from migration.ledger import Ledger, MigrationLock
from migration.plan.execute import Orchestrator
from migration.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
URL_PASSWORD = "PlantedUrlPw-7731"
ENV_PASSWORD = "PlantedEnvPw-9054"
SOURCE_PASSWORD = "PlantedSrcPw-4410"
ROW_DATA = "ROWDATA-CR-55120"  # a legacy key quoted by an error text in an event


def _url(u: URL) -> str:
    return u.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def target(module_pg: Any, legacy: Path) -> URL:
    from migration.schema import api

    url = module_pg.create("ss_diag")
    api.upgrade(url)
    settings = load_settings(cli={"source_url": f"sqlite:///{legacy}", "target_url": _url(url),
                                  "mappings_dir": str(REPO / "mappings")}, env={})
    runner = Orchestrator(settings, RecordingConsole())
    try:
        runner.run(["boroughs"])
    finally:
        runner.close()
    eng = create_engine(url, poolclass=NullPool)
    ledger = Ledger(eng)
    with eng.begin() as conn:
        run = ledger.new_run(conn, kind="full", mapping_hash=None, refdata_version=None, source_url=None,
                             options={"stage": "mps_crime"})
        # more events than the bundle holds; the last one quotes a legacy row in its error text
        for i in range(230):
            ledger.event(conn, run_id=run, stage="mps_crime", kind="chunk_note", detail={"chunk": i, "rows": 50})
        ledger.event(conn, run_id=run, stage="mps_crime", kind="stage_failed",
                     detail={"error": f"duplicate key: Key (crime_ref)=({ROW_DATA}) already exists",
                             "rows": 123, "counts": {"loaded": 100, "keys": [ROW_DATA]}})
    eng.dispose()
    return url


def _diagnose(monkeypatch: pytest.MonkeyPatch, target: URL, legacy: Path, out: Path) -> tuple[int, dict[str, Any], str]:
    # the passwords as an operator would set them: one in the URL, one in each *_PASSWORD variable
    with_pw = target.set(password=URL_PASSWORD)
    monkeypatch.setenv("SAFESTATS_TARGET_URL", _url(with_pw))
    monkeypatch.setenv("SAFESTATS_TARGET_PASSWORD", ENV_PASSWORD)
    monkeypatch.setenv("SAFESTATS_SOURCE_URL", f"sqlite:///{legacy}")
    monkeypatch.setenv("SAFESTATS_SOURCE_PASSWORD", SOURCE_PASSWORD)
    code = main(["--mappings", str(REPO / "mappings"), "--checks", str(REPO / "checks"), "diagnose", "--out", str(out)])
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    return code, (json.loads(text) if text else {}), text


def test_diagnose_bundle_holds_versions_settings_plan_lock_and_the_last_200_events_without_secrets(
        target: URL, legacy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bundle" / "diag.json"
    eng = create_engine(target, poolclass=NullPool)
    with MigrationLock(eng, "run --all (diagnose test holder)"):
        code, doc, text = _diagnose(monkeypatch, target, legacy, out)
    eng.dispose()
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"diagnostic bundle written to {out}" in printed.out + printed.err
    for secret in (URL_PASSWORD, ENV_PASSWORD, SOURCE_PASSWORD):
        assert secret not in text and secret not in printed.out + printed.err
    assert ROW_DATA not in text, "an event's text (row data) reached the bundle"

    assert doc["versions"]["safestats-migration"] and doc["versions"]["python"]
    assert doc["environment"]["SAFESTATS_TARGET_PASSWORD"] == "(set)"
    assert doc["environment"]["SAFESTATS_SOURCE_PASSWORD"] == "(set)"
    assert "***" in doc["settings"]["target_url"] and target.database in doc["settings"]["target_url"]
    assert doc["target"]["schema"]["up_to_date"] is True and doc["target"]["server"].startswith("PostgreSQL")
    assert [s["stage"] for s in doc["plan"]["stages"]][:2] == ["boroughs", "areas"]
    assert doc["plan"]["stages"][0]["state"] == "reconciled"
    assert doc["lock_holder"]["command"] == "run --all (diagnose test holder)"
    events = doc["events"]
    assert len(events) == 200 and [e["event_id"] for e in events] == sorted(e["event_id"] for e in events)
    last = events[-1]
    assert last["kind"] == "stage_failed" and last["stage"] == "mps_crime"
    # numbers stay, text goes, and the names of what went are listed
    assert last["detail"] == {"rows": 123, "counts": {"loaded": 100, "omitted": ["keys"]}, "omitted": ["error"]}
    assert doc["runs"] and doc["runs"][-1]["kind"] == "full"


def test_diagnose_writes_a_bundle_even_when_the_target_is_down(tmp_path: Path, legacy: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "diag.json"
    monkeypatch.setenv("SAFESTATS_TARGET_URL", f"postgresql+psycopg2://nobody:{URL_PASSWORD}@127.0.0.1:1/none")
    monkeypatch.delenv("SAFESTATS_TARGET_PASSWORD", raising=False)
    monkeypatch.setenv("SAFESTATS_SOURCE_URL", f"sqlite:///{legacy}")
    code = main(["--mappings", str(REPO / "mappings"), "--checks", str(REPO / "checks"), "diagnose", "--out", str(out)])
    text = out.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert code == 0
    assert URL_PASSWORD not in text
    assert "unavailable" in doc["target"] and "unavailable" in doc["lock_holder"]
    assert doc["versions"]["safestats-migration"] and doc["events"] == []
