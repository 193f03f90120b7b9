"""The JSON Schema of the mapping language, for editors."""

from __future__ import annotations

from typing import Any

from migration.mapping import transforms
from migration.mapping.spec import (
    StageSpec,
)
from migration.schema import models


def language_schema() -> dict[str, Any]:
    """JSON Schema of a mapping file, for editors (YAML language servers) to complete and check.

    pydantic's schema describes the parsed form; the YAML has shorthands the models accept
    before validation (one string where a list is expected, ``via: [name, {name: {params}}]``),
    so those are widened here, and every transform's name and parameters are spelled out.
    """
    schema = StageSpec.model_json_schema(by_alias=True)
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    schema["properties"].pop("file", None)
    names = sorted(transforms.REGISTRY)
    scrubbers = sorted(n for n, t in transforms.REGISTRY.items() if t.python_only)
    params_refs: dict[str, dict[str, Any]] = {}
    for name in names:
        ps = transforms.REGISTRY[name].params_model.model_json_schema()
        for k, v in ps.pop("$defs", {}).items():
            defs.setdefault(k, v)
        key = f"Params_{name}"
        ps.setdefault("title", f"parameters of {name}")
        defs[key] = ps
        params_refs[name] = {"$ref": f"#/$defs/{key}"}

    def one_or_many(item: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [item, {"type": "array", "items": item}]}

    call_forms: list[dict[str, Any]] = [{"type": "string", "enum": names}]
    for name in names:
        t = transforms.REGISTRY[name]
        call_forms.append({
            "type": "object", "additionalProperties": False, "required": [name],
            "properties": {name: {"anyOf": [params_refs[name], {"type": "null"}]}},
            "description": t.summary,
        })
    defs["TransformCall"] = {"title": "TransformCall", "description": "a transform name, or {name: {param: value}}",
                             "anyOf": call_forms}
    col = defs["ColumnSpec"]
    col["properties"]["from"] = {**one_or_many({"type": "string"}), "description":
                                 "a source column, derive.output, lookup.column, key or row.<name>"}
    col["properties"]["via"] = {**one_or_many({"$ref": "#/$defs/TransformCall"}),
                                "description": "transforms applied in order (first takes every `from` input)"}
    col["oneOf"] = [{"required": [k]} for k in ("from", "const", "default", "flags")]
    derive = defs["DeriveSpec"]
    derive["properties"]["transform"] = {"type": "string", "enum": names,
                                         "description": "; ".join(f"{n}: {transforms.REGISTRY[n].summary}" for n in names)}
    derive["properties"]["args"] = {**one_or_many({"type": "string"}),
                                    "description": derive["properties"]["args"].get("description", "")}
    derive["allOf"] = [{"if": {"properties": {"transform": {"const": n}}, "required": ["transform"]},
                        "then": {"properties": {"params": params_refs[n]}}} for n in names]
    defs["BusinessKeySpec"]["properties"]["columns"] = one_or_many({"type": "string"})
    if scrubbers:
        defs["PersonalDataSpec"]["properties"]["scrub"]["additionalProperties"] = {"type": "string", "enum": scrubbers}
    defs["RuleSpec"]["oneOf"] = [{"required": ["reject"]}, {"required": ["when"]}]
    defs["ConditionSpec"]["required"] = ["column"]
    defs["ConditionSpec"]["oneOf"] = [{"required": [k]} for k in ("in", "is_null", "not_null")]
    data_tables = [t.fullname for t in models.DATA_TABLES]
    defs["TargetSpec"]["properties"]["link"] = {"anyOf": [{"type": "string", "enum": data_tables}, {"type": "null"}],
                                                "description": defs["TargetSpec"]["properties"]["link"].get("description")}
    defs["TableMappingSpec"]["properties"]["targets"]["propertyNames"] = {"enum": data_tables}
    defs["SeedSpec"]["properties"]["target"] = {"type": "string", "enum": data_tables,
                                                "description": "schema.table"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "SafeStats migration mapping file"
    schema["description"] = (StageSpec.__doc__ or "").strip() or "One stage of the SafeStats migration."
    return schema

