"""NDJSON decoding is independent of how the bytes are chunked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_ollama.errors import MalformedResponseError, OllamaResponseError
from mcp_ollama.ollama.ndjson import iter_ndjson

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
objects = st.dictionaries(
    st.sampled_from(["response", "done", "x", "ünï", "🦙"]), json_values, max_size=4
)


async def _chunks(data: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted(set(cuts)):
        yield data[start:cut]
        start = cut
    yield data[start:]


async def _decode(data: bytes, cuts: list[int]) -> list[dict[str, object]]:
    return [obj async for obj in iter_ndjson(_chunks(data, cuts))]


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(objects, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
    trailing_newline=st.booleans(),
)
def test_any_chunking_of_a_stream_yields_the_same_objects(
    lines: list[dict[str, object]], cuts: list[int], trailing_newline: bool
) -> None:
    data = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode("utf-8")
    if trailing_newline and data:
        data += b"\n"
    cuts = [c for c in cuts if c <= len(data)]
    assert anyio.run(_decode, data, cuts) == lines


def test_an_error_line_mid_stream_raises_with_ollamas_message() -> None:
    data = b'{"response":"a","done":false}\n{"error":"runner crashed"}\n'
    with pytest.raises(OllamaResponseError) as excinfo:
        anyio.run(_decode, data, [5])
    assert excinfo.value.error == "runner crashed"
    assert excinfo.value.status_code == -1


@pytest.mark.parametrize("line", [b"not json\n", b"[1,2]\n", b'{"response": "a"\n'])
def test_a_malformed_line_raises_malformed_response(line: bytes) -> None:
    with pytest.raises(MalformedResponseError):
        anyio.run(_decode, b'{"response":"a"}\n' + line, [])


def test_blank_lines_are_skipped() -> None:
    assert anyio.run(_decode, b'\n{"a":1}\n\n\n{"b":2}\n', [1, 4]) == [{"a": 1}, {"b": 2}]
