"""`profile` on the command line: console, HTML and JSON; sensitive values never shown (issue 12).

The planted database holds an NHS number in police free text (Location, a column the
mappings do not declare sensitive — the identifier scrubber must catch it), as a bare
10-digit value in Outcome, and in ISTV LocDesc (always masked); a password in
tblUser.Password (never read) and in tblUser.Email (tblUser free text: always masked).
Neither may appear in any output, while the shapes and examples of ordinary columns do.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.audit.conftest import CHECKS, NHS_NUMBER, PASSWORD
from tests.steps.conftest import cli

NO_TARGET = make_url("postgresql+psycopg2://postgres@127.0.0.1:5432/ss_no_target_for_profile")


def test_profile_outputs_mask_sensitive_values(planted_sqlite: Path, tmp_path: Path) -> None:
    html, js = tmp_path / "profile.html", tmp_path / "profile.json"
    proc = cli(["profile", "users", "mps_crime", "istv_assault", "--html", str(html), "--json", str(js)],
               planted_sqlite, NO_TARGET, env_extra={"SAFESTATS_CHECKS_DIR": str(CHECKS)})
    assert proc.returncode == 0, proc.stderr
    console = proc.stdout + proc.stderr
    outputs = {"console": console, "html": html.read_text(encoding="utf-8"), "json": js.read_text(encoding="utf-8")}
    for name, text in outputs.items():
        for secret in (NHS_NUMBER, NHS_NUMBER.replace(" ", ""), PASSWORD):
            assert secret not in text, f"{secret!r} appears in the {name} output"
    data = json.loads(outputs["json"])
    assert data["schema_version"] == 1
    # ordinary columns still show their shapes and (scrubbed) examples: the masking is not blanket
    mps = next(t for s in data["stages"] for t in s["tables"] if t["table"] == "tblMPSCrime")
    date = next(c for c in mps["columns"] if c["column"] == "CommittedDate")
    shapes = {s["shape"]: s for s in date["shapes"]}
    assert "99/99/9999" in shapes and "9/9/9999" in shapes
    assert "9/3/2010" in shapes["9/9/9999"]["examples"]
    assert "9/3/2010" in outputs["html"]
    # the sensitive columns: counts and shapes only
    user = next(t for s in data["stages"] for t in s["tables"] if t["table"] == "tblUser")
    assert "Password" in user["not_read"] and all(c["column"] != "Password" for c in user["columns"])
    email = next(c for c in user["columns"] if c["column"] == "Email")
    assert not email["examples_shown"] and "top_values" not in email and all(not s["examples"] for s in email["shapes"])
    istv = next(t for s in data["stages"] for t in s["tables"] if t["table"] == "tblISTVAssault")
    loc = next(c for c in istv["columns"] if c["column"] == "LocDesc")
    assert not loc["examples_shown"]
    # the predictions are there, per stage and reason
    assert {s["stage"] for s in data["stages"]} == {"users", "mps_crime", "istv_assault"}
    assert any(k.startswith("quarantine:UNKNOWN_HOSPITAL") for s in data["stages"] for k in s["predicted"])
    assert "Predictions" in console


def test_profile_json_to_stdout(planted_sqlite: Path) -> None:
    proc = cli(["profile", "boroughs", "--json", "-"], planted_sqlite, NO_TARGET,
               env_extra={"SAFESTATS_CHECKS_DIR": str(CHECKS)})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["stages"][0]["predicted"] == {"filter:PSEUDO_AREA": 2, "load": 33}


def test_profile_unknown_stage_is_a_usage_error(planted_sqlite: Path) -> None:
    proc = cli(["profile", "no_such_stage"], planted_sqlite, NO_TARGET)
    assert proc.returncode == 2, proc.stderr
    assert "unknown stage" in proc.stderr


def test_profile_sample_reads_only_the_first_rows(planted_sqlite: Path) -> None:
    proc = cli(["profile", "mps_crime", "--sample", "500", "--json", "-"], planted_sqlite, NO_TARGET,
               env_extra={"SAFESTATS_CHECKS_DIR": str(CHECKS)})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["sample"] == 500 and any("sampled" in n for n in data["notes"])
    mps = data["stages"][0]["tables"][0]
    assert mps["rows"] == 500 and sum(data["stages"][0]["predicted"].values()) == 500
