"""Before-images (``ledger.before_image``): the old row of every target row a run updates or
deletes, written in the writer's own transaction, read back by rollback.

The rows to image are chosen by the caller's query over the target (``rows``: a
``FROM … WHERE …`` clause, the row under alias ``row``); the images are read back as a
relation the caller composes into its own statement, because rollback joins them with
the target table row by row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

_COLUMNS = "(run_id, stage, table_name, op, row_data)"


def insert_from(select: str) -> str:
    """The INSERT of images a chunk's ``select`` yields as (run_id, stage, table_name, op, row_data),
    as text for the caller's DB-API cursor (the loader's chunk statements)."""
    return f"INSERT INTO ledger.before_image {_COLUMNS} {select}"


def capture(conn: Connection, *, run_id: int, stage: str, table_name: str, op: str, row: str, rows: str,
            params: dict[str, Any] | None = None) -> None:
    """Image (``op`` 'U' or 'D') every row of ``table_name`` that ``SELECT … {rows}`` finds under
    alias ``row``; ``params`` are those of ``rows``.  In the caller's transaction, before it
    changes them."""
    if op not in ("U", "D"):
        raise ValueError(f"an image is of an update (U) or a delete (D), not {op!r}")
    conn.execute(text(
        f"INSERT INTO ledger.before_image {_COLUMNS} SELECT :_img_run, :_img_stage, :_img_table, :_img_op, "
        f"to_jsonb({row}) {rows}"),
        dict(params or {}, _img_run=run_id, _img_stage=stage, _img_table=table_name, _img_op=op))


def rows_sql(table: str, *, runs: str, table_param: str, op: str | None = None) -> str:
    """A relation of the images of ``table`` taken by the runs bound to ``runs`` (a parameter,
    e.g. ``ANY(:m)`` or ``:r``), each as ``image_id``, ``_image`` (the JSON) and the row's
    own columns (``jsonb_populate_record``); ``table_param`` is the parameter holding the
    table's name.  ``table`` must be a model table name (it is spliced as a type)."""
    where = f"i.run_id = {runs} AND i.table_name = {table_param}" + (f" AND i.op = '{op}'" if op else "")
    if op not in (None, "U", "D"):
        raise ValueError(f"an image is of an update (U) or a delete (D), not {op!r}")
    return (f"(SELECT i.image_id, i.row_data AS _image, (jsonb_populate_record(NULL::{table}, i.row_data)).* "
            f"FROM ledger.before_image i WHERE {where})")
