"""Control totals of the expected side, accumulated in Python per bucket (:mod:`.extract`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from migration.reconcile.copying import london
from migration.reconcile.normalise import py_normaliser
from migration.reconcile.spec import ControlTotalSpec, bucket_parts, measure_column, measure_kind
from migration.reconcile.tableplan import TablePlan


# ---------------------------------------------------------------------------- control totals
def _month(v: Any) -> str:
    if hasattr(v, "hour"):
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        if v.tzinfo is UTC and 2 <= v.day <= 27:
            return f"{v.year:04d}-{v.month:02d}"  # London is UTC or UTC+1: mid-month, the month is the same
        v = v.astimezone(london())
    return f"{v.year:04d}-{v.month:02d}"


def _bucket_text(v: Any, kind: str, month: bool) -> str | None:
    if v is None:
        return None
    if month:
        return _month(v)
    if kind == "text":
        return v if isinstance(v, str) else ("true" if v is True else "false" if v is False else str(v))
    if kind == "bool":
        return "true" if py_normaliser("bool")(v) == "t" else "false"
    return py_normaliser(kind)(v)


class Totals:
    """Control totals of one declaration: bucket tuple → one accumulator per measure."""

    def __init__(self, spec: ControlTotalSpec, plan: TablePlan) -> None:
        from migration.reconcile.normalise import kind_of

        self.spec = spec
        self.plan = plan
        self.by: list[tuple[str, bool, str]] = []
        for b in spec.by:
            ref, month = bucket_parts(b)
            _sql, col = plan.column_expr(ref)
            self.by.append((ref, month, kind_of(col)))
        self.measures: list[tuple[str, str, str | None, str | None]] = []
        for m in spec.measures:
            col_ref = measure_column(m)
            kind = kind_of(plan.column_expr(col_ref)[1]) if col_ref else None
            self.measures.append((m, measure_kind(m), col_ref, kind))
        self.buckets: dict[tuple[str | None, ...], list[Any]] = {}

    @staticmethod
    def scaled(v: Any, kind: str) -> int:
        """An exact integer for sums: numeric(p,s) in units of 10^-s (money in 10000ths), never via float."""
        if kind == "int":
            return int(v)
        scale = int(kind.split(":", 1)[1])
        with localcontext() as ctx:
            ctx.prec = 60
            d = Decimal(v) if not isinstance(v, float) else Decimal(format(v, ".15g"))
            return int(d.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP).scaleb(scale))

    def _empty(self) -> list[Any]:
        return [0 if mk not in ("min", "max") else None for _m, mk, _c, _k in self.measures]

    def add(self, get: Callable[[str], list[Any]], n: int) -> None:
        if n == 0:
            return
        bcols = [[_bucket_text(v, kind, month) for v in get(ref)] for ref, month, kind in self.by]
        keys = list(zip(*bcols, strict=True)) if bcols else [()] * n
        buckets = self.buckets
        for b in set(keys):
            if b not in buckets:
                buckets[b] = self._empty()
        accs = [buckets[b] for b in keys]
        bool_norm = py_normaliser("bool")
        for j, (_m, mk, col, kind) in enumerate(self.measures):
            if mk == "count" and col is None:
                for acc in accs:
                    acc[j] += 1
                continue
            values = get(col)  # type: ignore[arg-type]
            if mk == "count":
                for acc, v in zip(accs, values, strict=True):
                    if v is not None:
                        acc[j] += 1
            elif mk == "count_true":
                for acc, v in zip(accs, values, strict=True):
                    if v is True or (v is not None and v is not False and bool_norm(v) == "t"):
                        acc[j] += 1
            elif mk == "sum":
                for acc, v in zip(accs, values, strict=True):
                    if v is not None:
                        acc[j] += v if (kind == "int" and type(v) is int) else self.scaled(v, kind or "int")
            elif mk == "min":
                for acc, v in zip(accs, values, strict=True):
                    if v is not None and (acc[j] is None or v < acc[j]):
                        acc[j] = v
            else:
                for acc, v in zip(accs, values, strict=True):
                    if v is not None and (acc[j] is None or v > acc[j]):
                        acc[j] = v

    def merge(self, other: dict[tuple[str | None, ...], list[Any]]) -> None:
        """Add another accumulator's buckets (from a worker) to these."""
        for b, acc in other.items():
            mine = self.buckets.get(b)
            if mine is None:
                self.buckets[b] = list(acc)
                continue
            for j, (_m, mk, _c, _k) in enumerate(self.measures):
                if mk == "min":
                    if acc[j] is not None and (mine[j] is None or acc[j] < mine[j]):
                        mine[j] = acc[j]
                elif mk == "max":
                    if acc[j] is not None and (mine[j] is None or acc[j] > mine[j]):
                        mine[j] = acc[j]
                else:
                    mine[j] += acc[j]

    def take(self) -> dict[tuple[str | None, ...], list[Any]]:
        out, self.buckets = self.buckets, {}
        return out

    def finish(self, buckets: dict[tuple[str | None, ...], list[Any]]) -> dict[tuple[str | None, ...], list[Any]]:
        """min/max values to canonical text, so both sides compare as text."""
        out = {}
        for b, acc in buckets.items():
            row = list(acc)
            for j, (_m, mk, _c, kind) in enumerate(self.measures):
                if mk in ("min", "max") and row[j] is not None:
                    row[j] = py_normaliser(kind or "text")(row[j])
            out[b] = row
        return out

    def sql(self) -> str:
        """The same totals computed in PostgreSQL over the stage's rows of the table."""
        from migration.reconcile.normalise import sql_value

        bexprs = []
        for ref, month, kind in self.by:
            expr, _col = self.plan.column_expr(ref)
            if month:
                bexprs.append(f"to_char(({expr}) AT TIME ZONE 'Europe/London', 'YYYY-MM')" if kind == "timestamptz"
                              else f"to_char({expr}, 'YYYY-MM')")
            elif kind == "text":
                bexprs.append(f"({expr})::text")
            elif kind == "bool":
                bexprs.append(f"(CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' END)")
            else:
                bexprs.append(sql_value(expr, kind))
        mexprs = []
        for _m, mk, mcol, _kind in self.measures:
            mexpr = self.plan.column_expr(mcol)[0] if mcol else None
            if mk == "count":
                mexprs.append(f"count({mexpr})" if mexpr else "count(*)")
            elif mk == "count_true":
                mexprs.append(f"count(*) FILTER (WHERE {mexpr})")
            else:
                mexprs.append(f"{mk}({mexpr})")
        group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(bexprs)))}" if bexprs else ""
        return (f"SELECT {', '.join(bexprs + mexprs)} FROM {self.plan.scope_from} WHERE {self.plan.scope_where}"
                f"{group}")

    def actual(self, rows: list[Any]) -> dict[tuple[str | None, ...], list[Any]]:
        nb = len(self.by)
        out: dict[tuple[str | None, ...], list[Any]] = {}
        for r in rows:
            acc: list[Any] = []
            for j, (_m, mk, _c, kind) in enumerate(self.measures):
                v = r[nb + j]
                if mk in ("count", "count_true"):
                    acc.append(int(v))
                elif mk == "sum":
                    acc.append(0 if v is None else self.scaled(v, kind or "int"))
                else:
                    acc.append(None if v is None else py_normaliser(kind or "text")(v))
            out[tuple(r[:nb])] = acc
        return out
