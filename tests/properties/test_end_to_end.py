"""Issue 10, "The proof": any table of the dictionary's shape goes end to end without loss.

For every legacy table and each source engine (SQLite; MariaDB over pyodbc), Hypothesis draws
a whole table from the declared column types (:mod:`tests.properties.strategies`), the
harness writes it as raw bytes into a copy of a small legacy database and runs the table's
stage — reader → transforms → COPY → reconcile — into a clone of a template target
(:mod:`tests.properties.harness`).  The invariants:

- the run finishes (no exception, no crash, no stop for a row's content);
- read = loaded + unchanged + merged + quarantined + filtered, exactly, and each term equals
  an independent count of the target and ledger; read equals the rows the engine holds;
- every quarantine row has a reason;
- every reconciliation check passes (accounting, key sets, row hashes, control totals,
  leaks, expectations) — quarantine-rate thresholds excluded;
- no planted password (``tblUser.Password``) or patient identifier (ISTV ``LocDesc``,
  ``MethodOther``) is anywhere in the target.

Each failure Hypothesis found is kept as an ``@example`` (the minimal one, see
:mod:`tests.properties.found`, which also says what fixed it); every one passes now.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given

from tests.properties.conftest import profile_settings
from tests.properties.dictionary import load
from tests.properties.found import FOUND, OPEN
from tests.properties.harness import World
from tests.properties.strategies import table_rows

ENGINES = {"sqlite": list(load()),
           "mariadb": [t for t, spec in load().items() if spec.kind == "fact"] + ["tblUser"]}


def _property_test(table: str, engine: str) -> Any:
    @profile_settings(engine)
    @given(rows=table_rows(table))
    def test(world: World, rows: list[dict[str, Any]]) -> None:
        world.check(engine, table, rows).require()

    for found in FOUND:
        if found.table == table and found.engine in (engine, "*"):
            test = example(rows=found.rows)(test)
    marks = [pytest.mark.postgres] + ([pytest.mark.mariadb] if engine == "mariadb" else [])
    if (table, engine) in OPEN:  # a finding not fixed yet: the test must keep failing until it is
        marks.append(pytest.mark.xfail(strict=True, reason=OPEN[(table, engine)]))
    for mark in marks:
        test = mark(test)
    test.__name__ = test.__qualname__ = f"test_any_{table}_on_{engine}_goes_end_to_end_without_loss"
    return test


for _engine, _tables in ENGINES.items():
    for _table in _tables:
        _t = _property_test(_table, _engine)
        globals()[_t.__name__] = _t
