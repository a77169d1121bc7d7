"""Lean argument schemas for `tools/list`: what pydantic generates, without what an agent pays
for and cannot use (titles, `null` branches of optional arguments, `additionalProperties: true`,
`$defs` used once, docstrings of nested models, string length limits the server enforces).

The result is still a correct schema for what the tool accepts: an object nested in an argument
is shown as `{"type": "object"}` and checked by the server. (Result schemas: `output_schemas.py`.)
"""

from __future__ import annotations

from typing import Any

__all__ = ["lean_input_schema"]

Schema = dict[str, Any]
_DEFS_PREFIX = "#/$defs/"
# Keywords whose value is a schema, or a list or mapping of schemas.
_ONE = ("items", "additionalProperties", "not", "contains")
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_NAMED = ("properties", "$defs", "patternProperties")


# Objects nested deeper than this are shown as `{"type": "object"}`: an agent needs the names
# and types of what it sends; the shape of an object inside one (a chat message) is told by the
# argument's description.
DEPTH = 1
# Safety limits on string lengths are enforced by the server; an agent has no use for them.
_SERVER_SIDE = frozenset({"minLength", "maxLength"})


def lean_input_schema(schema: Schema) -> Schema:
    """An argument schema: argument descriptions kept, models' own docstrings dropped; an
    optional argument is simply its type (leaving it out is how an agent says "none").

    No `additionalProperties: false`: the server refuses an unknown argument itself, with what
    to send instead, where a client that read the schema would refuse it with less to go on.
    """
    lean: Schema = _lean(_inline(schema), depth=1)
    return lean


def _is_object(node: Schema) -> bool:
    return node.get("type") == "object" or "properties" in node


def _lean(node: Any, *, depth: int, field: bool = False) -> Any:
    if not isinstance(node, dict):
        return node
    if _is_object(node) and depth > DEPTH:
        kept = {k: v for k, v in node.items() if k == "description" and field}
        node = {"type": "object", **kept}
    inner = depth + 1 if _is_object(node) else depth
    out: Schema = {}
    for key, value in node.items():
        if key in _ONE and isinstance(value, dict):
            out[key] = _lean(value, depth=depth if key == "items" else inner)
        elif key in _MANY:
            out[key] = [_lean(item, depth=depth) for item in value]
        elif key in _NAMED:
            out[key] = {
                name: _lean(item, depth=inner, field=key == "properties")
                for name, item in value.items()
            }
        elif not _dropped(key, value, node, field=field):
            out[key] = value
    if out.get("additionalProperties") is True:
        del out["additionalProperties"]
    return _merge_types(_drop_null(out))


def _dropped(key: str, value: Any, node: Schema, *, field: bool) -> bool:
    if key == "title" or key in _SERVER_SIDE:
        return True
    if key == "default" and (value is None or value is False or value == ""):
        return True
    # An argument's description stays; a nested model's docstring (an object with properties
    # that is not itself an argument) goes.
    return key == "description" and "properties" in node and not field


def _drop_null(node: Schema) -> Schema:
    """`anyOf: [X, {type: null}]` as X: an optional argument is simply left out."""
    branches = node.get("anyOf")
    if not isinstance(branches, list) or {"type": "null"} not in branches:
        return node
    others = [b for b in branches if b != {"type": "null"}]
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if len(others) == 1 and isinstance(others[0], dict):
        return {**others[0], **rest}
    return {**rest, "anyOf": others}


def _merge_types(node: Schema) -> Schema:
    """`anyOf` of bare types as one `type` list: `{"type": ["string", "integer"]}`."""
    branches = node.get("anyOf")
    if not isinstance(branches, list) or not all(
        isinstance(b, dict) and set(b) == {"type"} and isinstance(b["type"], str) for b in branches
    ):
        return node
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    return {"type": [b["type"] for b in branches], **rest}


def _inline(schema: Schema) -> Schema:
    """Replace each `$ref` to a definition used once (and not recursive) by the definition."""
    defs: dict[str, Schema] = schema.get("$defs", {})
    if not defs:
        return schema
    counts: dict[str, int] = {}
    _count_refs(schema, counts)
    inlinable = {name for name in defs if counts.get(name, 0) == 1 and not _recursive(name, defs)}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.removeprefix(_DEFS_PREFIX) in inlinable:
            siblings = {k: walk(v) for k, v in node.items() if k != "$ref"}
            return {**walk(defs[ref.removeprefix(_DEFS_PREFIX)]), **siblings}
        return {k: walk(v) for k, v in node.items() if k != "$defs"}

    inlined: Schema = walk(schema)
    kept = {name: walk(d) for name, d in defs.items() if name not in inlinable}
    if kept:
        inlined["$defs"] = kept
    return inlined


def _count_refs(node: Any, counts: dict[str, int]) -> None:
    if isinstance(node, list):
        for item in node:
            _count_refs(item, counts)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
            name = ref.removeprefix(_DEFS_PREFIX)
            counts[name] = counts.get(name, 0) + 1
        for value in node.values():
            _count_refs(value, counts)


def _recursive(name: str, defs: dict[str, Schema]) -> bool:
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        refs: dict[str, int] = {}
        _count_refs(defs.get(current, {}), refs)
        if name in refs:
            return True
        stack += [r for r in refs if r not in seen]
        seen |= set(refs)
    return False
