"""Tamper with a clean, reconciled target and require `reconcile` to exit 1 naming the table,
the key and the column (issue 6, "Proof").  Real PostgreSQL, the generated legacy database;
the CLI is driven through ``migration.cli.main`` in this process."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import URL

from migration.cli import main
from tests.reconcile.conftest import results_of

pytestmark = pytest.mark.postgres


def reconcile(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--log-json", "reconcile", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def failed(url: URL) -> dict[str, dict[str, Any]]:
    return {r["check_name"]: r for r in results_of(url) if r["status"] == "fail"}


def test_a_clean_run_reconciles_with_exit_0_and_records_every_check(
        target: URL, cli_env: Callable[..., None], capsys: pytest.CaptureFixture[str], sql: Callable[..., Any]) -> None:
    # what a killed run would leave behind: a view a Great Expectations suite ran on
    sql('CREATE VIEW staging."rec__users__gx_9" AS SELECT * FROM sec.app_user')
    cli_env(target)
    code, out = reconcile(capsys, "--all")
    assert code == 0, out
    assert "PASS: 10 of 10 stages reconciled" in out  # the verdict over every planned stage
    results = results_of(target)
    assert results and not [r for r in results if r["status"] in ("fail", "error")], \
        [(r["check_name"], r["summary"]) for r in results if r["status"] in ("fail", "error")]
    names = {(r["stage"], r["check_name"]) for r in results}
    # every stage, every kind of check, every table the stages write
    for check in ("accounting/tblMPSCrime", "keys/core.incident", "row_hash/core.police_crime",
                  "control_totals/costs_by_borough_month", "quarantine_rate/tblISTVAssault", "leaks/secrets",
                  "leaks/patient_identifiers", "expectations/access_grants", "keys/sec.access_grant",
                  "row_hash/ref.local_authority", "keys/ref.la_alias"):
        assert any(n == check for _s, n in names), check
    assert {s for s, _n in names} == {"boroughs", "areas", "codes", "organisations", "users", "mps_crime",
                                      "lfb_incident", "las_assault", "transport_crime", "istv_assault"}
    # the stages are reconciled, under the on-demand run of kind 'reconcile'
    states = sql("SELECT DISTINCT ON (stage) stage, kind FROM ledger.event WHERE kind LIKE 'stage_%' "
                 "ORDER BY stage, event_id DESC")
    assert {k for _s, k in states} == {"stage_reconciled"}
    assert sql("SELECT kind FROM ledger.run WHERE run_id = (SELECT max(run_id) FROM ledger.check_result)") == \
        [("reconcile",)]
    # nothing of reconciliation's is left behind: no staging table, no view the GX suites ran on
    # (the leftover view above included)
    assert sql("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE n.nspname = 'staging' AND starts_with(relname, 'rec__')") == []


def _mps_row(sql: Callable[..., Any], where: str = "true") -> tuple[int, str]:
    return sql(f"SELECT incident_id, source_ref FROM core.incident WHERE dataset = 'MPS' AND {where} "
               f"ORDER BY source_ref LIMIT 1")[0]


def test_a_deleted_row_is_named_missing(target: URL, cli_env: Callable[..., None], sql: Callable[..., Any],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    incident_id, ref = _mps_row(sql)
    sql("DELETE FROM core.incident WHERE incident_id = :i", i=incident_id)
    cli_env(target)
    code, out = reconcile(capsys, "mps_crime")
    assert code == 1
    assert "keys/core.incident" in out and ref in out
    f = failed(target)
    keys = f["keys/core.incident"]
    assert f"source_ref={ref}" in keys["summary"] and "missing" in keys["summary"]
    assert keys["detail"]["missing"] == 1 and keys["detail"]["extra"] == 0
    assert keys["detail"]["missing_keys"][0]["source_ref"] == ref
    # its detail row went with it (cascade), named through the incident's key
    assert f"source_ref={ref}" in f["keys/core.police_crime"]["summary"]
    assert "control_totals/incidents_by_borough_month" in f
    assert "accounting/tblMPSCrime" not in f  # the ledger is right: the target is wrong


def test_a_changed_value_is_named_with_its_column_before_and_after(
        target: URL, cli_env: Callable[..., None], sql: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    incident_id, ref = _mps_row(sql, "incident_id IN (SELECT incident_id FROM core.police_crime "
                                      "WHERE outcome IS NOT NULL)")
    before = sql("SELECT outcome FROM core.police_crime WHERE incident_id = :i", i=incident_id)[0][0]
    sql("UPDATE core.police_crime SET outcome = 'Tampered with' WHERE incident_id = :i", i=incident_id)
    cli_env(target)
    code, out = reconcile(capsys, "mps_crime")
    assert code == 1
    f = failed(target)
    assert set(f) == {"row_hash/core.police_crime"}, list(f)
    r = f["row_hash/core.police_crime"]
    assert f"source_ref={ref}" in r["summary"] and "outcome" in r["summary"]
    row = r["detail"]["changed_rows"][0]
    assert row["key"] == {"incident.dataset": "MPS", "incident.source_ref": ref}
    assert row["columns"] == [{"column": "outcome", "before": before, "after": "Tampered with", "masked": False}]


def test_a_duplicated_row_is_named(target: URL, cli_env: Callable[..., None], sql: Callable[..., Any],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    incident_id, ref = _mps_row(sql)
    sql("ALTER TABLE core.incident DROP CONSTRAINT uq_incident_dataset_source_ref")
    cols = ("agency_code, dataset, source_ref, legacy_pk, batch_id, occurred_at, occurred_precision, reported_at, "
            "gss_code, ward_code, lsoa_code, geom, location_precision, dq_flags, load_run_id")
    sql(f"INSERT INTO core.incident ({cols}) SELECT {cols} FROM core.incident WHERE incident_id = :i", i=incident_id)
    cli_env(target)
    code, out = reconcile(capsys, "mps_crime")
    assert code == 1
    f = failed(target)
    keys = f["keys/core.incident"]
    assert "held more than once" in keys["summary"] and f"source_ref={ref}" in keys["summary"]
    (dup,) = keys["detail"]["duplicate_keys"]
    assert (dup["dataset"], dup["source_ref"], dup["copies"]) == ("MPS", ref, 2)
    # Great Expectations' uniqueness expectation sees it too
    assert "expectations/mps_incidents" in f and "unique" in f["expectations/mps_incidents"]["summary"]


def test_a_timestamp_shifted_by_an_hour_is_named(target: URL, cli_env: Callable[..., None], sql: Callable[..., Any],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    incident_id, ref = _mps_row(sql, "occurred_at IS NOT NULL")
    before = sql("SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM core.incident "
                 "WHERE incident_id = :i", i=incident_id)[0][0]
    sql("UPDATE core.incident SET occurred_at = occurred_at + interval '1 hour' WHERE incident_id = :i", i=incident_id)
    cli_env(target)
    code, out = reconcile(capsys, "mps_crime")
    assert code == 1
    r = failed(target)["row_hash/core.incident"]
    assert f"source_ref={ref}" in r["summary"] and "occurred_at" in r["summary"]
    (col,) = r["detail"]["changed_rows"][0]["columns"]
    assert col["column"] == "occurred_at" and col["before"].startswith(before)
    assert col["after"] != col["before"]


def test_an_exact_point_moved_by_a_metre_is_named(target: URL, cli_env: Callable[..., None],
                                                  sql: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    """Reconciliation reads core.incident as the owner, so it still compares the exact points
    the application role may not select (issue 16)."""
    incident_id, ref = _mps_row(sql, "geom IS NOT NULL")
    sql("UPDATE core.incident SET geom = ST_Translate(geom, 1, 0) WHERE incident_id = :i", i=incident_id)
    cli_env(target)
    code, out = reconcile(capsys, "mps_crime")
    assert code == 1
    r = failed(target)["row_hash/core.incident"]
    assert f"source_ref={ref}" in r["summary"] and "geom" in r["summary"]
    (col,) = r["detail"]["changed_rows"][0]["columns"]
    assert col["column"] == "geom" and col["after"] != col["before"]


def test_one_penny_on_one_lfb_cost_is_found_exactly(target: URL, cli_env: Callable[..., None], sql: Callable[..., Any],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    incident_id, ref, cost = sql(
        "SELECT i.incident_id, i.source_ref, f.notional_cost::text FROM core.fire_incident f JOIN core.incident i "
        "USING (incident_id) WHERE f.notional_cost IS NOT NULL ORDER BY i.source_ref LIMIT 1")[0]
    sql("UPDATE core.fire_incident SET notional_cost = notional_cost + 0.01 WHERE incident_id = :i", i=incident_id)
    cli_env(target)
    code, out = reconcile(capsys, "lfb_incident")
    assert code == 1
    f = failed(target)
    r = f["row_hash/core.fire_incident"]
    assert f"source_ref={ref}" in r["summary"] and "notional_cost" in r["summary"]
    (col,) = r["detail"]["changed_rows"][0]["columns"]
    from decimal import Decimal

    assert col == {"column": "notional_cost", "before": cost, "after": str(Decimal(cost) + Decimal("0.01")),
                   "masked": False}
    # the money control totals see the penny too: exact, never through a float
    totals = f["control_totals/costs_by_borough_month"]
    (diff,) = [d for d in totals["detail"]["differences"] if d["measure"] == "sum(notional_cost)"]
    assert diff["difference"] == "0.0100"


def test_a_dropped_access_grant_is_named(target: URL, cli_env: Callable[..., None], sql: Callable[..., Any],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    grant_id, user_id, dataset, gss = sql("SELECT grant_id, user_id, dataset, gss_code FROM sec.access_grant "
                                          "WHERE gss_code IS NOT NULL ORDER BY grant_id LIMIT 1")[0]
    sql("DELETE FROM sec.access_grant WHERE grant_id = :g", g=grant_id)
    cli_env(target)
    code, out = reconcile(capsys, "users")
    assert code == 1
    keys = failed(target)["keys/sec.access_grant"]
    assert f"user_id={user_id}, dataset={dataset}, gss_code={gss}" in keys["summary"]
    assert keys["detail"]["missing_keys"][0]["user_id"] == str(user_id)


def test_a_legacy_password_copied_into_the_target_is_found_without_showing_it(
        target: URL, cli_env: Callable[..., None], sql: Callable[..., Any], capsys: pytest.CaptureFixture[str],
        legacy_sqlite: Any) -> None:
    import sqlite3

    password = sqlite3.connect(legacy_sqlite).execute(
        "SELECT Password FROM tblUser WHERE Password IS NOT NULL AND length(Password) < 32 ORDER BY UserID "
        "LIMIT 1").fetchone()[0]
    user_id = sql("SELECT min(user_id) FROM sec.app_user")[0][0]
    sql("UPDATE sec.app_user SET email = :e WHERE user_id = :u", e=f"login {password} here", u=user_id)
    cli_env(target)
    code, out = reconcile(capsys, "users")
    assert code == 1
    f = failed(target)
    leak = f["leaks/secrets"]
    assert "sec.app_user.email" in leak["summary"] and f"user_id={user_id}" in leak["summary"]
    # the secret itself is nowhere: not in the output, not in the ledger
    assert password not in out
    assert password not in json.dumps(results_of(target), default=str)
    # and the changed e-mail is reported as sensitive: no values
    (col,) = f["row_hash/sec.app_user"]["detail"]["changed_rows"][0]["columns"]
    assert col["column"] == "email" and col["masked"] and col["after"] == "‹masked›"
