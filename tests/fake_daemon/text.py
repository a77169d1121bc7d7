"""Made-up model output: deterministic answer text, values that fit a JSON schema, tool calls,
embeddings whose directions follow shared words, and the context tokens of a generate call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fake_daemon.goformat import _tokenize

_WORDS = (
    "The",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "while",
    "a",
    "gentle",
    "breeze",
    "moves",
    "through",
    "tall",
    "green",
    "grass",
    "near",
    "the",
    "quiet",
    "river",
    "bank",
    "under",
    "a",
    "pale",
    "morning",
    "sky",
)

_THINKING_TEXT = "Okay, the user is asking something simple. Let me answer briefly and clearly."


def _default_text(seed_text: str, count: int) -> str:
    if count <= 0:
        return ""
    offset = zlib.crc32(seed_text.encode()) % len(_WORDS)
    words = [_WORDS[(offset + i) % len(_WORDS)].lower() for i in range(count)]
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + "."


def _value_for_schema(schema: Any, hint: str, depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > 6:
        return hint
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        props = schema.get("properties")
        if not isinstance(props, dict):
            return {}
        required = schema.get("required")
        names = (
            list(props)
            if not isinstance(required, list)
            else [*required] + [p for p in props if p not in required]
        )
        return {
            name: _value_for_schema(props.get(name), f"{hint} {name}".strip(), depth + 1)
            for name in names
            if name in props
        }
    if kind == "array":
        return [_value_for_schema(schema.get("items"), hint, depth + 1)]
    if kind == "integer":
        return 42
    if kind == "number":
        return 3.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return hint


def _tool_arguments(tool: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
    assert isinstance(function, dict)
    name = str(function.get("name") or "tool")
    params = function.get("parameters")
    arguments: dict[str, Any] = {}
    if isinstance(params, dict) and isinstance(params.get("properties"), dict):
        props: dict[str, Any] = params["properties"]
        required = params.get("required")
        names = required if isinstance(required, list) and required else list(props)
        for prop in names:
            schema = props.get(prop)
            value = _value_for_schema(schema, "Tokyo" if "city" in prop else "example")
            arguments[str(prop)] = value
    return name, arguments


def _tool_call_id(seed: str) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    digest = hashlib.sha256(seed.encode()).digest()
    return "call_" + "".join(alphabet[b % len(alphabet)] for b in digest[:8])


def _normalise_tool_call(call: Mapping[str, Any], index: int, seed: str) -> dict[str, Any]:
    function = call.get("function") if isinstance(call.get("function"), dict) else call
    assert isinstance(function, Mapping)
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):
            arguments = json.loads(arguments)
    return {
        "id": str(call.get("id") or _tool_call_id(f"{seed}:{index}")),
        "function": {
            "index": index,
            "name": str(function.get("name", "")),
            "arguments": arguments if isinstance(arguments, dict) else {},
        },
    }


def _embedding(seed: str, text: str, dims: int) -> list[float]:
    """Deterministic unit vector; texts that share words point in similar directions."""
    rng = random.Random(zlib.crc32(f"{seed}\x00{text}".encode()))
    vector = [rng.gauss(0.0, 0.35) for _ in range(dims)]
    for word in text.lower().split()[:512]:
        word_rng = random.Random(zlib.crc32(f"{seed}\x01{word}".encode()))
        for _ in range(12):
            vector[word_rng.randrange(dims)] += 1.0 if word_rng.random() < 0.5 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _context_tokens(prompt: str, answer: str) -> list[int]:
    words = prompt.split() + _tokenize(answer)
    return [128006, 9125, *(zlib.crc32(w.encode()) % 128000 for w in words)]
