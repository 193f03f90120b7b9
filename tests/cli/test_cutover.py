"""`cutover` (the go/no-go checklist) and `cutover freeze`, end to end on a tiny generated legacy.

One walk through the transition, because each item of the checklist is the state the
previous steps left: refused for each unmet item, then green, then refused again once the
legacy moved after the freeze."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from migration.cli import main

REPO = Path(__file__).resolve().parents[2]


def _items(out: str) -> dict[str, dict[str, Any]]:
    return {i["item"]: i for i in json.loads(out)["items"]}


@pytest.mark.postgres
@pytest.mark.slow
def test_cutover_is_refused_for_each_unmet_item_then_green(module_pg: Any, legacy: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # reports/ is relative to the working folder
    monkeypatch.setenv("COLUMNS", "200")  # the checks' evidence is read from the tables: no folding
    src = tmp_path / "legacy.sqlite"
    shutil.copy(legacy, src)
    url = module_pg.create("ss_cutover").render_as_string(hide_password=False)
    base = ["--mappings", str(REPO / "mappings"), "--checks", str(REPO / "checks"), "--target", url,
            "--source", f"sqlite:///{src}"]

    def call(*args: str) -> tuple[int, str, str]:
        code = main([*base, *args])
        out, err = capsys.readouterr()
        return code, out, err

    def decide_all() -> None:
        code, out, err = call("status", "--json", "--no-lag")
        assert code == 0, err
        for stage in sorted({q["stage"] for q in json.loads(out)["quarantine"]["by_reason"]
                             if q["decision"] == "undecided" and q["open"]}):
            code, _out, err = call("quarantine", "decide", "--stage", stage, "--as", "accept-loss", "--note",
                                   "reviewed with the data owner", "--by", "QA")
            assert code == 0, err

    assert call("schema", "upgrade")[0] == 0
    code, out, err = call("cutover", "--json")
    assert code == 1 and "no-go" in err
    items = _items(out)
    assert not items["every stage loaded and reconciled"]["ok"]
    assert "INCOMPLETE" in items["every stage loaded and reconciled"]["evidence"]
    assert not items["freeze recorded"]["ok"] and not items["final delta after the freeze"]["ok"]
    assert not items["report after the last run, check or decision"]["ok"]

    assert call("run", "--all")[0] == 0
    code, out, _err = call("cutover", "--json")
    items = _items(out)
    assert code == 1 and items["every stage loaded and reconciled"]["ok"] and items["preflight green"]["ok"]
    assert not items["no undecided quarantine"]["ok"]  # the load quarantined rows nobody decided about yet

    code, _out, err = call("cutover", "freeze")
    assert code == 0 and "freeze recorded" in err
    decide_all()
    code, out, _err = call("cutover", "--json")
    items = _items(out)
    assert code == 1 and items["freeze recorded"]["ok"] and items["legacy unchanged since the freeze"]["ok"]
    assert not items["final delta after the freeze"]["ok"] and "run --delta" in items["final delta after the freeze"][
        "evidence"]

    assert call("run", "--delta", "--all")[0] == 0
    assert call("reconcile", "--all")[0] == 0
    decide_all()  # a delta may quarantine a row again: a new record, undecided
    code, out, _err = call("cutover", "--json")
    items = _items(out)
    assert code == 1 and [n for n, i in items.items() if not i["ok"]] == [
        "report after the last run, check or decision"]

    assert call("report")[0] == 0
    # preflight red (a check file broken): the one unmet item, and go refuses on it
    broken = tmp_path / "checks-broken"
    shutil.copytree(REPO / "checks", broken)
    first = sorted(broken.glob("*.yaml"))[0]
    first.write_text(first.read_text() + "\n  - this: [is not valid\n")
    code = main([*base[:2], "--checks", str(broken), *base[4:], "cutover", "--json"])
    out, err = capsys.readouterr()
    items = _items(out)
    assert code == 1 and [n for n, i in items.items() if not i["ok"]] == ["preflight green"], items
    assert items["preflight green"]["evidence"].startswith("preflight NOT READY: check files:")
    assert f"{first.name}:" in items["preflight green"]["evidence"]
    code = main([*base[:2], "--checks", str(broken), *base[4:], "cutover", "go", "--yes"])
    _out, err = capsys.readouterr()
    assert code == 1 and "no-go" in err and "preflight" in err, err
    code, out, err = call("cutover")
    assert code == 0, out + err
    assert "GO: every item is green" in err

    # the legacy moves after the freeze: a row deleted is a different key set; go is refused
    with sqlite3.connect(src) as db:
        row = db.execute('SELECT rowid, * FROM "tblMPSCrime" ORDER BY rowid DESC LIMIT 1').fetchone()
        db.execute('DELETE FROM "tblMPSCrime" WHERE rowid = ?', (row[0],))
    code, out, _err = call("cutover", "--json")
    items = _items(out)
    assert code == 1 and not items["legacy unchanged since the freeze"]["ok"]
    assert "tblMPSCrime rows" in items["legacy unchanged since the freeze"]["evidence"]
    assert "tblMPSCrime keys sha256" in items["legacy unchanged since the freeze"]["evidence"]
    code, _out, err = call("cutover", "go", "--yes")
    assert code == 1 and "no-go" in err and "the legacy moved" in err

    # the row back as it was: the legacy is as frozen again
    with sqlite3.connect(src) as db:
        db.execute(f'INSERT INTO "tblMPSCrime" (rowid, {", ".join(c[1] for c in db.execute("PRAGMA table_info(tblMPSCrime)"))}) '
                   f'VALUES ({", ".join("?" * len(row))})', row)
    code, _out, err = call("cutover", "go")  # not on a terminal (pytest's stdin): --yes is required
    assert code == 2 and "--yes" in err
    code, out, err = call("cutover", "go", "--yes")
    assert code == 0, err
    assert "GO recorded" in err and "row-level security as safestats_app" in out
    assert "disabled" in out or "nobody" in out

    # after the go nothing writes to or undoes anything in the target
    for args in (("run", "boroughs"), ("run", "--delta", "--all"), ("rollback", "boroughs"),
                 ("rollback", "--all", "--yes"), ("cutover", "go", "--yes")):
        code, _out, err = call(*args)
        assert code == 1 and "the cutover went ahead" in err, (args, err)
    code, out, err = call("cutover", "post-checks")
    assert code == 0, err

    # back-out after the go: refused once the application wrote a row, allowed while it has not
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    eng = create_engine(url, poolclass=NullPool)
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO sec.organisation (org_id, name, org_type, load_run_id) "
                          "SELECT max(org_id) + 1, 'written by the application', min(org_type), 999999 "
                          "FROM sec.organisation"))
    code, _out, err = call("rollback", "istv_assault", "--after-cutover")
    assert code == 1 and "rows no migration run wrote (sec.organisation 1)" in err
    with eng.begin() as conn:  # the test's own row goes (as superuser, past the append-only rules of the data)
        conn.execute(text("DELETE FROM sec.organisation WHERE load_run_id = 999999"))
    eng.dispose()
    code, _out, err = call("rollback", "istv_assault", "--after-cutover")
    assert code == 0, err
