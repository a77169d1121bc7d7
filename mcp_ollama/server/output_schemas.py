"""The `outputSchema` of a tool, read straight off its result model's fields: each top-level
field's name and JSON type, nested objects as `{"type": "object"}`.

That is all an agent needs (it reads the text content; the field names say what the structured
content holds), and reading annotations costs next to nothing at start-up, where generating
pydantic's full JSON schema for every result took half the time of registering the tools.
Every schema here accepts what `model_dump(mode="json", exclude_none=True)` produces: a type it
does not know becomes `{}` (anything), and no field is `required` (null ones are left out).
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping, Sequence, Set
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["output_schema"]

Schema = dict[str, Any]
_SCALARS: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


def output_schema(model: type[BaseModel], *, several_hosts: bool = True) -> Schema:
    """The lean schema of a tool's result; with one host, without the fields only several
    hosts set (`results.FLEET_ONLY`).

    >>> from mcp_ollama.results import ModelList, OperationResult
    >>> output_schema(OperationResult)
    {'type': 'object', 'properties': {'ok': {'type': 'boolean'}, 'message': {'type': 'string'}}}
    >>> [output_schema(ModelList)["properties"][name] for name in ("models", "served_by")]
    [{'type': 'array'}, {'type': 'string', 'enum': ['http', 'cli']}]
    """
    properties = {
        field.alias or name: _schema(field.annotation)
        for name, field in model.model_fields.items()
        if several_hosts or not _fleet_only(field)
    }
    return {"type": "object", "properties": properties}


def _fleet_only(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("fleet_only"))


def _schema(annotation: Any) -> Schema:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _schema(arguments[0])
    if origin in (typing.Union, types.UnionType):
        # A null branch needs no schema: null fields are left out of the structured content.
        options = [_schema(a) for a in arguments if a is not type(None)]
        return options[0] if len(options) == 1 else _any_of(options)
    if origin is typing.Literal:
        return _literal(arguments)
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return {"type": "object"}
    if isinstance(origin, type) and issubclass(origin, Sequence | Set) and origin is not str:
        # Objects in a list are one level too deep to describe: only scalars say what they are.
        items = _schema(arguments[0]) if arguments else {}
        scalar = items and items.get("type") != "object"
        return {"type": "array", "items": items} if scalar else {"type": "array"}
    if not isinstance(annotation, type):
        return {}
    if issubclass(annotation, enum.Enum):
        return _literal(tuple(member.value for member in annotation))
    for kind, name in _SCALARS.items():
        if issubclass(annotation, kind):
            return {"type": name}
    if issubclass(annotation, BaseModel | Mapping) or typing.is_typeddict(annotation):
        return {"type": "object"}
    return {}


def _literal(values: tuple[Any, ...]) -> Schema:
    kinds = {_SCALARS.get(type(value)) for value in values}
    schema: Schema = {"type": kinds.pop()} if len(kinds) == 1 and None not in kinds else {}
    return {**schema, "enum": list(values)}


def _any_of(options: list[Schema]) -> Schema:
    if any(not option for option in options):
        return {}
    if all(set(option) == {"type"} and isinstance(option["type"], str) for option in options):
        return {"type": [option["type"] for option in options]}
    return {"anyOf": options}
