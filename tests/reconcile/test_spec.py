"""Check files: typed, every problem reported with file:line, references checked against the
stage's mapping and the target model (no database needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from migration.mapping.order import parsed_specs as load_specs
from migration.reconcile.spec import CheckFileError, load_check_file, load_checks
from tests.reconcile.conftest import CHECKS
from tests.steps.conftest import REPO

STAGES = {s.stage: s for s in load_specs(REPO / "mappings")}


def test_the_shipped_check_files_are_valid_and_cover_every_stage() -> None:
    checks = load_checks(CHECKS, STAGES)
    assert set(checks) == set(STAGES)
    assert any(c.leaks.patient_identifiers for c in checks.values())
    assert all(c.leaks.passwords for c in checks.values())
    money = [ct for c in checks.values() for ct in c.control_totals if "sum(notional_cost)" in ct.measures]
    assert money, "LFB money must have a control total"


def _write(tmp_path: Path, name: str, body: str) -> Path:
    d = tmp_path / "checks"
    d.mkdir(exist_ok=True)
    (d / name).write_text(body, encoding="utf-8")
    return d


def _problems(directory: Path) -> list[str]:
    with pytest.raises(CheckFileError) as err:
        load_checks(directory, STAGES)
    return err.value.problems


def test_an_unknown_key_is_reported_with_file_and_line(tmp_path: Path) -> None:
    d = _write(tmp_path, "mps.yaml", """\
stage: mps_crime
control_totals:
  - name: by_month
    table: core.incident
    meassures: [count]
""")
    problems = _problems(d)
    assert any(p.startswith(f"{d / 'mps.yaml'}:5: control_totals[0].meassures: unknown key 'meassures'")
               for p in problems), problems
    assert any(":3: control_totals[0].measures: missing required key 'measures'" in p for p in problems), problems


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    # a.yaml is well typed, so its references are checked; b.yaml and c.yaml break the types
    d = _write(tmp_path, "a.yaml", """\
stage: mps_crime
control_totals:
  - name: t1
    table: core.fire_incident
    measures: [count]
leaks:
  patient_identifiers: [istv.ed_assault.no_such_column]
expectations:
  - name: s
    table: core.incident
    expect:
      - rows: {name: r, sql: "SELECT 1"}
      - rows: {name: q, sql: "SELECT * FROM {batch} WHERE x ~ '[0-9]{3}'"}
      - not_null: [nope]
""")
    _write(tmp_path, "b.yaml", """\
stage: lfb_incident
control_totals:
  - name: t2
    table: core.incident
    measures: [count, median(occurred_at)]
  - name: t3
    table: core.incident
    measures: [count]
    tolerances: [{measure: sum(first_pump_secs), abs: 1, reason: because we can}]
expectations:
  - name: s
    table: core.incident
    expect:
      - {not_null: [source_ref], unique: [source_ref]}
""")
    _write(tmp_path, "c.yaml", "stage: no_such_stage\nquarantine_rate: {default: {warn: 0.5, fail: 0.1}}\n")
    text = "\n".join(_problems(d))
    for expected in (
        "a.yaml:4: control_totals[0].table: stage mps_crime does not write 'core.fire_incident'",
        "a.yaml:7: leaks.patient_identifiers[0]: 'istv.ed_assault.no_such_column' is not schema.table.column",
        "a.yaml:12: expectations[0].expect[0].rows.sql: the query must read FROM {batch}",
        "a.yaml:13: expectations[0].expect[1].rows.sql: braces other than {batch} are not allowed",
        "a.yaml:14: expectations[0].expect[2]: core.incident has no column 'nope'",
        "b.yaml:5: control_totals[0].measures: 'median(occurred_at)' is not a measure",
        "b.yaml:6: control_totals[1]: tolerance for 'sum(first_pump_secs)', which is not among the measures",
        "b.yaml:14: expectations[0].expect[0]: an expectation is exactly one of not_null, in_set, unique, between, rows",
        "c.yaml:2: quarantine_rate.default: warn must not be above fail",
    ):
        assert expected in text, f"{expected!r} not in\n{text}"


def test_references_are_checked_against_the_mapping_and_the_model(tmp_path: Path) -> None:
    d = _write(tmp_path, "x.yaml", """\
stage: mps_crime
control_totals:
  - name: t
    table: core.incident
    by: [parent.gss_code, month(nowhere)]
    measures: [sum(source_ref), count_true(gss_code), min(dq_flags)]
""")
    text = "\n".join(_problems(d))
    assert "x.yaml:5: control_totals[0].by[0]: core.incident has no parent table" in text, text
    assert "x.yaml:5: control_totals[0].by[1]: core.incident has no column nowhere" in text, text
    assert "sum() needs a number column; source_ref is text" in text
    assert "count_true() needs a boolean column; gss_code is text" in text
    assert "min() needs a number, date or time; dq_flags is text[]" in text


def test_two_files_for_one_stage_are_refused(tmp_path: Path) -> None:
    d = tmp_path / "checks"
    shutil.copytree(CHECKS, d)
    shutil.copy(d / "50_mps_crime.yaml", d / "51_again.yaml")
    assert any("51_again.yaml:" in p and "already has a check file" in p for p in _problems(d))


def test_a_file_that_is_not_yaml_is_reported_not_raised(tmp_path: Path) -> None:
    d = _write(tmp_path, "bad.yaml", "stage: [unclosed\n")
    lc = load_check_file(d / "bad.yaml")
    assert lc.spec is None and "YAML syntax" in str(lc.problems[0])
