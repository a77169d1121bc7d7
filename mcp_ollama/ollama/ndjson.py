"""NDJSON, the stream format of Ollama's generate, chat, pull and create: one JSON object per
line, where a line `{"error": ...}` is a failure mid-stream (the HTTP status is already 200)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

from mcp_ollama.errors import MalformedResponseError, OllamaResponseError

__all__ = ["iter_ndjson"]


async def iter_ndjson(chunks: AsyncIterable[bytes]) -> AsyncGenerator[dict[str, Any], None]:
    """Decode NDJSON objects from byte chunks split anywhere, even inside a UTF-8 character.

    Raises:
        OllamaResponseError: a line is `{"error": ...}` (Ollama fails mid-stream with HTTP 200).
        MalformedResponseError: a line is not a JSON object.
    """
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) != -1:
            line = bytes(buffer[start:end])
            start = end + 1
            if line.strip():
                yield _decode_line(line)
        del buffer[:start]
    if buffer.strip():
        yield _decode_line(bytes(buffer))


def _decode_line(line: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise MalformedResponseError(f"a stream line is not JSON: {line[:80]!r}") from exc
    if not isinstance(obj, dict):
        raise MalformedResponseError(f"a stream line is not a JSON object: {line[:80]!r}")
    if "error" in obj:
        raise OllamaResponseError(str(obj["error"]), -1)
    return obj
