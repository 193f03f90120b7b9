"""The transform contract: one pure Python reference, and a vectorised Polars form where
the load needs one for speed.

A transform has named inputs, named outputs (``value`` first; some also have
``precision``, ``flags`` — a tuple of flag names in a fixed order — and ``reject`` — a
quarantine reason code or None), typed parameters, and the reference lookups it reads.

- ``py(params, lookups, *inputs)`` is the reference: a pure function of one row's values,
  returning a tuple in the order of ``outputs``.  It never raises (hypothesis tests): bad
  input becomes a flag or a ``reject`` reason.  Reconciliation computes expected values
  with it.
- ``pl(params, lookups, *input_exprs)`` returns one Polars expression per output, for
  transforms whose inputs vary row by row (dates with times, grid references, keys).  A
  differential property test proves it equals ``py`` on the same inputs, hostile ones
  included (tests/mapping/test_differential.py).
- A transform without ``pl`` runs in the load by evaluating ``py`` once per *distinct*
  input in the chunk and joining the results back: borough names, offence codes, flags
  have a few hundred distinct values among millions of rows, so this is both fast and,
  by construction, identical to the reference.

Inputs reach transforms as text: the extractor decodes every legacy value to ``str``
(see :mod:`migration.db.codec`), exactly as reconciliation's own extraction does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

TRIM_CHARS = " \t\n\r\f\v\u00a0"
ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_UPPER_TABLE = str.maketrans(ASCII_LOWER, ASCII_UPPER)

#: Polars dtype of each output type name
OUTPUT_TYPES = ("text", "text[]", "integer", "bigint", "boolean", "date", "timestamptz", "numeric(19,4)", "point")


def ascii_upper(s: str) -> str:
    """Upper-case ASCII letters only (so 'ß' and other non-ASCII letters stay as they are)."""
    return s.translate(_ASCII_UPPER_TABLE)


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


LookupTables = Mapping[str, Any]


class Transform:
    """Base class; subclasses are registered with :func:`register`."""

    name: ClassVar[str]
    summary: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = ("value",)
    outputs: ClassVar[dict[str, str]] = {"value": "text"}
    params_model: ClassVar[type[BaseModel]] = NoParams
    lookups: ClassVar[tuple[str, ...]] = ()
    #: runs only in Python while rows are extracted (the ISTV scrubber): raw text never
    #: reaches PostgreSQL
    python_only: ClassVar[bool] = False

    def parse_params(self, raw: Mapping[str, Any] | None) -> BaseModel:
        return self.params_model.model_validate(dict(raw or {}))

    def py(self, params: Any, lookups: LookupTables, *args: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    def pl(self, params: Any, lookups: LookupTables, plan: PlPlan, *args: Any) -> dict[str, Any] | None:
        """Vectorised form, or None to run ``py`` over the distinct inputs.

        ``args`` are Polars expressions (column references).  Intermediate values are
        materialised with ``plan.stage(name=expr, …)``, which returns column references:
        Polars evaluates each branch of a when/then chain separately, so an intermediate
        used several times must be a column to be computed once."""
        return None

    @property
    def has_reject(self) -> bool:
        return "reject" in self.outputs

    @property
    def has_flags(self) -> bool:
        return "flags" in self.outputs


class PlPlan:
    """Ordered stages of intermediate columns for one transform application."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.stages: list[dict[str, Any]] = []

    def stage(self, **exprs: Any) -> Any:
        import polars as pl

        names = {k: f"{self.prefix}{k}" for k in exprs}
        self.stages.append({names[k]: e for k, e in exprs.items()})

        class _Cols:
            def __getattr__(self, item: str) -> Any:
                return pl.col(names[item])

        return _Cols()

    @property
    def temp_columns(self) -> list[str]:
        return [c for st in self.stages for c in st]


REGISTRY: dict[str, Transform] = {}


def register(cls: type[Transform]) -> type[Transform]:
    inst = cls()
    if inst.name in REGISTRY:
        raise ValueError(f"transform {inst.name} registered twice")
    for out, typ in inst.outputs.items():
        if typ not in OUTPUT_TYPES:
            raise ValueError(f"transform {inst.name}: output {out} has unknown type {typ}")
    REGISTRY[inst.name] = inst
    return cls


def get(name: str) -> Transform:
    return REGISTRY[name]


def pl_flag_list(flags: list[tuple[Any, str]]) -> Any:
    """Polars: the list of flag names whose condition holds, in the given order.

    One integer mask (bit i = condition i) mapped through a table of every combination — about
    forty times faster than ``concat_list`` of when/then columns with ``drop_nulls``.  A null
    condition counts as false; keep to a dozen flags or so (the table has 2**n rows)."""
    import polars as pl

    mask = pl.sum_horizontal([cond.fill_null(False).cast(pl.Int32) * (1 << i) for i, (cond, _) in enumerate(flags)])
    keys = list(range(1 << len(flags)))
    values = [[name for i, (_c, name) in enumerate(flags) if k >> i & 1] for k in keys]
    return mask.replace_strict(keys, values, return_dtype=pl.List(pl.String))
