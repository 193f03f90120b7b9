"""The report's "Blank business keys" section: rows loaded under their legacy key, per batch status.

A row whose business key is blank (a police.uk anti-social-behaviour report has no Crime ID)
loads under its legacy primary key (``source_ref`` = ``RecID:<n>``, flagged ``key_blank``) and
is in no duplicate group — so when a month is re-submitted, its blank-key rows are loaded
once from the first batch (now ``RELOADED``) and once from the new one: nothing can tell the
two copies are one report.  QA sees here how many such rows came from batches of each status
(``OK``, ``FAILED``, ``RELOADED``; "(no batch)" when the row's batch is not in the import log),
per stage, in the target as it is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from migration.ledger import history
from migration.mapping.keys import KEY_BLANK_FLAG

NO_BATCH = "(no batch)"
#: batch statuses in the order the section lists them
STATUS_ORDER = ("OK", "FAILED", "RELOADED", NO_BATCH)
_RUN_KINDS = ("stage_started", "delta_started", "redrive_started")


@dataclass(frozen=True)
class BlankKeyRow:
    """Rows of one stage in the target loaded under their legacy key, from batches of one status."""

    stage: str
    dataset: str
    batch_status: str
    rows: int
    batches: int

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "dataset": self.dataset, "batch_status": self.batch_status,
                "rows": self.rows, "batches": self.batches}


def blank_key_rows(conn: Connection, stages: Iterable[str]) -> list[BlankKeyRow]:
    """Rows flagged ``key_blank`` in ``core.incident`` per stage (the run that last wrote them),
    dataset and batch status."""
    wanted = list(stages)
    if not wanted or conn.execute(text("SELECT to_regclass('core.incident')")).scalar() is None:
        return []
    rows = conn.execute(text(
        "SELECT e.stage, i.dataset, coalesce(b.status, :none) AS status, count(*) AS n, "
        "count(DISTINCT i.batch_id) AS batches FROM core.incident i "
        f"JOIN {history.stage_runs_sql(stages=':stages')} e "
        "ON e.run_id = i.load_run_id "
        "LEFT JOIN ref.import_batch b ON b.batch_id = i.batch_id "
        "WHERE :flag = ANY(i.dq_flags) GROUP BY 1, 2, 3"),
        dict(none=NO_BATCH, kinds=list(_RUN_KINDS), stages=wanted, flag=KEY_BLANK_FLAG)).all()
    order = {s: i for i, s in enumerate(wanted)}

    def rank(status: str) -> int:
        return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)

    out = [BlankKeyRow(r.stage, r.dataset, r.status, int(r.n), int(r.batches)) for r in rows]
    return sorted(out, key=lambda b: (order.get(b.stage, len(order)), b.dataset, rank(b.batch_status),
                                      b.batch_status))


def _n(v: int) -> str:
    return f"{v:,}"


def html_section(rows: Sequence[BlankKeyRow]) -> str:
    """The section as HTML (heading included)."""
    head = ('<h2 id="blank-keys">Blank business keys</h2><p class="lead">Rows whose business key is blank load '
            "under their legacy key (<code>source_ref</code> = <code>RecID:&lt;n&gt;</code>, flagged "
            "<code>key_blank</code>) and are in no duplicate group: a re-submitted month loads them twice, once "
            "from its <code>RELOADED</code> batch and once from the new one.</p>")
    if not rows:
        return head + '<p class="none">No row in the target was loaded under its legacy key.</p>'
    body = "".join(
        f'<tr><td>{escape(b.stage)}</td><td class="mono">{escape(b.dataset)}</td>'
        f'<td class="mono">{escape(b.batch_status)}</td><td class="num">{_n(b.rows)}</td>'
        f'<td class="num">{_n(b.batches)}</td></tr>' for b in rows)
    foot = (f'<tr><td colspan="3">Total</td><td class="num">{_n(sum(b.rows for b in rows))}</td>'
            '<td></td></tr>')
    return (head + '<table id="blank-keys-table"><thead><tr><th>Stage</th><th>Dataset</th><th>Batch status</th>'
            '<th class="num">Rows</th><th class="num">Batches</th></tr></thead>'
            f"<tbody>{body}</tbody><tfoot>{foot}</tfoot></table>")


def markdown_section(rows: Sequence[BlankKeyRow]) -> list[str]:
    """The section as Markdown lines (nothing when no row was loaded under its legacy key)."""
    if not rows:
        return []
    out = ["## Blank business keys (rows loaded under their legacy key, per batch status)", "",
           "| stage | dataset | batch status | rows | batches |", "| --- | --- | --- | ---: | ---: |"]
    out += [f"| {b.stage} | {b.dataset} | {b.batch_status} | {_n(b.rows)} | {_n(b.batches)} |" for b in rows]
    reloaded = sum(b.rows for b in rows if b.batch_status == "RELOADED")
    if reloaded:
        out += ["", f"{_n(reloaded)} of them came from RELOADED batches: their month was re-submitted, so the same "
                    "reports may be loaded twice (blank keys cannot be matched)."]
    return out + [""]
