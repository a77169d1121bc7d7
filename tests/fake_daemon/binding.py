"""Request binding as Gin's ``ShouldBindJSON`` does it, with Go's ``encoding/json`` error
messages: body decoding, per-field type checks, base64 images, ``keep_alive`` durations,
``think`` values, and ``api.Options.FromMap`` for the options map.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from tests.fake_cli.goparse import GoDurationError, parse_go_duration
from tests.fake_daemon.fields import _MESSAGE_FIELDS, FieldSpec
from tests.fake_daemon.goformat import go_float64, go_quote
from tests.fake_daemon.wire import THINK_LEVELS, _ApiError


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _quote_char(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + json.dumps(ch, ensure_ascii=False)[1:-1] + "'"


def _container_at(text: str, pos: int) -> str:
    stack: list[str] = []
    in_string = escaped = False
    for ch in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _go_json_error(text: str, exc: json.JSONDecodeError) -> str:
    pos = exc.pos
    if pos >= len(text) or exc.msg.startswith("Unterminated string"):
        return "unexpected EOF"
    ch = text[pos]
    if exc.msg.startswith("Invalid \\escape"):
        following = text[pos + 1] if pos + 1 < len(text) else ""
        return f"invalid character {_quote_char(following)} in string escape code"
    if exc.msg.startswith("Invalid control character"):
        return f"invalid character {_quote_char(ch)} in string literal"
    if exc.msg.startswith("Expecting property name"):
        return f"invalid character {_quote_char(ch)} looking for beginning of object key string"
    if exc.msg.startswith("Expecting ':'"):
        return f"invalid character {_quote_char(ch)} after object key"
    if exc.msg.startswith("Expecting ','"):
        if _container_at(text, pos) == "[":
            return f"invalid character {_quote_char(ch)} after array element"
        return f"invalid character {_quote_char(ch)} after object key:value pair"
    return f"invalid character {_quote_char(ch)} looking for beginning of value"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _decode_json_body(body: bytes, struct_name: str) -> dict[str, Any]:
    text = body.decode("utf-8", errors="replace").lstrip(" \t\r\n")
    if not text:
        raise _ApiError(400, "missing request body")
    try:
        value, _end = _DECODER.raw_decode(text)
    except json.JSONDecodeError as exc:
        raise _ApiError(400, _go_json_error(text, exc)) from None
    except ValueError as exc:
        first = "I" if str(exc).startswith("-") else str(exc)[:1]
        raise _ApiError(
            400, f"invalid character '{first}' looking for beginning of value"
        ) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _ApiError(
            400,
            f"json: cannot unmarshal {_json_type(value)} into Go value of type api.{struct_name}",
        )
    return value


_BASE64_RE = re.compile(r"[A-Za-z0-9+/=\r\n]*")


def _base64_error(text: str) -> str | None:
    for index, ch in enumerate(text):
        if not (ch.isascii() and (ch.isalnum() or ch in "+/=\r\n")):
            return f"illegal base64 data at input byte {index}"
    try:
        base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        stripped = text.rstrip("=")
        return f"illegal base64 data at input byte {max(0, len(stripped) - len(stripped) % 4)}"
    return None


def _type_ok(value: Any, gotype: str) -> bool:
    if gotype == "string":
        return isinstance(value, str)
    if gotype == "bool":
        return isinstance(value, bool)
    if gotype == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if gotype == "[]int":
        return isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
    if gotype in ("map[string]interface {}",):
        return isinstance(value, dict)
    if gotype == "map[string]string":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if gotype in ("api.Tools", "[]api.ToolCall"):
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    return True


def _type_error(struct_name: str, path: str, value: Any, gotype: str) -> str:
    kind = _json_type(value)
    if kind == "number" and isinstance(value, float) and gotype == "int":
        kind = f"number {go_float64(value)}"
    if gotype == "[]int" and isinstance(value, list):
        gotype = "int"
        bad = next(v for v in value if not (isinstance(v, int) and not isinstance(v, bool)))
        kind = _json_type(bad)
    return (
        f"json: cannot unmarshal {kind} into Go struct field {struct_name}.{path} of type {gotype}"
    )


def _parse_keep_alive(value: Any) -> float | None:
    """Seconds; ``None`` = forever (negative). Raises ``_ApiError`` like api.Duration."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        go_type = {
            bool: "bool",
            dict: "map[string]interface {}",
            list: "[]interface {}",
        }.get(type(value), type(value).__name__)
        raise _ApiError(400, f"Unsupported type: '{go_type}'")
    if isinstance(value, str):
        try:
            seconds = parse_go_duration(value)
        except GoDurationError as exc:
            raise _ApiError(400, str(exc)) from None
    else:
        seconds = float(value)
    return None if seconds < 0 else seconds


def _parse_think(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value in THINK_LEVELS:
            return value
        raise _ApiError(
            400,
            f'invalid think value: {go_quote(value)} (must be "high", "medium", "low", "max", '
            "true, or false)",
        )
    raise _ApiError(
        400, 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)'
    )


def _bind(body: bytes, struct_name: str, fields: FieldSpec) -> dict[str, Any]:
    """Decode and type-check a request like Gin's ShouldBindJSON into an api.* struct."""
    data = _decode_json_body(body, struct_name)
    first_error: str | None = None

    def note(message: str) -> None:
        nonlocal first_error
        if first_error is None:
            first_error = message

    result: dict[str, Any] = {}
    for key, value in data.items():
        gotype = fields.get(key)
        if gotype is None:
            continue  # unknown fields are ignored
        if value is None:
            continue
        if gotype == "duration":
            result[key] = _parse_keep_alive(value)
            result["_keep_alive_set"] = True
            continue
        if gotype == "think":
            result[key] = _parse_think(value)
            continue
        if gotype == "images":
            if not isinstance(value, list):
                note(_type_error(struct_name, key, value, "[]api.ImageData"))
                continue
            for item in value:
                if not isinstance(item, str):
                    note(_type_error(struct_name, key, item, "api.ImageData"))
                elif (err := _base64_error(item)) is not None:
                    note(err)
            result[key] = value
            continue
        if gotype == "messages":
            if not isinstance(value, list):
                note(_type_error(struct_name, key, value, "[]api.Message"))
                continue
            messages: list[dict[str, Any]] = []
            for item in value:
                if not isinstance(item, dict):
                    note(_type_error(struct_name, key, item, "api.Message"))
                    continue
                message: dict[str, Any] = {}
                for mkey, mvalue in item.items():
                    mtype = _MESSAGE_FIELDS.get(mkey)
                    if mtype is None or mvalue is None:
                        continue
                    if mtype == "images":
                        if not isinstance(mvalue, list):
                            note(
                                _type_error(struct_name, f"{key}.{mkey}", mvalue, "[]api.ImageData")
                            )
                            continue
                        for image in mvalue:
                            if isinstance(image, str) and (err := _base64_error(image)):
                                note(err)
                    elif not _type_ok(mvalue, mtype):
                        note(_type_error(struct_name, f"{key}.{mkey}", mvalue, mtype))
                        continue
                    message[mkey] = mvalue
                if isinstance(message.get("role"), str):
                    message["role"] = message["role"].lower()
                messages.append(message)
            result[key] = messages
            continue
        if not _type_ok(value, gotype):
            note(_type_error(struct_name, key, value, gotype))
            continue
        result[key] = value
    if first_error is not None:
        raise _ApiError(400, first_error)
    return result


_FLOAT_OPTIONS = frozenset(
    {
        "temperature",
        "top_p",
        "min_p",
        "typical_p",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
    }
)

_INT_OPTIONS = frozenset(
    {
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
        "num_keep",
        "seed",
        "num_predict",
        "top_k",
        "repeat_last_n",
        "draft_num_predict",
    }
)


def _check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """api.Options.FromMap: unknown keys ignored, wrong types → 500."""
    parsed: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in _FLOAT_OPTIONS:
            if not number:
                raise _ApiError(500, f"option {go_quote(key)} must be of type float32")
            parsed[key] = float(value)
        elif key in _INT_OPTIONS:
            if not number:
                raise _ApiError(500, f"option {go_quote(key)} must be of type integer")
            parsed[key] = int(value)
        elif key == "use_mmap":
            if not isinstance(value, bool):
                raise _ApiError(500, f"option {go_quote(key)} must be of type boolean")
            parsed[key] = value
        elif key == "stop":
            if not isinstance(value, list):
                raise _ApiError(500, f"option {go_quote(key)} must be of type array")
            if not all(isinstance(v, str) for v in value):
                raise _ApiError(500, f"option {go_quote(key)} must be of an array of strings")
            parsed[key] = list(value)
    return parsed
