"""`mappings validate`: every mistake of the broken corpus found, with its file, line and path.

Each file of ``tests/mapping/broken/`` is validated on its own; the problems reported for
it must be exactly the expected ones (line, field path and message), so a check that
fires on the wrong line or drags other problems along fails here.  Problems about the
whole set (a DATA table no stage writes) are reported against the folder, not the file,
and are tested on their own.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from sqlalchemy.engine import make_url

from migration.cli import main
from migration.db.catalog import SourceCatalog
from migration.errors import MappingError
from migration.mapping import transforms
from migration.mapping.loader import Problem
from migration.mapping.transforms.base import Transform
from migration.mapping.validate import ValidationReport, language_schema, load_specs, validate
from migration.plan.lineage import lineage
from migration.schema import models

BROKEN = Path(__file__).parent / "broken"
REFDATA = BROKEN / "refdata"
REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "mappings"
LAS_VALID = BROKEN / "las_valid.yaml"
CODES_VALID = BROKEN / "duplicate_stage" / "a_codes.yaml"

#: file (or folder) → every problem it must report: (file in it, line, field path, message part)
CASES: dict[str, list[tuple[str, int, str, str]]] = {
    "yaml_syntax.yaml": [
        ("", 9, "", "YAML syntax: expected ',' or ']'"),
    ],
    "unknown_key.yaml": [
        ("", 18, 'tables[0].targets["ref.code_value"].columns.label.coment', "unknown key 'coment'"),
    ],
    "unknown_transform.yaml": [
        ("", 15, 'tables[0].targets["ref.code_value"].columns.label.via[0]',
         "unknown transform 'clean_txt' (did you mean 'clean_text'?)"),
    ],
    "bad_parameter_value.yaml": [
        ("", 17, 'tables[0].targets["ref.code_value"].columns.code_system.via[0].clean_text.case',
         "transform 'clean_text', parameter 'case': Input should be 'keep' or 'upper'"),
    ],
    "bad_parameter_name.yaml": [
        ("", 15, "tables[0].derive.code.params.widht",
         "transform 'zero_pad' has no parameter 'widht' (did you mean 'width'?); it takes width"),
    ],
    "las_wrong_arg_count.yaml": [
        ("", 15, "tables[0].derive.borough.args", "transform 'borough_gss' takes 2 inputs (text, ward_code), got 1"),
    ],
    "unknown_source_column.yaml": [
        ("", 8, "tables[0].source.columns[2]", "legacy column 'Descr' of tblLookupCode is not accounted for"),
        ("", 15, 'tables[0].targets["ref.code_value"].columns.label.from',
         "unknown source column 'Description': not in source.columns of tblLookupCode (did you mean 'Descr'?)"),
    ],
    "dropped_column_used.yaml": [
        ("", 17, 'tables[0].targets["ref.code_value"].columns.label.from',
         "column 'Descr' is dropped (personal_data.drop) and never extracted"),
    ],
    "unknown_target_column.yaml": [
        ("", 16, 'tables[0].targets["ref.code_value"].columns.colour', "unknown column 'colour' of ref.code_value"),
    ],
    "unknown_target_table.yaml": [
        ("", 11, 'tables[0].targets["ref.code_values"]',
         "unknown target table 'ref.code_values' (did you mean 'ref.code_value'?)"),
    ],
    "unmapped_target_column.yaml": [
        ("", 12, 'tables[0].targets["ref.code_value"].columns',
         "target column ref.code_value.label is not mapped: map it with `from`, or give it a `const` or an "
         "explicit `default`"),
    ],
    "derive_cycle.yaml": [
        ("", 11, "tables[0].derive.padded", "derive cycle: padded → cleaned → padded"),
    ],
    "stage_cycle": [
        ("batches.yaml", 4, "depends_on[0]", "stage dependency cycle: batches → codes → batches"),
    ],
    "unknown_depends_on.yaml": [
        ("", 4, "depends_on[0]", "unknown stage 'reference' in depends_on"),
    ],
    "duplicate_stage": [
        ("b_codes_again.yaml", 2, "stage", "stage 'codes' is already defined in "),
    ],
    "table_twice_in_stage.yaml": [
        ("", 18, "tables[1].source.table", "legacy table tblLookupCode is already mapped by this stage ("),
    ],
    "las_reject_in_via.yaml": [
        ("", 30, 'tables[0].targets["core.incident"].columns.occurred_at.via[0]',
         "transform 'london_datetime' can reject rows, and rejects inside a `via` chain are lost"),
    ],
    "las_reject_unhandled.yaml": [
        ("", 15, "tables[0].derive.borough",
         "derive 'borough' (transform borough_gss) can reject a row, but no quarantine or filter rule names it"),
    ],
    "las_flags_without_flags.yaml": [
        ("", 39, 'tables[0].targets["core.incident"].columns.dq_flags.flags[4]',
         "derive 'category' (transform clean_text) has no flags output"),
    ],
    "las_unknown_lookup.yaml": [
        ("", 31, 'tables[0].targets["core.incident"].columns.batch_id.from',
         "unknown reference 'batch.batch_id': no derive or lookup named 'batch' (did you mean 'batches'?)"),
    ],
    "las_unknown_lookup_table.yaml": [
        ("", 14, "tables[0].lookups.batch.table",
         "unknown lookup table 'ref.import_batches' (did you mean 'ref.import_batch'?)"),
    ],
    "las_unknown_output.yaml": [
        ("", 37, 'tables[0].targets["core.incident"].columns.location_precision.from',
         "derive 'grid' (transform gridref_point) has no output 'accuracy'; its outputs: value, precision, flags"),
    ],
    "las_bad_link.yaml": [
        ("", 40, 'tables[0].targets["core.ambulance_assault"].link',
         "link 'core.incidents' must name an earlier target of this table mapping (did you mean 'core.incident'?)"),
    ],
    "las_type_mismatch.yaml": [
        ("", 36, 'tables[0].targets["core.incident"].columns.geom.via[0]',
         "transform 'clean_text' gives text; core.incident.geom is geometry(POINT,27700)"),
    ],
    "derived_key_duplicates.yaml": [
        ("", 16, "tables[0].derive.label.args[0]",
         "the business key is computed after the derives (a key part is a derive output), so no derive can "
         "read `key`"),
    ],
    "partition_not_text.yaml": [
        ("", 12, "tables[0].duplicates.partition[0]",
         "'number.value': a duplicate group is made of legacy columns or derive outputs of type text"),
    ],
    "unaccounted_column.yaml": [
        ("", 8, "tables[0].source.columns[2]",
         "legacy column 'Descr' of tblLookupCode is not accounted for: map it, drop it (personal_data.drop) "
         "or list it under not_migrated with the reason"),
    ],
    "python_only_outside_scrub.yaml": [
        ("", 11, "tables[0].derive.label.transform",
         "transform 'test_python_only' runs only in Python while rows are extracted: use it under "
         "personal_data.scrub"),
    ],
    "scrub_not_python_only.yaml": [
        ("", 10, "tables[0].personal_data.scrub.Descr", "transform 'clean_text' is not a scrubber (python_only)"),
    ],
    "bad_seed.yaml": [
        ("", 5, "seeds[0].file", "seed file code_list.csv not found in "),
        ("", 10, "seeds[1].columns.label", "seed file codes.csv has no column 'descr'; its header: system, code, label"),
    ],
    "several_mistakes.yaml": [
        ("", 4, "depends_on[0]", "unknown stage 'reference' in depends_on"),
        ("", 12, 'tables[0].targets["ref.code_value"].columns', "missing required key 'columns'"),
        ("", 13, 'tables[0].targets["ref.code_value"].colums', "unknown key 'colums'"),
        ("", 18, "tables[1].source.columns[1]", "legacy column 'Dataset' of tblImportLog is not accounted for"),
        ("", 18, "tables[1].source.columns[2]", "legacy column 'FileName' of tblImportLog is not accounted for"),
        ("", 18, "tables[1].source.columns[5]", "legacy column 'Status' of tblImportLog is not accounted for"),
        ("", 22, "tables[1].derive.rows.params.minimum",
         "transform 'int' has no parameter 'minimum' (did you mean 'min'?)"),
        ("", 24, "tables[1].quarantine[0].fields[1]", "'LoadDate' is not a legacy column of tblImportLog"),
        ("", 27, 'tables[1].targets["ref.import_batch"].columns', "target column ref.import_batch.dq_flags is not mapped"),
        ("", 28, 'tables[1].targets["ref.import_batch"].columns.batch_id.via[0]',
         "unknown transform 'integer' (did you mean 'int'?)"),
        ("", 29, 'tables[1].targets["ref.import_batch"].columns.dataset.from',
         "unknown source column 'DataSet': not in source.columns of tblImportLog (did you mean 'Dataset'?)"),
        ("", 30, 'tables[1].targets["ref.import_batch"].columns.file_name.from',
         "'row.name': row.<name> only exists in the columns of a target that explodes a list"),
        ("", 33, 'tables[1].targets["ref.import_batch"].columns.status.default',
         "ref.import_batch.status is NOT NULL; a default of null would fail the load"),
        ("", 34, 'tables[1].targets["ref.import_batch"].columns.flags',
         "unknown column 'flags' of ref.import_batch (did you mean 'dq_flags'?)"),
        ("", 35, 'tables[1].targets["ledger.run"]', "ledger.run is not a DATA table"),
    ],
}


class _PythonOnly(Transform):
    """Stands for a scrubber (python_only) so the corpus does not depend on the real one's name."""

    name = "test_python_only"
    summary = "test double of a python-only scrubber"
    python_only = True

    def py(self, p: Any, lookups: Any, value: Any) -> tuple[Any, ...]:
        return (value,)


@pytest.fixture(autouse=True)
def python_only_transform() -> Iterator[None]:
    transforms.REGISTRY["test_python_only"] = _PythonOnly()
    try:
        yield
    finally:
        transforms.REGISTRY.pop("test_python_only", None)


def _check(name: str) -> ValidationReport:
    return validate(BROKEN / name, refdata_dir=REFDATA)


def _file_problems(report: ValidationReport) -> list[Problem]:
    """Problems located in a file (not the set-level coverage of the folder)."""
    return [p for p in report.problems if p.line > 0]


# --------------------------------------------------------------------------- the corpus


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_broken_file_reports_exactly_its_mistakes(name: str) -> None:
    report = _check(name)
    got = _file_problems(report)
    expected = CASES[name]
    base = BROKEN / name
    for file, line, path, message in expected:
        where = str(base / file) if file else str(base)
        matches = [p for p in got if p.file == where and p.line == line and p.path == path and message in p.message]
        assert matches, f"expected {where}:{line}: {path}: …{message}… in\n" + "\n".join(map(str, got))
        text = str(matches[0])
        assert text.startswith(f"{where}:{line}: {path + ': ' if path else ''}"), text
    assert len(got) == len(expected), "unexpected problems:\n" + "\n".join(map(str, got))
    assert not report.ok
    with pytest.raises(MappingError) as err:
        report.raise_for_problems()
    assert len(err.value.problems) == len(report.problems)


def test_the_corpus_and_the_cases_agree() -> None:
    """Every broken file is checked by a case, and the valid template really is valid."""
    on_disk = {p.name for p in BROKEN.iterdir() if p.suffix == ".yaml" or (p.is_dir() and p.name != "refdata")}
    assert on_disk - {"las_valid.yaml"} == set(CASES)
    for valid in (LAS_VALID, CODES_VALID):
        report = validate(valid, refdata_dir=REFDATA)
        assert _file_problems(report) == [] and report.warnings == [], report.problems
        assert [s.stage for s in report.specs] == [valid.read_text().split("stage: ")[1].split()[0]]


def test_a_legacy_table_mapped_by_two_stages_is_a_warning() -> None:
    report = _check("duplicate_stage")
    again = BROKEN / "duplicate_stage" / "b_codes_again.yaml"
    assert [str(w) for w in report.warnings] == [
        f"{again}:7: tables[0].source.table: legacy table tblLookupCode is also mapped by stage 'codes' "
        f"({BROKEN / 'duplicate_stage' / 'a_codes.yaml'}:7): each of its rows is counted, and may be "
        "quarantined, once per stage"]


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    report = _check("several_mistakes.yaml")
    got = _file_problems(report)
    # loader problems (unknown key), semantic ones of the well-formed table, and set ones
    assert len(got) == 15
    lines = [p.line for p in got]
    assert lines == sorted(lines)  # reported in file order
    kinds = {"unknown key", "unknown transform", "unknown source column", "unknown column", "not mapped",
             "has no parameter", "not a DATA table", "unknown stage", "not accounted for", "NOT NULL", "row.<name>"}
    for kind in kinds:
        assert any(kind in p.message for p in got), kind


def test_a_whole_folder_reports_every_file_and_the_coverage() -> None:
    report = validate(BROKEN, refdata_dir=REFDATA)
    files = {Path(p.file).name for p in report.problems if p.line > 0}
    # every broken top-level file contributes (the folders are checked on their own)
    top = {name for name in CASES if name.endswith(".yaml")}
    assert top <= files
    assert "las_valid.yaml" not in files or all(
        "already mapped" in p.message or "already defined" in p.message or "already owned" in p.message
        for p in report.problems if Path(p.file).name == "las_valid.yaml")
    # the YAML syntax error hides its file's stage, so the coverage is not claimed
    assert any("coverage of the target tables not checked" in w.message for w in report.warnings)


def test_coverage_names_every_data_table_no_stage_writes(tmp_path: Path) -> None:
    (tmp_path / "las.yaml").write_text(LAS_VALID.read_text(encoding="utf-8"), encoding="utf-8")
    report = validate(tmp_path)
    set_level = [p for p in report.problems if p.line == 0]
    assert len(set_level) == len(report.problems)
    written = {"core.incident", "core.ambulance_assault"}
    assert {p.path for p in set_level} == {t.fullname for t in models.DATA_TABLES} - written
    p = next(p for p in set_level if p.path == "sec.access_grant")
    assert str(p) == (f"{tmp_path}:0: sec.access_grant: no stage writes the DATA table sec.access_grant; "
                      "map a legacy table or seed to it")
    # given files are a set of their own: coverage is claimed for a folder only
    assert validate([tmp_path / "las.yaml"]).problems == []


def test_reading_a_reference_table_needs_the_stage_that_writes_it(tmp_path: Path) -> None:
    """borough_gss reads ref.la_alias: the stage must depend on the stage loading it."""
    (tmp_path / "10_alias.yaml").write_text(
        "stage: alias\ntitle: Borough aliases\nseeds:\n"
        "  - file: alias.csv\n    target: ref.la_alias\n"
        "    columns: {alias_norm: alias, gss_code: gss, flag: flag}\n", encoding="utf-8")
    (tmp_path / "20_las.yaml").write_text(LAS_VALID.read_text(encoding="utf-8"), encoding="utf-8")
    refdata = tmp_path / "refdata"
    refdata.mkdir()
    (refdata / "alias.csv").write_text("alias,gss,flag\nCAMDEN,E09000007,\n", encoding="utf-8")
    report = validate(tmp_path, refdata_dir=refdata)
    got = [str(p) for p in _file_problems(report)]
    assert got == [f"{tmp_path / '20_las.yaml'}:15: tables[0].derive.borough.params: transform 'borough_gss' "
                   "reads ref.la_alias is loaded by stage 'alias', which stage 'las' does not depend on; "
                   "add it to depends_on"]
    text = (tmp_path / "20_las.yaml").read_text(encoding="utf-8").replace("dataset: LAS", "dataset: LAS\ndepends_on: [alias]")
    (tmp_path / "20_las.yaml").write_text(text, encoding="utf-8")
    assert _file_problems(validate(tmp_path, refdata_dir=refdata)) == []


def test_seeds_give_every_column_an_insert_needs(tmp_path: Path) -> None:
    (tmp_path / "seeds.yaml").write_text(
        "stage: seeds\ntitle: Seeds\nseeds:\n"
        "  - file: codes.csv\n    target: ref.code_value\n    columns: {code_system: system, code: code}\n"
        "  - file: codes.csv\n    target: ref.offence_category\n"
        "    columns: {scheme: system, code: code, label: label}\n", encoding="utf-8")
    report = validate(tmp_path, refdata_dir=REFDATA)
    f = tmp_path / "seeds.yaml"
    assert [str(p) for p in _file_problems(report)] == [
        f"{f}:6: seeds[0].columns: ref.code_value needs label (NOT NULL, no default); map them to CSV columns"]
    assert [str(w) for w in report.warnings] == [
        f"{f}:9: seeds[1].columns: ref.offence_category: parent_id, ho_code, police_uk_category, violent, retired "
        "not in the seed, nor mapped by any table; they get NULL or the column default"]


# --------------------------------------------------------------------------- the live source


def _legacy_sqlite(path: Path) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE tblLookupCode (CodeType VARCHAR(20), Code VARCHAR(10), Remark VARCHAR(50))")
    conn.execute("INSERT INTO tblLookupCode VALUES ('LAS_CATEGORY', '1', 'x')")
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def test_the_live_source_is_compared_with_source_columns(tmp_path: Path) -> None:
    url = make_url(_legacy_sqlite(tmp_path / "legacy.db"))
    report = validate([CODES_VALID, LAS_VALID], source=SourceCatalog(url))
    assert report.source_checked
    got = [str(p) for p in _file_problems(report)]
    assert got == [
        f"{CODES_VALID}:9: tables[0].source.columns: the source table tblLookupCode has a column Remark that "
        "source.columns does not declare (schema drift): declare it, then map it or list it under not_migrated",
        f"{CODES_VALID}:9: tables[0].source.columns[2]: column Descr does not exist in tblLookupCode of the "
        "source database (schema drift)",
        f"{LAS_VALID}:7: tables[0].source.table: legacy table tblLASAssault does not exist in the source "
        f"database sqlite:///{tmp_path / 'legacy.db'}",
    ]
    # offline, the same files have no file-level problem
    assert _file_problems(validate([CODES_VALID, LAS_VALID])) == []


def test_an_unreachable_source_is_a_source_error(tmp_path: Path) -> None:
    from migration.errors import SourceError

    with pytest.raises(SourceError, match="does not exist"):
        validate(CODES_VALID, source=SourceCatalog(make_url(f"sqlite:///{tmp_path / 'missing.db'}")))


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SAFESTATS_SOURCE_URL", "SAFESTATS_TARGET_URL", "SAFESTATS_CONFIG", "SAFESTATS_MAPPINGS_DIR",
                 "SAFESTATS_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("_clean_env")
def test_cli_validate_prints_every_problem_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a file is checked among its neighbours: alone in a folder, its depends_on is unknown
    target = tmp_path / "several_mistakes.yaml"
    target.write_text((BROKEN / "several_mistakes.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["mappings", "validate", str(target)]) == 1
    cap = capsys.readouterr()
    lines = [line for line in cap.out.splitlines() if line.startswith(str(target))]
    assert len(lines) == 15
    assert f"{target}:28: tables[1].targets[\"ref.import_batch\"].columns.batch_id.via[0]: unknown transform " \
           "'integer' (did you mean 'int'?)" in lines
    assert "problem(s)" in cap.err


@pytest.mark.usefixtures("_clean_env")
def test_cli_validate_uses_the_configured_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _legacy_sqlite(tmp_path / "legacy.db")
    assert main(["--source", url, "mappings", "validate", str(CODES_VALID)]) == 1
    out = capsys.readouterr().out
    assert "column Descr does not exist in tblLookupCode" in out
    # one file is checked among its neighbours; only its own problems are printed
    assert main(["--source", url, "mappings", "validate", "--offline", str(CODES_VALID)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["mappings", "validate", str(CODES_VALID.parent / "b_codes_again.yaml")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ", 2)[1] for line in lines] == ["stage"]


@pytest.mark.usefixtures("_clean_env")
def test_cli_validate_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--mappings", str(tmp_path / "nowhere"), "mappings", "validate"]) == 1
    assert "nowhere:0: no such file or directory" in capsys.readouterr().out


@pytest.mark.usefixtures("_clean_env")
def test_cli_show_prints_the_lineage_of_one_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--log-json", "--mappings", str(BROKEN / "stage_cycle"), "mappings", "show", "TBLIMPORTLOG"]) == 0
    cap = capsys.readouterr()
    records = [json.loads(line) for line in cap.err.splitlines() if line.startswith("{")]
    table = next(r for r in records if "rows" in r)
    assert table["columns"] == ["legacy column", "through", "target", "note"]
    rows = [tuple(r) for r in table["rows"]]
    assert ("LoadedOn", "london_datetime (loaded)", "ref.import_batch.loaded_at",
            "quarantine on london_datetime reject") in rows
    assert ("LoadedOn", "london_datetime (loaded.flags)", "ref.import_batch.dq_flags", "data-quality flags") in rows
    assert ("BatchID", "int", "ref.import_batch.batch_id", "source key; business key") in rows
    assert ("RowCount", "int (rows.flags)", "ref.import_batch.dq_flags", "data-quality flags") in rows
    assert any("problem(s)" in r["message"] for r in records if r["level"] == "warning")
    # an unknown legacy table is a usage error (DESIGN.md: unknown stage, reason, run or key → 2)
    assert main(["--mappings", str(BROKEN / "stage_cycle"), "mappings", "show", "tblImportLogg"]) == 2
    assert "no mapping file maps the legacy table 'tblImportLogg' (did you mean 'tblImportLog'?)" in capsys.readouterr().err


def test_lineage_accounts_for_every_legacy_column() -> None:
    specs = validate(LAS_VALID).specs
    lin = lineage(specs, "tbllasassault")
    by_col: dict[str, list[tuple[str, str]]] = {}
    for r in lin.rows:
        by_col.setdefault(r.legacy_column, []).append((r.through, r.target))
    assert set(by_col) - {""} == {"LASRef", "CallDT", "WardCode", "Borough", "GridRef", "Category", "AlcoholFlag",
                                  "UpdatedOn", "BatchID"}
    assert ("borough_gss (borough)", "core.incident.gss_code") in by_col["WardCode"]
    assert ("clean_text", "core.incident.ward_code") in by_col["WardCode"]
    assert ("business key", "core.incident.source_ref") in by_col["LASRef"]
    assert by_col["UpdatedOn"] == [("", "—")]
    assert ("const 'LAS'", "core.incident.agency_code") in by_col[""]
    assert ("default NULL", "core.incident.lsoa_code") in by_col[""]


# --------------------------------------------------------------------------- JSON Schema


@pytest.mark.usefixtures("_clean_env")
def test_json_schema_checks_mapping_files_like_an_editor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mapping.schema.json"
    assert main(["mappings", "schema", "--output", str(out)]) == 0
    schema = json.loads(out.read_text(encoding="utf-8"))
    assert main(["mappings", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    valid = [LAS_VALID, CODES_VALID, BROKEN / "stage_cycle" / "batches.yaml"] + sorted(SHIPPED.glob("*.yaml"))
    for path in valid:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
        assert errors == [], f"{path}: {errors}"
    # what the editor would underline
    for name, needle in (("unknown_key.yaml", "coment"), ("unknown_transform.yaml", "clean_txt"),
                         ("bad_parameter_value.yaml", "lower"), ("bad_parameter_name.yaml", "widht"),
                         ("unknown_target_table.yaml", "ref.code_values")):
        found = list(validator.iter_errors(yaml.safe_load((BROKEN / name).read_text(encoding="utf-8"))))
        assert found, name
        assert needle in " ".join(str(e.message) + str(list(e.absolute_path)) + str(e.instance) for e in found), name


def test_json_schema_lists_transforms_and_their_parameters() -> None:
    schema = language_schema()
    derive = schema["$defs"]["DeriveSpec"]
    assert set(derive["properties"]["transform"]["enum"]) == set(transforms.REGISTRY)
    assert schema["$defs"]["Params_map"]["required"] == ["values"]
    assert "file" not in schema["properties"]


# --------------------------------------------------------------------------- the shipped set


def test_the_shipped_mappings_are_valid() -> None:
    """`mappings validate` passes on mappings/: every DATA table at Alembic head is written,
    every target column mapped or explicitly defaulted, every legacy column accounted for."""
    report = validate(SHIPPED)
    assert report.problems == [], "\n".join(map(str, report.problems))
    specs = load_specs(SHIPPED)
    written = {t for s in specs for tm in s.tables for t in tm.targets} | {sd.target for s in specs for sd in s.seeds}
    assert {t.fullname for t in models.DATA_TABLES} <= written


@pytest.mark.usefixtures("_clean_env")
def test_the_shipped_mappings_match_a_generated_legacy_database(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """No schema drift between source.columns and the legacy tables of the data dictionary."""
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    assert main(["legacy", "generate", "--url", url, "--scale", "0.0002", "--seed", "7"]) == 0
    capsys.readouterr()
    report = validate(SHIPPED, source=SourceCatalog(make_url(url)))
    assert report.source_checked
    assert report.problems == [], "\n".join(map(str, report.problems))
    assert not [w for w in report.warnings if "source database" in w.message]


def test_lineage_of_every_shipped_table_accounts_for_every_column() -> None:
    specs = load_specs(SHIPPED)
    for table in sorted({tm.source.table for s in specs for tm in s.tables}):
        lin = lineage(specs, table)
        columns = next(tm.source.columns for s in specs for tm in s.tables if tm.source.table == table)
        assert [r.legacy_column for r in lin.rows if r.legacy_column and r.legacy_column not in columns] == [], table
        assert {r.legacy_column for r in lin.rows if r.legacy_column} == set(columns), table
        assert not [r for r in lin.rows if "not accounted for" in r.note], table


@pytest.mark.usefixtures("_clean_env")
def test_cli_validate_passes_on_the_shipped_mappings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--mappings", str(SHIPPED), "mappings", "validate"]) == 0
    cap = capsys.readouterr()
    assert cap.out == ""
    assert "valid" in cap.err


def test_a_blank_key_loaded_under_the_legacy_key_must_be_flagged_and_only_there(tmp_path: Path) -> None:
    """`key` in `flags:` (key_blank) belongs where a blank business key loads under the legacy key."""
    import shutil

    def problems_after(file: str, old: str, new: str) -> list[str]:
        folder = tmp_path / file
        shutil.copytree(SHIPPED, folder)
        text_ = (folder / file).read_text(encoding="utf-8")
        assert old in text_
        (folder / file).write_text(text_.replace(old, new), encoding="utf-8")
        return [str(p) for p in validate(folder).problems]

    problems = problems_after("50_mps_crime.yaml", "batch_flag, batch_no, key]", "batch_flag, batch_no]")
    assert len(problems) == 1 and "tables[0].business_key" in problems[0], problems
    assert "loads under the legacy key ('RecID:<n>') flagged key_blank: add `key` to a flags column" in problems[0]
    problems = problems_after("60_lfb_incident.yaml", "batch_flag, batch_no]", "batch_flag, batch_no, key]")
    assert len(problems) == 1 and "dq_flags.flags[6]" in problems[0], problems
    assert "a blank key of this table is quarantined" in problems[0]
