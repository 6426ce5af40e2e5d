"""JSON Schema -> the OpenAPI subset that Gemini's `Schema` proto accepts (the
reference's *toGenAISchema* + *cleanup* helpers, applied).

Gemini (AI Studio and Vertex) rejects whole requests for keywords outside its subset
(`additionalProperties`, `$schema`, `const`, `oneOf`, ...), for `required` names that are not
properties, for non-string enums, and for arrays without `items`. Claude Code and MCP servers send
full JSON Schema, so every tool schema goes through `to_gemini_schema`. It builds new dicts and
never mutates the client's schema (those objects are shared with the request body).
"""

from __future__ import annotations

from typing import Any

from ....jsonutil import dumps

_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
# Formats Gemini accepts per type; anything else is dropped rather than rejected upstream.
_FORMATS = {"STRING": {"enum", "date-time"}, "NUMBER": {"float", "double"}, "INTEGER": {"int32", "int64"}}
_COPIED = ("title", "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties",
           "minimum", "maximum", "pattern", "propertyOrdering")
_MAX_DEPTH = 40  # deeper schemas (or recursive $refs) are cut to a bare OBJECT


def to_gemini_schema(schema: Any) -> dict[str, Any]:
    """Convert one JSON Schema (the root of a tool's parameters) to Gemini's Schema subset."""
    if not isinstance(schema, dict):
        return {}
    return _convert(schema, schema, 0, ())


def function_parameters(schema: Any) -> dict[str, Any] | None:
    """`parameters` for a functionDeclaration, or None when the tool takes no arguments
    (Gemini rejects an OBJECT whose `properties` is empty)."""
    converted = to_gemini_schema(schema)
    return converted if converted.get("type") == "OBJECT" and converted.get("properties") else None


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any] | None:
    """A local JSON pointer (`#/$defs/X`, `#/definitions/X`, `#/properties/a`), or None."""
    if not ref.startswith("#"):
        return None
    node: Any = root
    for token in ref[1:].split("/"):
        if not token:
            continue
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node if isinstance(node, dict) else None


def _expand(schema: dict[str, Any], root: dict[str, Any], refs: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]] | None:
    """Inline `$ref` and merge `allOf`; None marks a recursive reference."""
    while isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        target = _resolve(root, ref)
        if ref in refs or target is None:
            return None
        refs = (*refs, ref)
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings}
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        properties = dict(merged.get("properties") or {})
        required = list(merged.get("required") or [])
        for part in all_of:
            if not isinstance(part, dict):
                continue
            expanded = _expand(part, root, refs)
            if expanded is None:
                continue
            part = expanded[0]
            properties.update(part.get("properties") or {})
            required.extend(r for r in part.get("required") or [] if r not in required)
            for key, value in part.items():
                merged.setdefault(key, value)
        if properties:
            merged["properties"] = properties
        if required:
            merged["required"] = required
        schema = merged
    return schema, refs


def _convert(schema: dict[str, Any], root: dict[str, Any], depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
    expanded = _expand(schema, root, refs) if depth < _MAX_DEPTH else None
    if expanded is None:
        out: dict[str, Any] = {"type": "OBJECT"}
        if isinstance(schema.get("description"), str):
            out["description"] = schema["description"]
        return out
    schema, refs = expanded
    out = {}
    nullable = schema.get("nullable") is True

    kind = schema.get("type")
    if isinstance(kind, list):
        names = [t for t in kind if isinstance(t, str)]
        nullable = nullable or "null" in names
        names = [t for t in names if t != "null"]
        if len(names) > 1:  # ["string","number"] -> anyOf of the single types
            rest = {k: v for k, v in schema.items() if k not in ("type", "nullable")}
            variants = [{**rest, "type": name} for name in names]
            return _with_nullable(_any_of(variants, schema, root, depth, refs), nullable)
        kind = names[0] if names else None
    elif kind == "null":
        nullable, kind = True, None
    gemini_type = _TYPES.get(kind) if isinstance(kind, str) else None

    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(alternatives, list) and alternatives:
        non_null = [v for v in alternatives if not (isinstance(v, dict) and v.get("type") == "null")]
        nullable = nullable or len(non_null) < len(alternatives)
        if len(non_null) == 1 and isinstance(non_null[0], dict):
            # {anyOf:[X, {type:null}]}: X itself, nullable; the outer description wins.
            inner = _convert(non_null[0], root, depth + 1, refs)
            for key in ("description", "title"):
                if isinstance(schema.get(key), str):
                    inner[key] = schema[key]
            return _with_nullable(inner, nullable)
        if non_null:
            converted = _any_of(non_null, schema, root, depth, refs)
            if gemini_type is None:
                return _with_nullable(converted, nullable)
            out["anyOf"] = converted["anyOf"]

    if gemini_type is None and "anyOf" not in out:
        # Gemini rejects a node without a type ("schema didn't specify the schema type field"):
        # infer it from the keywords present, else STRING, the type any value can be written in.
        gemini_type = _infer_type(schema)
    if gemini_type:
        out["type"] = gemini_type

    description = schema.get("description") if isinstance(schema.get("description"), str) else ""
    if "default" in schema and schema["default"] is not None:
        # Gemini's `default` support differs between API versions; the model only needs to know it.
        hint = f"(default: {dumps(schema['default'])})"
        description = f"{description} {hint}" if description else hint
    if description:
        out["description"] = description

    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(gemini_type or "", ()):
        out["format"] = fmt
    enum = schema.get("enum")
    if not isinstance(enum, list) and "const" in schema:
        enum = [schema["const"]]
    if isinstance(enum, list) and enum and gemini_type == "STRING" and all(isinstance(v, str) for v in enum):
        out["enum"] = list(enum)
    for key in _COPIED:
        if key in schema and schema[key] is not None:
            out[key] = schema[key]

    if gemini_type == "OBJECT":
        properties = schema.get("properties")
        if isinstance(properties, dict) and properties:
            out["properties"] = {
                name: _convert(value, root, depth + 1, refs) if isinstance(value, dict) else {}
                for name, value in properties.items()
            }
            required = [r for r in schema.get("required") or () if isinstance(r, str) and r in properties]
            if required:
                out["required"] = required
    elif gemini_type == "ARRAY":
        items = schema.get("items")
        if isinstance(items, list):  # tuple validation: the first item type is the best guess
            items = items[0] if items else None
        out["items"] = _convert(items, root, depth + 1, refs) if isinstance(items, dict) and items else {"type": "STRING"}
    return _with_nullable(out, nullable)


def _infer_type(schema: dict[str, Any]) -> str:
    if isinstance(schema.get("properties"), dict):
        return "OBJECT"
    if "items" in schema:
        return "ARRAY"
    values = schema.get("enum") if isinstance(schema.get("enum"), list) else [schema["const"]] if "const" in schema else []
    if values and all(isinstance(v, bool) for v in values):
        return "BOOLEAN"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INTEGER"
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "NUMBER"
    return "STRING"


def _any_of(variants: list[Any], schema: dict[str, Any], root: dict[str, Any], depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"anyOf": [_convert(v, root, depth + 1, refs) for v in variants if isinstance(v, dict)]}
    if isinstance(schema.get("description"), str):
        out["description"] = schema["description"]
    return out


def _with_nullable(out: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if nullable:
        out["nullable"] = True
    return out
