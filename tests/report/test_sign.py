"""`report sign`: a sign-off record in the ledger, refused while the migration is not signable."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from migration.cli import main
from tests.report.conftest import add_check, pass_everything


def _signatures(eng: Any) -> list[Any]:
    with eng.connect() as c:
        return list(c.execute(text("SELECT name, role, actor, report_sha256, verdict, incomplete "
                                   "FROM ledger.signature ORDER BY signature_id")))


def _decide_everything(eng: Any) -> None:
    with eng.begin() as c:
        c.execute(text("INSERT INTO ledger.quarantine_decision (decision, note, actor, record_count, quarantine_ids) "
                       "SELECT 'accept-loss', 'reviewed with the data owner', 'dpo@box', count(*), "
                       "array_agg(quarantine_id) FROM ledger.quarantine_open"))


def test_sign_refuses_undecided_quarantine_and_a_failing_verdict_unless_incomplete(
        loaded_url: URL, engine_of: Any, tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("SAFESTATS_TARGET_URL", loaded_url.render_as_string(hide_password=False))
    monkeypatch.chdir(tmp_path)  # the reports folder defaults to reports/ in the working folder
    eng = engine_of(loaded_url)
    run = pass_everything(eng)
    assert main(["report", "--out", str(tmp_path / "pass"), "--check"]) == 0
    digest = hashlib.sha256((tmp_path / "pass" / "report.json").read_bytes()).hexdigest()
    capsys.readouterr()

    # the loaded target has open quarantine nobody decided about: refused (1), nothing recorded
    assert main(["report", "sign", str(tmp_path / "pass"), "--as", "QA", "--name", "Ann Smith"]) == 1
    assert "undecided" in capsys.readouterr().err and _signatures(eng) == []
    # --incomplete signs, and the signature says so
    assert main(["report", "sign", str(tmp_path / "pass"), "--as", "QA", "--name", "Ann Smith", "--incomplete"]) == 0
    ((name, role, actor, sha, verdict, incomplete),) = _signatures(eng)
    assert (name, role, sha, verdict, incomplete) == ("Ann Smith", "QA", digest, "PASS", True) and "@" in actor

    _decide_everything(eng)
    assert main(["report", "sign", str(tmp_path / "pass"), "--as", "QA", "--name", "Ann Smith"]) == 0
    assert _signatures(eng)[-1][3:] == (digest, "PASS", False)
    out = capsys.readouterr()
    assert "not a cryptographic signature" in out.out + out.err

    # a failing verdict is refused too; the default folder is the newest report
    add_check(eng, run, "codes", "key_set", "fail", "1 code missing")
    assert main(["report", "--out", str(tmp_path / "reports" / "later")]) == 0
    capsys.readouterr()
    assert main(["report", "sign", "--as", "QA", "--name", "Ann Smith"]) == 1
    assert "verdict is FAIL" in capsys.readouterr().err and len(_signatures(eng)) == 2

    # the next report lists the sign-offs and says what a signature is
    assert main(["report", "--out", str(tmp_path / "after"), "--format", "md,html"]) == 0
    md = (tmp_path / "after" / "report.md").read_text()
    signoff = md.split("## Sign-off\n", 1)[1]
    assert "not a cryptographic signature" in signoff and signoff.count("Ann Smith (QA") == 2
    assert "as INCOMPLETE" in signoff and digest in signoff.replace("\n  ", " ").replace("\n", "")
    assert "not a cryptographic signature" in (tmp_path / "after" / "report.html").read_text()

    # usage: no such folder → 2; the book is append-only
    assert main(["report", "sign", str(tmp_path / "nosuch"), "--as", "QA", "--name", "X"]) == 2
    with pytest.raises(DBAPIError), eng.begin() as c:
        c.execute(text("UPDATE ledger.signature SET name = 'Someone Else'"))
