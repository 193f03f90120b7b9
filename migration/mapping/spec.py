"""The mapping language, as typed frozen models (pydantic).

One YAML file per stage (``mappings/*.yaml``).  A stage maps one legacy table, or a group
of reference tables, into the target.  Per legacy table it declares:

``source``        table, integer (or text) key, every column, the free-text columns (tabs and
                  line breaks kept when control characters are removed), optional filter
                  column values
``personal_data`` columns never extracted (``drop``) and columns scrubbed in Python before
                  anything leaves the process (``scrub``: column → python-only transform).
                  A scrubbed column holds the scrubbed text from then on, and the
                  transform's outputs are addressable as the derive ``scrub_<Column>``
                  (e.g. ``scrub_LocDesc.flags`` in a ``flags:`` list)
``business_key``  the column whose trimmed value identifies a target row (``COLLATE "C"``);
                  a blank key loads under the legacy primary key (``RecID:<n>``, flagged
                  ``key_blank`` through ``flags: [key]``) where the table has one that is not
                  the business key, and is quarantined (``BLANK_KEY``) otherwise — never
                  dropped; see :mod:`migration.mapping.keys`
``duplicates``    the winner rule when several legacy rows share a business key
``derive``        named intermediate results: one transform over one or more inputs, with
                  its outputs (``value``, ``precision``, ``flags``, ``reject``) addressable as
                  ``name.output``
``filters``       explicit rules that leave a row out on purpose (counted as *filtered*)
``quarantine``    rules that send a row to quarantine with a reason code (first match wins)
``targets``       per target table, every column: ``from`` (a source column, ``derive.output``
                  or ``row.<name>`` for an exploded item) through a ``via`` chain of
                  transforms, a ``const``, an explicit ``default``, or ``flags`` (the data-quality
                  flags of the listed derives, concatenated in order)
``not_migrated``  every legacy column that is deliberately not carried over, with the reason

Every legacy column must be used, dropped, or listed as not migrated, so a reader of one
file knows what happens to every field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TransformCall(_Strict):
    """One step of a ``via`` chain: a transform name and its parameters."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Any) -> TransformCall:
        if isinstance(raw, str):
            return cls(name=raw)
        if isinstance(raw, dict) and len(raw) == 1:
            (name, params), = raw.items()
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise ValueError(f"parameters of transform '{name}' must be a mapping")
            return cls(name=str(name), params=params)
        raise ValueError("a transform is a name, or a one-key mapping {name: {param: value}}")


def _calls(raw: Any) -> list[TransformCall]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raw = [raw]
    return [c if isinstance(c, TransformCall) else TransformCall.parse(c) for c in raw]


class SourceSpec(_Strict):
    table: str = Field(description="legacy table name, as in the data dictionary")
    key: str | None = Field(
        description="primary key column; extraction is keyset-ordered on it (binary order for text). "
                    "null only for small keyless reference tables, which are read in one chunk")
    key_type: Literal["int", "text"] = "int"
    columns: list[str] = Field(description="every column of the legacy table")
    free_text: list[str] = Field(
        default_factory=list,
        description="free-text columns, whose tabs and line breaks are kept; every other column loses "
                    "them with the other control characters (the row flagged control_chars_removed)")
    delta: DeltaSpec | None = None


class DeltaSpec(_Strict):
    strategy: Literal["watermark", "batch", "append_only", "reference"] = Field(
        description="how changes are found during the parallel run (see the data dictionary)")
    watermark_column: str | None = None
    batch_column: str | None = None
    overlap_minutes: int = Field(120, ge=0)


class PersonalDataSpec(_Strict):
    drop: list[str] = Field(default_factory=list, description="columns never extracted (passwords)")
    scrub: dict[str, str] = Field(
        default_factory=dict,
        description="column → python-only transform applied before the row leaves Python (ISTV free text)")


class WinnerOrder(_Strict):
    expr: str = Field(description="a source column, or lookup.column")
    type: Literal["int", "text"] = Field("int", description="compare as whole numbers or as text (C order)")
    equals: str | None = Field(None, description="order by (expr = this value) instead of by expr")
    order: Literal["asc", "desc"] = "desc"


class DuplicateSpec(_Strict):
    partition: list[str] | None = Field(
        None, description="legacy columns or text derive outputs (e.g. a normalised code) grouping duplicates "
                          "(default: the business key)")
    winner: list[WinnerOrder] = Field(description="ordering; the first row of each group wins")
    reason: str = Field("DUPLICATE_MERGED", description="why the losers are merged")


class LookupSpec(_Strict):
    table: str = Field(description="reference table loaded by an earlier stage, schema.table")
    match: dict[str, str] = Field(description="reference column → source column")
    columns: list[str]


class BusinessKeySpec(_Strict):
    columns: list[str] = Field(description="legacy columns (trimmed) or derive outputs (e.g. a padded code), "
                                           "joined with '|' when more than one; a derived key cannot be used "
                                           "by the derives themselves")

    @field_validator("columns", mode="before")
    @classmethod
    def _one(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class DeriveSpec(_Strict):
    transform: str
    args: list[str] = Field(description="inputs, in the transform's order: source columns or derive.output")
    params: dict[str, Any] = Field(default_factory=dict)
    comment: str | None = None

    @field_validator("args", mode="before")
    @classmethod
    def _one_arg(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class ConditionSpec(_Strict):
    """A row predicate: one of the forms below."""

    column: str | None = Field(None, description="a source column, derive.output or lookup.column")
    in_: list[Any] | None = Field(None, alias="in")
    is_null: bool | None = None
    not_null: bool | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ConditionSpec:
        forms = [f for f in (self.in_, self.is_null, self.not_null) if f is not None]
        if self.column is None or len(forms) != 1:
            raise ValueError("a condition is {column: X, in: [...]} or {column: X, is_null: true} "
                             "or {column: X, not_null: true}")
        return self


class RuleSpec(_Strict):
    reason: str | None = Field(None, description="reason code; for `reject` rules the transform's own code")
    reject: str | None = Field(None, description="a derive whose `reject` output, when set, quarantines the row")
    when: ConditionSpec | None = None
    fields: list[str] = Field(description="legacy fields named in the quarantine/filter record")
    comment: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RuleSpec:
        if (self.reject is None) == (self.when is None):
            raise ValueError("a rule has exactly one of `reject: <derive>` or `when: <condition>`")
        if self.when is not None and not self.reason:
            raise ValueError("a `when` rule needs a `reason` code")
        return self


class ColumnSpec(_Strict):
    from_: list[str] | None = Field(None, alias="from")
    via: list[TransformCall] = Field(default_factory=list)
    const: Any = None
    default: Any = None
    flags: list[str] | None = Field(None, description="derives whose flags are concatenated (in this order)")
    comment: str | None = None

    @field_validator("from_", mode="before")
    @classmethod
    def _from_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("via", mode="before")
    @classmethod
    def _via(cls, v: Any) -> Any:
        return _calls(v)

    @model_validator(mode="after")
    def _one_form(self) -> ColumnSpec:
        set_ = self.model_fields_set
        forms = [k for k in ("from_", "const", "default", "flags") if k in set_]
        if len(forms) != 1:
            raise ValueError("a target column has exactly one of `from`, `const`, `default` or `flags`")
        if self.via and "from_" not in set_:
            raise ValueError("`via` needs `from`")
        return self

    @property
    def kind(self) -> str:
        for k in ("from_", "const", "default", "flags"):
            if k in self.model_fields_set:
                return k.rstrip("_")
        raise AssertionError("unreachable")


class ExplodeSpec(_Strict):
    """One target row per item of a list: ``from`` must yield a text[] (e.g. split_list)."""

    name: str = Field(description="the item is addressed as row.<name>")
    from_: str = Field(alias="from", description="a derive.output of type text[]")


class TargetSpec(_Strict):
    link: str | None = Field(None, description="parent target table whose surrogate key this table carries")
    explode: list[ExplodeSpec] = Field(default_factory=list)
    where: list[ConditionSpec] = Field(default_factory=list,
                                       description="rows of this target are written only where all hold")
    columns: dict[str, ColumnSpec]
    comment: str | None = None


class SeedSpec(_Strict):
    """Reference rows that come with the migration itself (migration/refdata/*.csv), not from legacy."""

    file: str = Field(description="CSV file in migration/refdata/")
    target: str = Field(description="schema.table")
    columns: dict[str, str] = Field(description="target column → CSV column")
    load: Literal["before_tables", "after_tables"] = Field(
        "before_tables", description="load before the stage's legacy tables, or after them")
    comment: str | None = None


class TableMappingSpec(_Strict):
    source: SourceSpec
    personal_data: PersonalDataSpec = Field(default_factory=PersonalDataSpec)
    business_key: BusinessKeySpec
    duplicates: DuplicateSpec | None = None
    lookups: dict[str, LookupSpec] = Field(default_factory=dict)
    derive: dict[str, DeriveSpec] = Field(default_factory=dict)
    filters: list[RuleSpec] = Field(default_factory=list)
    quarantine: list[RuleSpec] = Field(default_factory=list)
    targets: dict[str, TargetSpec]
    not_migrated: dict[str, str] = Field(default_factory=dict,
                                         description="legacy column → why it is deliberately not carried over")


class StageSpec(_Strict):
    stage: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    depends_on: list[str] = Field(default_factory=list)
    dataset: str | None = Field(None, description="core.incident dataset this stage owns, if any")
    seeds: list[SeedSpec] = Field(default_factory=list,
                                  description="reference rows shipped with the migration")
    tables: list[TableMappingSpec] = Field(default_factory=list)
    comment: str | None = None
    # set by the loader
    file: str = Field("", exclude=True)


SourceSpec.model_rebuild()
