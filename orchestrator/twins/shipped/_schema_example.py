"""A deterministic instance of a JSON Schema: what the ``openai`` twin answers for structured output.

When a chat completion asks for ``response_format: {"type": "json_schema", ...}`` (or forces a
tool call whose arguments must fit a schema) and no scripted rule answers it, the twin answers
with a document that validates against the schema, built from it alone: every property of an
object (required or not), ``const``, the first ``enum`` value, the first non-null branch of
``anyOf``/``oneOf``, ``allOf`` merged, ``$ref`` to ``#/$defs/...`` or ``#/definitions/...``,
arrays of ``minItems`` items (at least one, within ``maxItems``), numbers within their bounds
and strings of the right length and common ``format``. Strings say which field they fill
(``"city"``). The same schema always gives the same document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["example_of"]

_MAX_DEPTH = 12
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "twin@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
}


def example_of(schema: Any, *, name: str = "value") -> Any:
    """A document that validates against ``schema`` (a JSON Schema as parsed JSON)."""
    root = schema if isinstance(schema, Mapping) else {}
    return _example(root, root, name, 0)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while isinstance(schema.get("$ref"), str) and seen < _MAX_DEPTH:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) if part else target
            if not isinstance(target, Mapping):
                return {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema


def _example(schema: Any, root: Mapping[str, Any], name: str, depth: int) -> Any:
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return None if depth > _MAX_DEPTH else name
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            chosen = next(
                (b for b in branches if not _is_null(_resolve(b, root) if isinstance(b, Mapping) else b)),
                branches[0],
            )
            return _example(chosen, root, name, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, Mapping):
                part = _resolve(part, root)
                merged["properties"] = {**merged.get("properties", {}), **part.get("properties", {})}
                merged.update({k: v for k, v in part.items() if k != "properties"})
        return _example(merged, root, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {key: _example(sub, root, key, depth + 1) for key, sub in properties.items()}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        count = min(count, int(schema.get("maxItems", count)))
        items = schema.get("items", {})
        if isinstance(schema.get("prefixItems"), list):
            return [_example(item, root, name, depth + 1) for item in schema["prefixItems"]]
        return [_example(items, root, name, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name)


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = (
        1 if low is None else low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    )
    if high is not None and value > high:
        value = high - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0:
        value = math.ceil(value / step) * step
    return math.ceil(value) if integer else float(value)


def _string(schema: Mapping[str, Any], name: str) -> str:
    text = _FORMATS.get(str(schema.get("format", "")), name)
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    if len(text) < low:
        text = text + "x" * (low - len(text))
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    return text
