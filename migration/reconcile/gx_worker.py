"""Child process running Great Expectations suites on the target (``python -m migration.reconcile.gx_worker``).

Great Expectations takes seconds and ~200 MB to import, so it never loads in the
migration's own process: this worker imports it once and serves suites over its
stdin/stdout, one JSON request per line and one JSON answer per line.  The target URL
(with its password) arrives through the private pipe with each request and is handed to
GX as a ``${SAFESTATS_GX_URL_<n>}`` environment substitution, so it never appears in a
command line, a GX configuration or a result; one worker serves every target of the
process.  The context is ephemeral (nothing is written to
disk), progress bars and analytics are off.

A result carries only: success, counts, percentages, and — for expectations that touch
no sensitive column — up to ``partial`` unexpected values.  Sensitive expectations run
with ``result_format=BOOLEAN_ONLY``; the row expectations (``rows``) report their count
only, never the rows.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

_SAFE_KEYS = ("element_count", "unexpected_count", "unexpected_percent", "missing_count")


def _expectation(gxe: Any, e: dict[str, Any]) -> list[Any]:
    form = e["form"]
    if form == "not_null":
        return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in e["not_null"]]
    if form == "in_set":
        return [gxe.ExpectColumnValuesToBeInSet(column=e["in_set"]["column"], value_set=e["in_set"]["values"])]
    if form == "unique":
        cols = e["unique"]
        if len(cols) == 1:
            return [gxe.ExpectColumnValuesToBeUnique(column=cols[0])]
        return [gxe.ExpectCompoundColumnsToBeUnique(column_list=cols)]
    if form == "between":
        b = e["between"]
        return [gxe.ExpectColumnValuesToBeBetween(column=b["column"], min_value=b.get("min"), max_value=b.get("max"))]
    if form == "rows":
        return [gxe.UnexpectedRowsExpectation(unexpected_rows_query=e["rows"]["sql"], description=e["rows"]["name"])]
    raise ValueError(f"unknown expectation form {form}")


def _describe(r: Any) -> dict[str, Any]:
    cfg = r.expectation_config
    kw = dict(cfg.kwargs)
    out: dict[str, Any] = {"type": cfg.type, "success": bool(r.success)}
    if "column" in kw:
        out["column"] = kw["column"]
    if "column_list" in kw:
        out["columns"] = list(kw["column_list"])
    if cfg.type == "unexpected_rows_expectation":
        out["name"] = cfg.description
    return out


def _asset(ds: Any, engine: Any, suite: dict[str, Any], n: int) -> tuple[Any, str | None]:
    """A table asset on the suite's table, or on a view of it when the suite has a ``where``
    (returns the view to drop afterwards).  Not a query asset: Great Expectations 1.x holds
    a query asset's whole result in memory for column expectations (measured: +340 MB for
    800,000 incidents, growing with the data), a table asset or a view costs nothing."""
    from sqlalchemy import text

    schema, table = suite["table"].split(".", 1)
    if not suite.get("where"):
        return ds.add_table_asset(name=f"{suite['name']}_{n}", schema_name=schema, table_name=table), None
    # the stage names the view (staging.rec__<stage>__gx_<i>), so its clean-up finds one left
    # behind by a worker that was killed
    view = suite.get("view") or f"rec__gx__{os.getpid()}_{n}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE OR REPLACE VIEW staging."{view}" AS SELECT * FROM {suite["table"]} WHERE {suite["where"]}'))
    return ds.add_table_asset(name=f"{suite['name']}_{n}", schema_name="staging", table_name=view), view


def run_suites(ds: Any, gx: Any, gxe: Any, request: dict[str, Any], counter: list[int],
               engine: Any = None) -> list[dict[str, Any]]:
    from sqlalchemy import text

    answers: list[dict[str, Any]] = []
    for suite in request["suites"]:
        counter[0] += 1
        n = counter[0]
        answer: dict[str, Any] = {"suite": suite["name"], "results": []}
        view = None
        try:
            if engine is not None and suite.get("table"):
                asset, view = _asset(ds, engine, suite, n)
            else:
                asset = ds.add_query_asset(name=f"{suite['name']}_{n}", query=suite["query"])
            batch = asset.add_batch_definition_whole_table(f"all_{n}").get_batch()
            for part, sensitive in (("open", False), ("sensitive", True)):
                exps = [x for e in suite["expect"] if e["sensitive"] == sensitive for x in _expectation(gxe, e)]
                if not exps:
                    continue
                gsuite = gx.ExpectationSuite(name=f"{suite['name']}_{part}_{n}", expectations=exps)
                fmt: Any = "BOOLEAN_ONLY" if sensitive else {"result_format": "SUMMARY",
                                                            "partial_unexpected_count": suite["partial"]}
                res = batch.validate(gsuite, result_format=fmt)
                for r in res.results:
                    d = _describe(r)
                    d["sensitive"] = sensitive
                    info = r.exception_info or {}
                    if info.get("raised_exception"):
                        d["error"] = str(info.get("exception_message") or "raised an exception")[:500]
                    result = r.result or {}
                    if not sensitive:
                        for k in _SAFE_KEYS:
                            if k in result:
                                d[k] = result[k]
                        if d["type"] == "unexpected_rows_expectation":
                            if isinstance(result.get("observed_value"), int):
                                d["unexpected_count"] = result["observed_value"]
                        elif result.get("partial_unexpected_list"):
                            d["partial_unexpected"] = [str(v)[:80] for v in result["partial_unexpected_list"]]
                    answer["results"].append(d)
        except Exception as exc:  # reported as the suite's error; the worker keeps serving
            answer["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
        finally:
            if view is not None:
                with engine.begin() as conn:
                    conn.execute(text(f'DROP VIEW IF EXISTS staging."{view}"'))
        answers.append(answer)
    return answers


def _close_connections(sources: dict[str, Any]) -> None:
    """Hold no connection between requests: an idle session would stop a database from being
    dropped or used as a template (CREATE DATABASE … TEMPLATE) by whoever owns it."""
    for ds in sources.values():
        for get in (lambda ds=ds: ds.get_execution_engine().engine, lambda ds=ds: ds.get_engine()):
            try:
                get().dispose()
            except Exception:  # noqa: S110 - nothing to close
                pass


def main() -> int:
    # the protocol owns the real stdout; anything a library prints goes to stderr
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import geoalchemy2  # noqa: F401  (registers the geometry type for reflection)
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    sources: dict[str, Any] = {}
    engines: dict[str, Any] = {}
    counter = [0]
    proto.write(json.dumps({"ready": True}) + "\n")
    proto.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            url = request.pop("url")
            ds = sources.get(url)
            if ds is None:
                # one data source per target; the URL reaches GX through a ${VAR} substitution only
                var = f"SAFESTATS_GX_URL_{len(sources)}"
                os.environ[var] = url
                ds = ctx.data_sources.add_postgres(name=f"target_{len(sources)}", connection_string="${" + var + "}")
                sources[url] = ds
            if url not in engines:
                engines[url] = create_engine(url, poolclass=NullPool)
            answer: dict[str, Any] = {"suites": run_suites(ds, gx, gxe, request, counter, engines[url])}
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
        finally:
            _close_connections(sources)
        proto.write(json.dumps(answer, default=str) + "\n")
        proto.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
