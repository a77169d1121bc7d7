"""A faithful fake Ollama daemon for tests.

`FakeOllama` holds the state of a pretend ``ollama serve`` (installed models, loaded models,
scripted failures, the requests it received) and exposes the HTTP API as a Starlette app.
Everything on the wire follows ``/work/shared/ollama-api.md``: field names, NDJSON streaming,
exact error bodies, status codes and content types.

Use it in-process::

    fake = FakeOllama()
    transport = httpx2.ASGITransport(app=fake.app())
    client = httpx2.Client(transport=transport, base_url="http://127.0.0.1")

on real loopback sockets (streaming, disconnects, subprocesses)::

    with serve_fake_ollama() as handle:
        ollama.Client(host=handle.url).list()

or as a process (``python -m tests.fake_ollama --port 11434``).

Fault modes (``fake.fault``), see `FAULT_MODES`:

* ``"http_500"``: 500 ``{"error": ...}`` before anything is streamed.
* ``"http_503"``: 503 ``server busy, please try again.  maximum pending requests exceeded``.
* ``"drop_mid_stream"``: a few chunks, then the connection is closed without finishing the
  chunked body (httpx: ``RemoteProtocolError``). Non-streamed responses are cut in the middle of
  the body (Content-Length not reached).
* ``"slow"``: headers and the first chunk, then silence for ``fake.stall_seconds`` (then the
  stream continues). Non-streamed requests stall before responding. Ends early on shutdown.
* ``"malformed_line"``: a line that is not JSON in the middle of the stream (then the stream
  continues). Non-streamed responses get a truncated JSON body.
* ``"error_line"``: HTTP 200 stream with an ``{"error": ...}`` line after a few chunks.
  Non-streamed responses get a 500 ``{"error": ...}``.

``fake.fault_count`` limits the fault to the next N matching requests (``None`` = until cleared).
``fake.fault_paths`` restricts it to some paths; when ``None`` every path except the liveness
endpoints (``/`` and ``/api/version``) is hit.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import decimal
import hashlib
import json
import logging
import math
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableSet,
    Sequence,
)
from typing import Any, Literal

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from tests.fake_ollama_cli import GoDurationError, parse_go_duration, parse_ollama_host

__all__ = [
    "FAULT_MODES",
    "OLLAMA_VERSION",
    "FakeModel",
    "FakeOllama",
    "FakeServerHandle",
    "NameSet",
    "RecordedRequest",
    "ScriptedResponse",
    "main",
    "parse_model_name",
    "serve_fake_ollama",
    "wait_until",
]

OLLAMA_VERSION = "0.12.3"
DEFAULT_REGISTRY = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"

FaultMode = Literal[
    "http_500", "http_503", "drop_mid_stream", "slow", "malformed_line", "error_line"
]
FAULT_MODES: tuple[str, ...] = (
    "http_500",
    "http_503",
    "drop_mid_stream",
    "slow",
    "malformed_line",
    "error_line",
)

JSON_CT = "application/json; charset=utf-8"
JSON_PLAIN_CT = "application/json"
NDJSON_CT = "application/x-ndjson"
TEXT_CT = "text/plain; charset=utf-8"
GIN_TEXT_CT = "text/plain"

BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"
RUNNER_DIED_MESSAGE = "llama runner process has terminated: exit status 2"
PULL_MISSING_MESSAGE = "pull model manifest: file does not exist"
THINK_LEVELS = ("high", "medium", "low", "max")
# Go saturates time.Now().Add(math.MaxInt64) for "keep forever".
_FOREVER_NS = 9_223_372_036_854_775_807

_log = logging.getLogger("tests.fake_ollama")


# ---------------------------------------------------------------------------------------------
# Small helpers: Go-compatible JSON, time and numbers
# ---------------------------------------------------------------------------------------------


def go_json(obj: Any) -> str:
    """Serialise like Go's ``json.Marshal``: compact, UTF-8, ``<>&`` escaped.

    >>> go_json({"template": "<|eot_id|> & more", "n": [1, 2]})
    '{"template":"\\\\u003c|eot_id|\\\\u003e \\\\u0026 more","n":[1,2]}'
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def go_quote(text: str) -> str:
    """Go's ``%q`` for ordinary strings (close enough for error messages).

    >>> go_quote('llama3.2:1b')
    '"llama3.2:1b"'
    """
    return json.dumps(text, ensure_ascii=False)


def go_time(epoch_ns: int, *, utc: bool = False) -> str:
    """Format like Go's RFC3339Nano (trailing zeros trimmed; ``Z`` for a zero offset).

    >>> go_time(1_700_000_000_123_400_000, utc=True)
    '2023-11-14T22:13:20.1234Z'
    """
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    if not utc:
        moment = moment.astimezone()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    offset = moment.utcoffset() or dt.timedelta(0)
    if offset == dt.timedelta(0):
        return text + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    hours, rem = divmod(abs(total), 3600)
    return f"{text}{sign}{hours:02d}:{rem // 60:02d}"


def _now_ns() -> int:
    return time.time_ns()


def _created_at() -> str:
    return go_time(_now_ns(), utc=True)


def _as_f32(value: float) -> float:
    packed: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return packed


def go_float32(value: float) -> str:
    """Shortest float32 text as Go's encoding/json writes it.

    >>> go_float32(0.010071029)
    '0.010071029'
    >>> go_float32(0.00005)
    '0.00005'
    >>> go_float32(1e-7)
    '1e-7'
    """
    f32 = _as_f32(value)
    if f32 == 0:
        return "0"
    digits = repr(f32)
    for precision in range(1, 10):
        candidate = f"{f32:.{precision}g}"
        if _as_f32(float(candidate)) == f32:
            digits = candidate
            break
    return _go_float_layout(float(digits), digits)


def go_float64(value: float) -> str:
    """Shortest float64 text as Go's encoding/json writes it.

    >>> go_float64(5e-05)
    '0.00005'
    >>> go_float64(-2.5)
    '-2.5'
    """
    if value == 0:
        return "0"
    return _go_float_layout(value, repr(value))


def _go_float_layout(value: float, digits: str) -> str:
    magnitude = abs(value)
    if magnitude < 1e-6 or magnitude >= 1e21:
        text = f"{decimal.Decimal(digits):e}".replace("E", "e")
        mantissa, _, exponent = text.partition("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        sign = "-" if exponent.startswith("-") else "+"
        exp_digits = exponent.lstrip("+-").lstrip("0") or "0"
        if len(exp_digits) < 2 and sign == "+":
            exp_digits = exp_digits.zfill(2)
        return f"{mantissa}e{'-' if sign == '-' else '+'}{exp_digits}"
    text = format(decimal.Decimal(digits), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _ns(seconds: float) -> int:
    return max(0, int(seconds * 1_000_000_000))


def _words(text: str) -> int:
    return len(text.split())


def _tokenize(text: str) -> list[str]:
    """Split text into pseudo tokens that concatenate back to the original text.

    >>> _tokenize("Hello there,  world.")
    ['Hello', ' there,', '  world.']
    """
    if not text:
        return []
    tokens = re.findall(r"\s*\S+", text)
    rest = text[len("".join(tokens)) :]
    if rest:
        if tokens:
            tokens[-1] += rest
        else:
            tokens.append(rest)
    return tokens


def _digest_of(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def wait_until(
    predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.005
) -> None:
    """Poll ``predicate`` until it is truthy; raise ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Model names (model.ParseName)
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ModelName:
    host: str
    namespace: str
    model: str
    tag: str

    @property
    def key(self) -> str:
        return self.full.lower()

    @property
    def full(self) -> str:
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def display(self) -> str:
        if self.host == DEFAULT_REGISTRY:
            if self.namespace == DEFAULT_NAMESPACE:
                return f"{self.model}:{self.tag}"
            return f"{self.namespace}/{self.model}:{self.tag}"
        return self.full


def _valid_part(kind: str, text: str) -> bool:
    if not text or len(text) > (350 if kind == "host" else 80):
        return False
    if not (text[0].isascii() and (text[0].isalnum() or text[0] == "_")):
        return False
    for ch in text[1:]:
        if ch in "_-":
            continue
        if ch == ".":
            if kind == "namespace":
                return False
            continue
        if ch == ":":
            if kind != "host":
                return False
            continue
        if not (ch.isascii() and ch.isalnum()):
            return False
    return True


def parse_model_name(raw: str) -> ModelName | None:
    """Parse like Ollama's ``model.ParseName`` + ``IsValid``; ``None`` when invalid.

    >>> parse_model_name("llama3.2").display
    'llama3.2:latest'
    >>> parse_model_name("MyOrg/Model:Q4").full
    'registry.ollama.ai/MyOrg/Model:Q4'
    >>> parse_model_name("bad name!") is None
    True
    """
    text = raw.strip()
    if "@" in text:
        text = text.split("@", 1)[0]
    tag = "latest"
    if text.rfind(":") > text.rfind("/"):
        text, tag = text.rsplit(":", 1)
        if not tag:
            return None
    parts = text.split("/")
    if len(parts) == 1:
        host, namespace, model = DEFAULT_REGISTRY, DEFAULT_NAMESPACE, parts[0]
    elif len(parts) == 2:
        host, namespace, model = DEFAULT_REGISTRY, parts[0], parts[1]
    else:
        host = "/".join(parts[:-2])
        if "://" in host:
            host = host.split("://", 1)[1]
        namespace, model = parts[-2], parts[-1]
    name = ModelName(host, namespace, model, tag)
    if not (
        _valid_part("host", host)
        and _valid_part("namespace", namespace)
        and _valid_part("model", model)
        and _valid_part("tag", tag)
    ):
        return None
    return name


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

LLAMA_TEMPLATE = """<|start_header_id|>system<|end_header_id|>

Cutting Knowledge Date: December 2023

{{ if .System }}{{ .System }}
{{- end }}
{{- if .Tools }}When you receive a tool call response, use the output to format an answer
to the orginal user question.

You are a helpful assistant with tool calling capabilities.
{{- end }}<|eot_id|>
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|start_header_id|>user<|end_header_id|>

{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- else if eq .Role "assistant" }}<|start_header_id|>assistant<|end_header_id|>

{{ .Content }}{{ if not $last }}<|eot_id|>{{ end }}
{{- end }}
{{- end }}"""

LLAMA_LICENSE = """LLAMA 3.2 COMMUNITY LICENSE AGREEMENT
Llama 3.2 Version Release Date: September 25, 2024

“Agreement” means the terms and conditions for use, reproduction, distribution
and modification of the Llama Materials set forth herein.

“Documentation” means the specifications, manuals and documentation accompanying Llama 3.2
distributed by Meta at https://llama.meta.com/doc/overview."""

QWEN_TEMPLATE = """{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}{{ end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

APACHE_LICENSE = """                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION

   1. Definitions."""

GEMMA_LICENSE = """Gemma Terms of Use

Last modified: February 21, 2024

By using, reproducing, modifying, distributing, performing or displaying any portion or
element of Gemma, Model Derivatives including via any Hosted Service, you agree to be bound."""

GENERIC_TEMPLATE = "{{ .System }}\n{{ .Prompt }}"


@dataclasses.dataclass
class FakeModel:
    """One installed (or pullable) model. Mutate fields freely from tests."""

    name: str
    family: str
    parameter_size: str
    quantization_level: str
    size: int
    digest: str
    modified_at_ns: int
    context_length: int
    embedding_length: int
    parameter_count: int
    capabilities: list[str]
    families: list[str] | None = None
    block_count: int = 16
    tokens_per_second: float | None = None
    ttft: float | None = None
    license: str = ""
    template: str = GENERIC_TEMPLATE
    system: str = ""
    parameters: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    parent_model: str = ""
    format: str = "gguf"
    blob_digest: str = ""

    def __post_init__(self) -> None:
        if self.families is None:
            self.families = [self.family]
        if not self.blob_digest:
            self.blob_digest = _digest_of("blob", self.name, str(self.size))

    @property
    def ref(self) -> ModelName:
        parsed = parse_model_name(self.name)
        assert parsed is not None, self.name
        return parsed

    @property
    def key(self) -> str:
        return self.ref.key

    @property
    def details(self) -> dict[str, Any]:
        return {
            "parent_model": self.parent_model,
            "format": self.format,
            "family": self.family,
            "families": list(self.families or [self.family]),
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def parameters_text(self) -> str:
        return "\n".join(f"{key:<30} {_go_sharp_v(value)}" for key, value in self.parameters)

    def layers(self) -> list[tuple[str, int]]:
        """(digest hex, size) of the blobs a pull downloads."""
        layers = [(self.blob_digest, self.size)]
        if self.template:
            layers.append((_digest_of("template", self.template), len(self.template.encode())))
        if self.license:
            layers.append((_digest_of("license", self.license), len(self.license.encode())))
        if self.parameters:
            params = go_json(dict(self.parameters))
            layers.append((_digest_of("params", params), len(params.encode())))
        return layers


def _go_sharp_v(value: Any) -> str:
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float64(value)
    return str(value)


def _file_type(quant: str) -> int:
    return {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K_M": 15, "Q6_K": 18, "BF16": 32}.get(
        quant.upper(), 15
    )


def _parameter_size(count: int) -> str:
    if count >= 1_000_000_000:
        return f"{count / 1e9:.1f}B".replace(".0B", "B")
    return f"{count / 1e6:.2f}M"


def _default_models(now_ns: int) -> list[FakeModel]:
    day = 86_400 * 1_000_000_000
    hour = 3_600 * 1_000_000_000
    return [
        FakeModel(
            name="llama3.2:1b",
            family="llama",
            parameter_size="1.2B",
            quantization_level="Q8_0",
            size=1_321_098_329,
            digest="baf6a787fdffd633537aa2eb51cfd54cb93ff08e28040095462bb63daf552878",
            modified_at_ns=now_ns - 2 * day - 5 * hour - 706_015_396,
            context_length=131072,
            embedding_length=2048,
            parameter_count=1_235_814_432,
            block_count=16,
            capabilities=["completion", "tools"],
            license=LLAMA_LICENSE,
            template=LLAMA_TEMPLATE,
            parameters=[
                ("stop", "<|start_header_id|>"),
                ("stop", "<|end_header_id|>"),
                ("stop", "<|eot_id|>"),
            ],
            blob_digest="74701a8c35f6c8d9a4b91f3f3497643001d63e0c7a84e085bed452548fa88d45",
        ),
        FakeModel(
            name="qwen3:0.6b",
            family="qwen3",
            parameter_size="751.63M",
            quantization_level="Q4_K_M",
            size=522_653_767,
            digest="7df6b6e09427a769808717c0a93cadc4ae99ed4eb8bf5ca557c90846becea435",
            modified_at_ns=now_ns - 5 * hour - 239_102_114,
            context_length=40960,
            embedding_length=1024,
            parameter_count=751_632_384,
            block_count=28,
            capabilities=["completion", "tools", "thinking"],
            license=APACHE_LICENSE,
            template=QWEN_TEMPLATE,
            parameters=[
                ("repeat_penalty", 1),
                ("stop", "<|im_start|>"),
                ("stop", "<|im_end|>"),
                ("temperature", 0.6),
                ("top_k", 20),
                ("top_p", 0.95),
            ],
            blob_digest="7f4030143c1c477224c5434f8272c662a8b042079a0a584f0a27a1684fe2e1fa",
        ),
        FakeModel(
            name="nomic-embed-text:latest",
            family="nomic-bert",
            parameter_size="137M",
            quantization_level="F16",
            size=274_302_450,
            digest="0a109f422b47e3a30ba2b10eca18548e944e8a23073ee3f3e947efcf3c45e59f",
            modified_at_ns=now_ns - 23 * day - 802_345_001,
            context_length=2048,
            embedding_length=768,
            parameter_count=136_727_040,
            block_count=12,
            capabilities=["embedding"],
            license=APACHE_LICENSE,
            template="{{ .Prompt }}",
            parameters=[("num_ctx", 8192)],
            blob_digest="970aa74c0a90ef7482477cf803618e776e173c007bf957f635f1015bfcfef0e6",
        ),
    ]


def _catalog_models(now_ns: int) -> list[FakeModel]:
    """Models that are not installed by default but can be pulled."""
    return [
        FakeModel(
            name="tinyllama:latest",
            family="llama",
            parameter_size="1B",
            quantization_level="Q4_0",
            size=637_700_138,
            digest="2644915ede352ea7bdfaff0bfac0be74c719d5d5202acb63a6fb095b52f394a4",
            modified_at_ns=now_ns,
            context_length=2048,
            embedding_length=2048,
            parameter_count=1_100_048_384,
            block_count=22,
            capabilities=["completion"],
            license=APACHE_LICENSE,
            template="<|system|>\n{{ .System }}</s>\n<|user|>\n{{ .Prompt }}</s>\n<|assistant|>\n",
            parameters=[("stop", "<|system|>"), ("stop", "<|user|>"), ("stop", "</s>")],
            blob_digest="2af3b81862c6be03c769683af18efdadb2c33f60ff32ab6f83e42c043d6c7816",
        ),
        FakeModel(
            name="gemma3:270m",
            family="gemma3",
            parameter_size="268.10M",
            quantization_level="Q8_0",
            size=291_554_930,
            digest="e7d36fb2c3b3293cfe56d55889867a064b3a2b22e98335f2e6e8a387e081d6be",
            modified_at_ns=now_ns,
            context_length=32768,
            embedding_length=640,
            parameter_count=268_098_176,
            block_count=18,
            capabilities=["completion"],
            license=GEMMA_LICENSE,
            template="{{ .Prompt }}",
            parameters=[("stop", "<end_of_turn>"), ("temperature", 1), ("top_k", 64)],
            blob_digest="735af2139dc652bf01112746474883d79a52fa1c19038265d363e3d42556f7a2",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Records and scripting
# ---------------------------------------------------------------------------------------------


class NameSet(MutableSet[str]):
    """An insertion-ordered set of model names (``next(iter(s))`` is deterministic)."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._names: dict[str, None] = dict.fromkeys(names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def add(self, value: str) -> None:
        self._names[value] = None

    def discard(self, value: str) -> None:
        self._names.pop(value, None)

    def __repr__(self) -> str:
        return f"NameSet({list(self._names)!r})"


@dataclasses.dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    body: Any
    headers: dict[str, str]
    raw_body: bytes = b""
    query: str = ""
    time: float = 0.0


@dataclasses.dataclass
class ScriptedResponse:
    """The next generate/chat answer, queued with `FakeOllama.script_response`."""

    text: str | None = None
    thinking: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    error: str | None = None
    done_reason: str | None = None
    model: str | None = None


@dataclasses.dataclass
class _Loaded:
    model: FakeModel
    expires_ns: int
    context_length: int
    active: int = 0


@dataclasses.dataclass
class _Plan:
    thinking: list[str]
    content: list[str]
    tool_calls: list[dict[str, Any]]
    tool_call_tokens: int
    done_reason: str
    error: str | None


class _ApiError(Exception):
    def __init__(self, status: int, message: str, content_type: str = JSON_CT) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.content_type = content_type


class _AbortError(Exception):
    """The server is shutting down: abandon the request and drop the connection."""


class _DropConnectionError(Exception):
    """Raised out of the ASGI app to make uvicorn close the transport mid-response."""


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not _contains_drop(exc)


def _contains_drop(exc: BaseException | None) -> bool:
    if exc is None:
        return False
    if isinstance(exc, _DropConnectionError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_contains_drop(inner) for inner in exc.exceptions)
    return False


def _install_log_filter() -> None:
    error_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in error_logger.filters):
        error_logger.addFilter(_DropFilter())


_install_log_filter()


# ---------------------------------------------------------------------------------------------
# Request body binding (Gin ShouldBindJSON + Go encoding/json errors)
# ---------------------------------------------------------------------------------------------


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


FieldSpec = Mapping[str, str]

GENERATE_FIELDS: FieldSpec = {
    "model": "string",
    "prompt": "string",
    "suffix": "string",
    "system": "string",
    "template": "string",
    "context": "[]int",
    "stream": "bool",
    "raw": "bool",
    "format": "any",
    "keep_alive": "duration",
    "images": "images",
    "options": "map[string]interface {}",
    "think": "think",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
}
CHAT_FIELDS: FieldSpec = {
    "model": "string",
    "messages": "messages",
    "tools": "api.Tools",
    "stream": "bool",
    "format": "any",
    "keep_alive": "duration",
    "options": "map[string]interface {}",
    "think": "think",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
}
EMBED_FIELDS: FieldSpec = {
    "model": "string",
    "input": "any",
    "truncate": "bool",
    "dimensions": "int",
    "keep_alive": "duration",
    "options": "map[string]interface {}",
}
EMBEDDINGS_FIELDS: FieldSpec = {
    "model": "string",
    "prompt": "string",
    "keep_alive": "duration",
    "options": "map[string]interface {}",
}
SHOW_FIELDS: FieldSpec = {
    "model": "string",
    "name": "string",
    "system": "string",
    "template": "string",
    "verbose": "bool",
    "options": "map[string]interface {}",
}
PULL_FIELDS: FieldSpec = {
    "model": "string",
    "name": "string",
    "insecure": "bool",
    "stream": "bool",
    "username": "string",
    "password": "string",
}
DELETE_FIELDS: FieldSpec = {"model": "string", "name": "string"}
COPY_FIELDS: FieldSpec = {"source": "string", "destination": "string"}
CREATE_FIELDS: FieldSpec = {
    "model": "string",
    "name": "string",
    "from": "string",
    "files": "map[string]string",
    "adapters": "map[string]string",
    "template": "string",
    "license": "any",
    "system": "string",
    "parameters": "map[string]interface {}",
    "messages": "messages",
    "quantize": "string",
    "stream": "bool",
}

_MESSAGE_FIELDS: FieldSpec = {
    "role": "string",
    "content": "string",
    "thinking": "string",
    "images": "images",
    "tool_calls": "[]api.ToolCall",
    "tool_name": "string",
    "tool_call_id": "string",
}


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


# ---------------------------------------------------------------------------------------------
# Text generation helpers
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# The fake daemon
# ---------------------------------------------------------------------------------------------


class FakeOllama:
    """State of a pretend Ollama daemon plus its HTTP API (`app`).

    Plain attributes may be changed from tests at any time, also while a server is running.
    """

    def __init__(
        self,
        *,
        tokens_per_second: float = 2000.0,
        ttft: float = 0.0,
        with_default_models: bool = True,
    ) -> None:
        self._lock = threading.RLock()
        self._with_default_models = with_default_models
        self._init_tokens_per_second = tokens_per_second
        self._init_ttft = ttft
        self.reset()

    def reset(self) -> None:
        """Restore the initial state (models, settings, faults, logs)."""
        with self._lock:
            now = _now_ns()
            #: Global generation speed (tokens per second; ``<= 0`` = as fast as possible).
            self.tokens_per_second: float = self._init_tokens_per_second
            #: Seconds between "model ready" and the first generated token (prompt eval).
            self.ttft: float = self._init_ttft
            #: Seconds a generate/chat/embed request sleeps when its model is not loaded yet.
            self.load_duration: float = 0.0
            #: Default number of answer tokens when nothing is scripted.
            self.response_tokens: int = 12
            #: When set, made-up answers end ("stop") after this many tokens whatever
            #: num_predict asks for, as a model does when it reaches its end of text.
            self.max_answer_tokens: int | None = None
            #: Fixed answer text for every generate/chat (``None`` = derived from the prompt).
            self.response_text: str | None = None
            #: Thinking text for thinking models (``None`` = a fixed sentence).
            self.thinking_text: str | None = None
            self.default_keep_alive: float = 300.0
            self.default_num_ctx: int = 4096
            #: Fraction of a loaded model's size reported as VRAM in /api/ps (0 = 100% CPU).
            self.size_vram_fraction: float = 0.0
            self.version: str = OLLAMA_VERSION
            #: Reject Host headers that are not loopback/private (Ollama's DNS-rebinding check).
            self.check_host: bool = False

            self.pull_step_delay: float = 0.005
            self.pull_steps: int = 4
            self.pull_total_bytes: int | None = None
            self.pull_hang: bool = False
            #: Names that /api/pull can fetch (matched like model names: case, ":latest").
            #: Iteration order is insertion order: models that are not installed come first.
            self.pullable: NameSet = NameSet(
                [
                    "tinyllama:latest",
                    "gemma3:270m",
                    "llama3.2:1b",
                    "qwen3:0.6b",
                    "nomic-embed-text:latest",
                ]
            )

            self.fault: str | None = None
            self.fault_count: int | None = None
            self.fault_paths: set[str] | None = None
            self.fault_message: str | None = None
            #: How many chunks drop/malformed/error faults let through first.
            self.fault_after_chunks: int = 2
            self.stall_seconds: float = 30.0

            self.requests: list[RecordedRequest] = []
            self.disconnects: int = 0
            self.disconnected = threading.Event()
            self.disconnect_paths: list[str] = []
            self.log_requests: bool = False

            self._models: dict[str, FakeModel] = {}
            self._catalog: dict[str, FakeModel] = {}
            self._loaded: dict[str, _Loaded] = {}
            self._scripts: deque[ScriptedResponse] = deque()
            self._blobs: set[str] = set()
            # Requests still in flight from the previous test finish after the reset, so the
            # live count carries over; only the high-water mark starts again.
            self.active_requests: int = getattr(self, "active_requests", 0)
            #: The most requests ever in flight at once (a high-water mark of active_requests).
            self.peak_active_requests: int = self.active_requests
            #: When an Event, generate/chat hold their first token until it is set, so tests
            #: can see how many generations run at once without timing anything.
            self.generation_gate: threading.Event | None = None
            for model in _catalog_models(now):
                self._catalog[model.key] = model
            if self._with_default_models:
                for model in _default_models(now):
                    self._install(model)

    # -- models ---------------------------------------------------------------------------

    def _install(self, model: FakeModel) -> None:
        with self._lock:
            self._models[model.key] = model
            self._catalog[model.key] = dataclasses.replace(model)
            self._blobs.update(digest for digest, _ in model.layers())

    def add_model(
        self,
        name: str,
        *,
        family: str = "llama",
        context_length: int = 4096,
        embedding_length: int | None = None,
        capabilities: Iterable[str] = ("completion",),
        tokens_per_second: float | None = None,
        ttft: float | None = None,
        size: int | None = None,
        parameter_size: str | None = None,
        parameter_count: int | None = None,
        quantization_level: str = "Q4_K_M",
        digest: str | None = None,
        modified_at: dt.datetime | float | None = None,
        license: str = "",
        template: str = GENERIC_TEMPLATE,
        system: str = "",
        parameters: Sequence[tuple[str, Any]] = (),
    ) -> FakeModel:
        """Install a model (replacing one with the same name) and return it."""
        parsed = parse_model_name(name)
        if parsed is None:
            raise ValueError(f"invalid model name: {name!r}")
        count = parameter_count or 1_000_000_000
        if isinstance(modified_at, dt.datetime):
            modified_ns = int(modified_at.timestamp() * 1e9)
        elif modified_at is not None:
            modified_ns = int(modified_at * 1e9)
        else:
            modified_ns = _now_ns()
        model = FakeModel(
            name=parsed.display,
            family=family,
            parameter_size=parameter_size or _parameter_size(count),
            quantization_level=quantization_level,
            size=size if size is not None else int(count * 0.6),
            digest=digest or _digest_of("manifest", parsed.key),
            modified_at_ns=modified_ns,
            context_length=context_length,
            embedding_length=embedding_length or (768 if "embedding" in capabilities else 2048),
            parameter_count=count,
            capabilities=list(capabilities),
            tokens_per_second=tokens_per_second,
            ttft=ttft,
            license=license,
            template=template,
            system=system,
            parameters=list(parameters),
        )
        self._install(model)
        return model

    def remove_model(self, name: str) -> bool:
        parsed = parse_model_name(name)
        if parsed is None:
            return False
        with self._lock:
            self._loaded.pop(parsed.key, None)
            return self._models.pop(parsed.key, None) is not None

    def get_model(self, name: str) -> FakeModel | None:
        parsed = parse_model_name(name)
        if parsed is None:
            return None
        with self._lock:
            return self._models.get(parsed.key)

    @property
    def models(self) -> list[FakeModel]:
        """Installed models, newest first (the order of /api/tags)."""
        with self._lock:
            return sorted(self._models.values(), key=lambda m: m.modified_at_ns, reverse=True)

    def loaded_models(self) -> list[str]:
        """Display names of the models /api/ps would report now."""
        with self._lock:
            self._purge_expired()
            return [entry.model.name for entry in self._loaded.values()]

    def load_model(self, name: str, keep_alive: float | None = 300.0) -> None:
        """Mark a model as loaded (as if a request had used it)."""
        model = self.get_model(name)
        if model is None:
            raise KeyError(name)
        with self._lock:
            self._loaded[model.key] = _Loaded(model, self._expiry(keep_alive), self.default_num_ctx)

    def script_response(
        self,
        text: str | None = None,
        *,
        thinking: str | None = None,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        error: str | None = None,
        done_reason: str | None = None,
        model: str | None = None,
    ) -> None:
        """Queue the answer of a future generate/chat call (FIFO; ``model`` restricts it).

        ``tool_calls`` items are ``{"name": ..., "arguments": {...}}`` or the full wire form.
        ``error`` is sent after the text as an in-stream error line (500 when not streaming).
        """
        with self._lock:
            self._scripts.append(
                ScriptedResponse(
                    text=text,
                    thinking=thinking,
                    tool_calls=[dict(c) for c in tool_calls] if tool_calls is not None else None,
                    error=error,
                    done_reason=done_reason,
                    model=model,
                )
            )

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in list(self.requests)
            if r.path == path and (method is None or r.method == method.upper())
        ]

    def clear_requests(self) -> None:
        self.requests.clear()

    def set_fault(
        self, fault: str | None, *, count: int | None = None, paths: Iterable[str] | None = None
    ) -> None:
        if fault is not None and fault not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {fault!r}; expected one of {FAULT_MODES}")
        with self._lock:
            self.fault = fault
            self.fault_count = count
            self.fault_paths = set(paths) if paths is not None else None

    def clear_fault(self) -> None:
        self.set_fault(None)

    # -- ASGI -----------------------------------------------------------------------------

    def app(self, *, stop_event: threading.Event | None = None) -> Starlette:
        """A Starlette app serving the Ollama API from this state.

        ``stop_event`` (set by `FakeServerHandle.stop`) makes stalls, hangs and streams end
        promptly so that a server shutdown never waits on them.
        """
        dispatcher = _Dispatcher(self, stop_event or threading.Event())
        return Starlette(routes=[Route("/{path:path}", dispatcher)])

    # -- internal state helpers -------------------------------------------------------------

    def _find(self, name: ModelName) -> FakeModel | None:
        with self._lock:
            return self._models.get(name.key)

    def _expiry(self, keep_alive: float | None) -> int:
        if keep_alive is None:
            return _now_ns() + _FOREVER_NS
        return _now_ns() + _ns(keep_alive)

    def _purge_expired(self) -> None:
        now = _now_ns()
        with self._lock:
            for key, entry in list(self._loaded.items()):
                if entry.active <= 0 and entry.expires_ns <= now:
                    del self._loaded[key]

    def _acquire(self, model: FakeModel, keep_alive: float | None, num_ctx: int | None) -> bool:
        """Mark the model busy; returns True when it had to be loaded."""
        with self._lock:
            self._purge_expired()
            entry = self._loaded.get(model.key)
            ctx = num_ctx or self.default_num_ctx
            was_loaded = entry is not None and entry.context_length == ctx
            if entry is None:
                entry = _Loaded(model, self._expiry(keep_alive), ctx)
                self._loaded[model.key] = entry
            entry.model = model
            entry.context_length = ctx
            entry.active += 1
            entry.expires_ns = self._expiry(keep_alive)
            return not was_loaded

    def _release(self, model: FakeModel, keep_alive: float | None) -> None:
        with self._lock:
            entry = self._loaded.get(model.key)
            if entry is None:
                return
            entry.active = max(0, entry.active - 1)
            entry.expires_ns = self._expiry(keep_alive)
            if keep_alive == 0 and entry.active == 0:
                del self._loaded[model.key]

    def _unload(self, model: FakeModel) -> None:
        with self._lock:
            self._loaded.pop(model.key, None)

    def _take_script(self, model: FakeModel) -> ScriptedResponse | None:
        with self._lock:
            for index, script in enumerate(self._scripts):
                if script.model is None:
                    del self._scripts[index]
                    return script
                parsed = parse_model_name(script.model)
                if parsed is not None and parsed.key == model.key:
                    del self._scripts[index]
                    return script
        return None

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            fault = self.fault
            if fault is None:
                return None
            if self.fault_paths is not None:
                if path not in self.fault_paths:
                    return None
            elif path in ("/", "/api/version"):
                return None
            if self.fault_count is not None:
                if self.fault_count <= 0:
                    self.fault = None
                    self.fault_count = None
                    return None
                self.fault_count -= 1
                if self.fault_count == 0:
                    self.fault = None
                    self.fault_count = None
            return fault

    def _is_pullable(self, name: ModelName) -> bool:
        for entry in list(self.pullable):
            parsed = parse_model_name(entry)
            if parsed is not None and parsed.key == name.key:
                return True
        return False

    def _record_disconnect(self, path: str) -> None:
        with self._lock:
            self.disconnects += 1
            self.disconnect_paths.append(path)
        self.disconnected.set()

    # -- JSON shapes --------------------------------------------------------------------------

    def _tags_entry(self, model: FakeModel) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": model.name,
            "model": model.name,
            "modified_at": go_time(model.modified_at_ns),
            "size": model.size,
            "digest": model.digest,
            "details": model.details,
        }
        if model.capabilities:
            entry["capabilities"] = list(model.capabilities)
        return entry

    def _model_info(self, model: FakeModel, verbose: bool) -> dict[str, Any]:
        arch = model.family
        sample_tokens = ["<unk>", "<s>", "</s>", "!", '"', "#", "$", "%"]
        tokenizer = "bert" if "embedding" in model.capabilities else "gpt2"
        return {
            "general.architecture": arch,
            "general.basename": model.ref.model.split(":")[0],
            "general.file_type": _file_type(model.quantization_level),
            "general.parameter_count": model.parameter_count,
            "general.quantization_version": 2,
            f"{arch}.attention.head_count": 32,
            f"{arch}.attention.head_count_kv": 8,
            f"{arch}.block_count": model.block_count,
            f"{arch}.context_length": model.context_length,
            f"{arch}.embedding_length": model.embedding_length,
            f"{arch}.feed_forward_length": model.embedding_length * 4,
            "tokenizer.ggml.model": tokenizer,
            "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.eos_token_id": 2,
            "tokenizer.ggml.tokens": sample_tokens if verbose else [],
            "tokenizer.ggml.token_type": [1] * len(sample_tokens) if verbose else [],
        }

    def _modelfile(self, model: FakeModel) -> str:
        lines = [
            '# Modelfile generated by "ollama show"',
            "# To build a new Modelfile based on this, replace FROM with:",
            f"# FROM {model.name}",
            "",
            f"FROM /root/.ollama/models/blobs/sha256-{model.blob_digest}",
            f'TEMPLATE """{model.template}"""',
        ]
        if model.system:
            lines.append(f'SYSTEM """{model.system}"""')
        lines.extend(f"PARAMETER {key} {value}" for key, value in model.parameters)
        if model.license:
            lines.append(f'LICENSE """{model.license}"""')
        return "\n".join(lines) + "\n"

    def _show(self, model: FakeModel, verbose: bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if model.license:
            body["license"] = model.license
        body["modelfile"] = self._modelfile(model)
        if model.parameters:
            body["parameters"] = model.parameters_text()
        body["template"] = model.template
        if model.system:
            body["system"] = model.system
        body["details"] = model.details
        body["model_info"] = self._model_info(model, verbose)
        body["tensors"] = [
            {
                "name": "token_embd.weight",
                "type": model.quantization_level,
                "shape": [model.embedding_length, 128256],
            },
            {"name": "blk.0.attn_norm.weight", "type": "F32", "shape": [model.embedding_length]},
        ]
        body["capabilities"] = list(model.capabilities)
        body["modified_at"] = go_time(model.modified_at_ns)
        return body

    def _ps(self) -> dict[str, Any]:
        with self._lock:
            self._purge_expired()
            entries = sorted(self._loaded.values(), key=lambda e: e.expires_ns, reverse=True)
            models = []
            for entry in entries:
                model = entry.model
                size = int(model.size * 1.25) + entry.context_length * 32_768
                item: dict[str, Any] = {
                    "name": model.name,
                    "model": model.name,
                    "size": size,
                    "digest": model.digest,
                    "details": model.details,
                    "expires_at": go_time(min(entry.expires_ns, _now_ns() + _FOREVER_NS)),
                    "size_vram": int(size * self.size_vram_fraction),
                    "context_length": entry.context_length,
                }
                models.append(item)
        return {"models": models}


# ---------------------------------------------------------------------------------------------
# Request handling
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Json:
    status: int
    payload: Any
    content_type: str = JSON_CT
    raw: str | None = None  # pre-serialised body


@dataclasses.dataclass
class _Plain:
    status: int
    body: bytes
    content_type: str | None


@dataclasses.dataclass
class _StreamError:
    message: str
    status: int = 500


@dataclasses.dataclass
class _Stream:
    items: AsyncIterator[dict[str, Any] | _StreamError]
    streaming_request: bool = True


_Result = _Json | _Plain | _Stream


async def _progress_result(
    items: AsyncGenerator[dict[str, Any] | _StreamError, None], *, streaming: bool
) -> _Result:
    """Pull and create: the progress stream, or with `stream: false` only its last line."""
    if streaming:
        return _Stream(items)
    latest: dict[str, Any] = {}
    try:
        async for item in items:
            if isinstance(item, _StreamError):
                return _Json(item.status, {"error": item.message}, JSON_PLAIN_CT)
            latest = item
    finally:
        await items.aclose()
    return _Json(200, latest, JSON_PLAIN_CT)


def _is_final(item: Mapping[str, Any]) -> bool:
    return item.get("done") is True or item.get("status") == "success"


class _Ctx:
    def __init__(
        self, scope: Scope, receive: Receive, send: Send, stop_event: threading.Event
    ) -> None:
        self.scope = scope
        self.receive = receive
        self._send = send
        self.stop_event = stop_event
        self.started = False
        self.complete = False
        self.disconnected = False
        self.drop = False
        self.status = 0

    async def send(self, message: Message) -> None:
        await self._send(message)

    async def start(
        self, status: int, content_type: str | None, content_length: int | None = None
    ) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if content_type is not None:
            headers.append((b"content-type", content_type.encode()))
        if content_length is not None:
            headers.append((b"content-length", str(content_length).encode()))
        self.started = True
        self.status = status
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def body(self, data: bytes, *, more: bool) -> None:
        if not more:
            self.complete = True
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def respond(self, status: int, data: bytes, content_type: str | None) -> None:
        await self.start(status, content_type, len(data))
        await self.body(data, more=False)

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until a ``time.monotonic()`` deadline; `_AbortError` when the server stops."""
        while True:
            if self.stop_event.is_set():
                raise _AbortError()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await anyio.sleep(0)
                return
            await anyio.sleep(min(remaining, 0.05))

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(time.monotonic() + seconds)

    async def hang(self) -> None:
        while True:
            await self.sleep(3600)


_ROUTES: dict[str, frozenset[str]] = {
    "/": frozenset({"GET", "HEAD"}),
    "/api/version": frozenset({"GET", "HEAD"}),
    "/api/status": frozenset({"GET"}),
    "/api/tags": frozenset({"GET", "HEAD"}),
    "/api/ps": frozenset({"GET"}),
    "/api/show": frozenset({"POST"}),
    "/api/generate": frozenset({"POST"}),
    "/api/chat": frozenset({"POST"}),
    "/api/embed": frozenset({"POST"}),
    "/api/embeddings": frozenset({"POST"}),
    "/api/pull": frozenset({"POST"}),
    "/api/create": frozenset({"POST"}),
    "/api/copy": frozenset({"POST"}),
    "/api/delete": frozenset({"DELETE"}),
    "/api/blobs/:digest": frozenset({"HEAD", "POST"}),
}

_STREAMING_PATHS = frozenset({"/api/generate", "/api/chat", "/api/pull", "/api/create"})

_PRIVATE_HOST_RE = re.compile(
    r"^(localhost|.*\.localhost|.*\.local|.*\.internal|127\.\d+\.\d+\.\d+|10\.\d+\.\d+\.\d+|"
    r"192\.168\.\d+\.\d+|172\.(1[6-9]|2\d|3[01])\.\d+\.\d+|::1|0\.0\.0\.0)$"
)


class _Dispatcher:
    """The ASGI endpoint behind every path (Gin-style 404/405 handling included)."""

    def __init__(self, fake: FakeOllama, stop_event: threading.Event) -> None:
        self.fake = fake
        self.stop_event = stop_event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]
        started = time.monotonic()
        body, gone = await _read_body(receive)
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        parsed: Any = None
        if body.strip():
            with contextlib.suppress(ValueError):
                parsed = json.loads(body)
        fake = self.fake
        fake.requests.append(
            RecordedRequest(
                method=method,
                path=path,
                body=parsed,
                headers=headers,
                raw_body=body,
                query=scope.get("query_string", b"").decode("latin-1"),
                time=time.time(),
            )
        )
        ctx = _Ctx(scope, receive, send, self.stop_event)
        if gone:
            fake._record_disconnect(path)
            return
        with fake._lock:
            fake.active_requests += 1
            fake.peak_active_requests = max(fake.peak_active_requests, fake.active_requests)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch_disconnect, ctx, tg.cancel_scope, path)
                try:
                    await self._handle(ctx, method, path, body, headers)
                except _AbortError:
                    ctx.drop = True
                except Exception as exc:  # a bug in the fake: make it visible, not a hang
                    _log.exception("fake ollama handler failed")
                    if not ctx.started:
                        message = go_json({"error": f"fake ollama internal error: {exc!r}"})
                        await ctx.respond(500, message.encode(), JSON_CT)
                    else:
                        ctx.drop = True
                finally:
                    tg.cancel_scope.cancel()
        finally:
            with fake._lock:
                fake.active_requests -= 1
            if fake.log_requests:
                _gin_log(ctx.status, time.monotonic() - started, scope, method, path)
        if ctx.drop and not ctx.disconnected:
            raise _DropConnectionError()

    async def _watch_disconnect(self, ctx: _Ctx, scope: anyio.CancelScope, path: str) -> None:
        while True:
            message = await ctx.receive()
            if message["type"] == "http.disconnect":
                if not ctx.complete:
                    ctx.disconnected = True
                    self.fake._record_disconnect(path)
                    scope.cancel()
                return

    async def _handle(
        self, ctx: _Ctx, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> None:
        fake = self.fake
        if fake.check_host and not _host_allowed(headers.get("host", "")):
            await ctx.respond(403, b"", None)
            return
        route = "/api/blobs/:digest" if path.startswith("/api/blobs/") else path
        methods = _ROUTES.get(route)
        if methods is None:
            await ctx.respond(404, b"404 page not found", GIN_TEXT_CT)
            return
        if method not in methods:
            await ctx.respond(405, b"405 method not allowed", GIN_TEXT_CT)
            return

        fault = fake._take_fault(path)
        streaming_request = path in _STREAMING_PATHS and not _explicit_no_stream(body)
        if fault == "http_500":
            message = fake.fault_message or RUNNER_DIED_MESSAGE
            content_type = JSON_PLAIN_CT if streaming_request else JSON_CT
            await ctx.respond(500, go_json({"error": message}).encode(), content_type)
            return
        if fault == "http_503":
            await ctx.respond(503, go_json({"error": BUSY_MESSAGE}).encode(), JSON_CT)
            return
        if fault == "slow" and not streaming_request:
            await ctx.sleep(fake.stall_seconds)

        try:
            result = await self._route(ctx, method, route, path, body)
        except _ApiError as err:
            result = _Json(err.status, {"error": err.message}, err.content_type)
        await self._send_result(ctx, result, fault)

    async def _route(self, ctx: _Ctx, method: str, route: str, path: str, body: bytes) -> _Result:
        fake = self.fake
        if route == "/":
            return _Plain(200, b"Ollama is running", TEXT_CT)
        if route == "/api/version":
            return _Json(200, {"version": fake.version})
        if route == "/api/status":
            return _Json(200, {"cloud": {"disabled": False, "source": "none"}})
        if route == "/api/tags":
            return _Json(200, {"models": [fake._tags_entry(m) for m in fake.models]})
        if route == "/api/ps":
            return _Json(200, fake._ps())
        if route == "/api/show":
            return self._handle_show(body)
        if route == "/api/generate":
            return await self._handle_generate(ctx, body)
        if route == "/api/chat":
            return await self._handle_chat(ctx, body)
        if route == "/api/embed":
            return await self._handle_embed(ctx, body)
        if route == "/api/embeddings":
            return await self._handle_embeddings(ctx, body)
        if route == "/api/pull":
            return await self._handle_pull(ctx, body)
        if route == "/api/create":
            return await self._handle_create(ctx, body)
        if route == "/api/copy":
            return self._handle_copy(body)
        if route == "/api/delete":
            return self._handle_delete(body)
        if route == "/api/blobs/:digest":
            return self._handle_blob(method, path, body)
        raise AssertionError(route)

    # -- sending, with faults applied -------------------------------------------------------

    async def _send_result(self, ctx: _Ctx, result: _Result, fault: str | None) -> None:
        fake = self.fake
        if isinstance(result, _Plain):
            await self._send_plain(ctx, result.status, result.body, result.content_type, fault)
            return
        if isinstance(result, _Json):
            data = (result.raw if result.raw is not None else go_json(result.payload)).encode()
            if fault == "error_line" and result.status < 400:
                message = fake.fault_message or RUNNER_DIED_MESSAGE
                await ctx.respond(500, go_json({"error": message}).encode(), JSON_CT)
                return
            await self._send_plain(ctx, result.status, data, result.content_type, fault)
            return
        await self._pump(ctx, result, fault)

    async def _send_plain(
        self, ctx: _Ctx, status: int, data: bytes, content_type: str | None, fault: str | None
    ) -> None:
        if fault == "drop_mid_stream":
            await ctx.start(status, content_type, len(data) + 16)
            await ctx.body(data[: len(data) // 2], more=True)
            ctx.drop = True
            return
        if fault == "malformed_line" and status < 400 and data:
            data = data[: max(1, len(data) // 2)]
        await ctx.respond(status, data, content_type)

    async def _pump(self, ctx: _Ctx, stream: _Stream, fault: str | None) -> None:
        fake = self.fake
        sent = 0
        injected = False
        items = stream.items
        try:
            async for item in items:
                if isinstance(item, _StreamError):
                    if not ctx.started:
                        data = go_json({"error": item.message}).encode()
                        await ctx.respond(item.status, data, JSON_PLAIN_CT)
                        return
                    await ctx.body((go_json({"error": item.message}) + "\n").encode(), more=True)
                    break
                if not ctx.started:
                    await ctx.start(200, NDJSON_CT)
                final = _is_final(item)
                if (
                    fault is not None
                    and not injected
                    and (sent >= max(1, fake.fault_after_chunks) or (final and sent >= 1))
                ):
                    if fault == "drop_mid_stream":
                        ctx.drop = True
                        return
                    if fault == "error_line":
                        message = fake.fault_message or RUNNER_DIED_MESSAGE
                        await ctx.body((go_json({"error": message}) + "\n").encode(), more=True)
                        break
                    if fault == "malformed_line":
                        injected = True
                        await ctx.body(b'{"model":"oops","created_at":not-json\n', more=True)
                if fault == "drop_mid_stream" and final and sent == 0:
                    ctx.drop = True
                    return
                await ctx.body((go_json(item) + "\n").encode(), more=True)
                sent += 1
                if fault == "slow" and not injected:
                    injected = True
                    await ctx.sleep(fake.stall_seconds)
            if not ctx.started:
                await ctx.start(200, NDJSON_CT)
            await ctx.body(b"", more=False)
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()

    # -- endpoints --------------------------------------------------------------------------

    def _handle_show(self, body: bytes) -> _Result:
        req = _bind(body, "ShowRequest", SHOW_FIELDS)
        raw = (req.get("model") or req.get("name") or "").strip()
        if not raw:
            raise _ApiError(400, "model is required")
        name = parse_model_name(raw)
        if name is None:
            raise _ApiError(400, "invalid model name")
        model = self.fake._find(name)
        if model is None:
            raise _ApiError(404, f"model '{name.display}' not found")
        return _Json(200, self.fake._show(model, bool(req.get("verbose"))))

    def _resolve(
        self, raw_model: str, *, empty: tuple[int, str], missing: Callable[[str], str]
    ) -> FakeModel:
        text = raw_model.strip()
        if not text:
            raise _ApiError(*empty)
        name = parse_model_name(text)
        if name is None:
            raise _ApiError(400, "invalid model name")
        model = self.fake._find(name)
        if model is None:
            raise _ApiError(404, missing(raw_model))
        return model

    def _keep_alive(self, req: Mapping[str, Any]) -> float | None:
        if req.get("_keep_alive_set"):
            value: float | None = req.get("keep_alive")
            return value
        return self.fake.default_keep_alive

    @staticmethod
    def _check_top_logprobs(req: Mapping[str, Any]) -> None:
        top = req.get("top_logprobs")
        if top is not None and not 0 <= top <= 20:
            raise _ApiError(400, "top_logprobs must be between 0 and 20")

    def _thinking_enabled(self, model: FakeModel, req: Mapping[str, Any], sent_name: str) -> bool:
        think = req.get("think")
        supports = "thinking" in model.capabilities
        if think is None:
            return supports
        if think is False:
            return False
        if not supports:
            raise _ApiError(400, f"{go_quote(sent_name)} does not support thinking")
        return True

    @staticmethod
    def _check_format(fmt: Any) -> str | None:
        if fmt is None or fmt == "" or fmt == "json" or isinstance(fmt, dict):
            return None
        raw = go_json(fmt)
        return f'invalid format: {go_quote(raw)}; expected "json" or a valid JSON Schema object'

    async def _load(
        self, ctx: _Ctx, model: FakeModel, keep_alive: float | None, num_ctx: int | None
    ) -> None:
        fake = self.fake
        needs_load = fake._acquire(model, keep_alive, num_ctx)
        if needs_load and fake.load_duration > 0:
            try:
                await ctx.sleep(fake.load_duration)
            except BaseException:
                fake._release(model, keep_alive)
                raise

    def _plan(
        self,
        model: FakeModel,
        *,
        seed_text: str,
        thinking: bool,
        fmt: Any,
        options: Mapping[str, Any],
        tools: Sequence[Mapping[str, Any]] | None,
        user_text: str,
    ) -> _Plan:
        fake = self.fake
        script = fake._take_script(model)
        thinking_tokens: list[str] = []
        if thinking:
            if script is not None and script.thinking is not None:
                thinking_text = script.thinking
            else:
                thinking_text = (
                    fake.thinking_text if fake.thinking_text is not None else _THINKING_TEXT
                )
            thinking_tokens = _tokenize(thinking_text)

        tool_calls: list[dict[str, Any]] = []
        if script is not None and script.tool_calls is not None:
            tool_calls = [
                _normalise_tool_call(call, i, seed_text) for i, call in enumerate(script.tool_calls)
            ]
        elif tools and "call tool" in user_text.lower():
            chosen = next(
                (
                    t
                    for t in tools
                    if isinstance(t.get("function"), dict)
                    and str(t["function"].get("name", "")).lower() in user_text.lower()
                ),
                tools[0],
            )
            name, arguments = _tool_arguments(chosen)
            tool_calls = [
                {
                    "id": _tool_call_id(seed_text),
                    "function": {"index": 0, "name": name, "arguments": arguments},
                }
            ]

        if script is not None and script.text is not None:
            text = script.text
        elif tool_calls:
            text = ""
        elif fake.response_text is not None:
            text = fake.response_text
        elif fmt == "json":
            words = _default_text(seed_text, max(1, fake.response_tokens - 3)).rstrip(".")
            text = json.dumps({"response": words}, separators=(", ", ": "))
        elif isinstance(fmt, dict):
            value = _value_for_schema(fmt, _default_text(seed_text, 3).rstrip("."))
            text = json.dumps(value, separators=(", ", ": "))
        else:
            # The made-up answer is `response_tokens` long, or runs on until num_predict cuts
            # it (done_reason "length") when the request sets one.
            count = fake.response_tokens
            limit = options.get("num_predict")
            if isinstance(limit, int) and limit >= 0:
                count = max(count, limit + 1)
            if fake.max_answer_tokens is not None:  # the model reaches its end of text first
                count = min(count, fake.max_answer_tokens)
            text = _default_text(seed_text, count)
        content_tokens = _tokenize(text)
        done_reason = "stop"

        stops = [s for s in options.get("stop", []) if s]
        if stops:
            joined = ""
            for index, token in enumerate(content_tokens):
                candidate = joined + token
                hits = [candidate.find(s) for s in stops if s in candidate]
                if hits:
                    cut = min(hits)
                    kept = candidate[len(joined) : cut] if cut > len(joined) else ""
                    content_tokens = [*content_tokens[:index], *([kept] if kept else [])]
                    if cut < len(joined):
                        content_tokens = _tokenize(candidate[:cut])
                    break
                joined = candidate

        tool_call_tokens = 8 * len(tool_calls)
        limit = options.get("num_predict")
        if isinstance(limit, int) and limit >= 0:
            total = len(thinking_tokens) + len(content_tokens) + tool_call_tokens
            if total > limit:
                done_reason = "length"
                thinking_tokens = thinking_tokens[:limit]
                remaining = limit - len(thinking_tokens)
                content_tokens = content_tokens[:remaining]
                remaining -= len(content_tokens)
                if remaining < tool_call_tokens:
                    tool_calls = []
                    tool_call_tokens = 0
        if script is not None and script.done_reason is not None:
            done_reason = script.done_reason
        return _Plan(
            thinking=thinking_tokens,
            content=content_tokens,
            tool_calls=tool_calls,
            tool_call_tokens=tool_call_tokens,
            done_reason=done_reason,
            error=script.error if script is not None else None,
        )

    async def _emit(
        self, ctx: _Ctx, model: FakeModel, plan: _Plan, t0: float, t_ready: float
    ) -> AsyncIterator[tuple[str, Any]]:
        """Yield ("thinking"|"content", text), ("tool_calls", list), then ("done", metrics) or
        ("error", message), paced by absolute deadlines."""
        fake = self.fake
        rate = (
            model.tokens_per_second
            if model.tokens_per_second is not None
            else fake.tokens_per_second
        )
        ttft = model.ttft if model.ttft is not None else fake.ttft
        interval = 1.0 / rate if rate and rate > 0 and math.isfinite(rate) else 0.0
        await ctx.sleep_until(t_ready + max(0.0, ttft))
        gate = fake.generation_gate
        while gate is not None and not gate.is_set():
            await ctx.sleep(0.005)
        t_eval = time.monotonic()
        count = 0

        async def tick() -> None:
            nonlocal count
            count += 1
            if interval:
                await ctx.sleep_until(t_eval + count * interval)
            elif count % 64 == 0:
                await anyio.sleep(0)
            if ctx.stop_event.is_set():
                raise _AbortError()

        for token in plan.thinking:
            await tick()
            yield ("thinking", token)
        for token in plan.content:
            await tick()
            yield ("content", token)
        if plan.tool_calls:
            for _ in range(plan.tool_call_tokens):
                await tick()
            yield ("tool_calls", plan.tool_calls)
        t_end = time.monotonic()
        if plan.error is not None:
            yield ("error", plan.error)
            return
        # Like the real daemon, report the model's own compute time: the paced schedule, not
        # the wall clock, so counters stay exact on a loaded machine.
        prompt_eval = ttft if ttft > 0 else t_eval - t_ready
        evaluation = count * interval if interval else t_end - t_eval
        metrics: dict[str, Any] = {
            "total_duration": _ns(t_end - t0),
            "load_duration": max(1, _ns(t_ready - t0)),
            "prompt_eval_duration": max(1, _ns(prompt_eval)),
            "eval_count": count,
            "eval_duration": max(1, _ns(evaluation)) if count else 0,
        }
        yield ("done", metrics)

    def _metrics(self, metrics: Mapping[str, Any], prompt_eval_count: int) -> dict[str, Any]:
        ordered = {
            "total_duration": metrics["total_duration"],
            "load_duration": metrics["load_duration"],
            "prompt_eval_count": prompt_eval_count,
            "prompt_eval_duration": metrics["prompt_eval_duration"],
            "eval_count": metrics["eval_count"],
            "eval_duration": metrics["eval_duration"],
        }
        return {k: v for k, v in ordered.items() if v}

    async def _handle_generate(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        t0 = time.monotonic()
        req = _bind(body, "GenerateRequest", GENERATE_FIELDS)
        self._check_top_logprobs(req)
        sent_name: str = req.get("model", "")
        model = self._resolve(
            sent_name,
            empty=(404, "model '' not found"),
            missing=lambda n: f"model '{n}' not found",
        )
        keep_alive = self._keep_alive(req)
        prompt: str = req.get("prompt", "")
        if not prompt and req.get("_keep_alive_set") and keep_alive == 0:
            fake._unload(model)
            return _Json(200, self._done_shortcut(sent_name, "unload", chat=False))
        if req.get("raw") and (req.get("template") or req.get("system") or req.get("context")):
            raise _ApiError(400, "raw mode does not support template, system, or context")
        thinking = self._thinking_enabled(model, req, sent_name)
        if "completion" not in model.capabilities:
            raise _ApiError(400, f"{go_quote(sent_name)} does not support generate")
        if req.get("suffix") and "insert" not in model.capabilities:
            raise _ApiError(400, f"{model.ref.full} does not support insert")
        options = _check_options(req.get("options") or {})
        num_ctx = options.get("num_ctx")
        await self._load(ctx, model, keep_alive, num_ctx)
        t_ready = time.monotonic()
        if not prompt:
            fake._release(model, keep_alive)
            return _Json(200, self._done_shortcut(sent_name, "load", chat=False))
        streaming = req.get("stream", True) is not False
        format_error = self._check_format(req.get("format"))
        if format_error is not None:
            fake._release(model, keep_alive)
            if streaming:
                return _Json(500, {"error": format_error}, JSON_PLAIN_CT)
            raise _ApiError(500, format_error)
        seed = f"{req.get('system', '')}\n{prompt}"
        plan = self._plan(
            model,
            seed_text=seed,
            thinking=thinking,
            fmt=req.get("format"),
            options=options,
            tools=None,
            user_text=prompt,
        )
        prompt_count = max(1, _words(f"{req.get('system', '')} {prompt} {req.get('suffix', '')}"))
        with_context = not req.get("raw")

        async def chunks() -> AsyncGenerator[dict[str, Any] | _StreamError, None]:
            emitted: list[str] = []
            try:
                async for kind, value in self._emit(ctx, model, plan, t0, t_ready):
                    if kind == "thinking":
                        yield {
                            "model": sent_name,
                            "created_at": _created_at(),
                            "response": "",
                            "thinking": value,
                            "done": False,
                        }
                    elif kind == "content":
                        emitted.append(value)
                        yield {
                            "model": sent_name,
                            "created_at": _created_at(),
                            "response": value,
                            "done": False,
                        }
                    elif kind == "tool_calls":
                        yield {
                            "model": sent_name,
                            "created_at": _created_at(),
                            "response": "",
                            "done": False,
                            "tool_calls": value,
                        }
                    elif kind == "error":
                        yield _StreamError(value)
                    else:
                        final: dict[str, Any] = {
                            "model": sent_name,
                            "created_at": _created_at(),
                            "response": "",
                            "done": True,
                            "done_reason": plan.done_reason,
                        }
                        if with_context:
                            final["context"] = _context_tokens(prompt, "".join(emitted))
                        final.update(self._metrics(value, prompt_count))
                        yield final
            finally:
                fake._release(model, keep_alive)

        if streaming:
            return _Stream(chunks())
        return await self._collect(chunks(), chat=False)

    async def _collect(
        self, items: AsyncIterator[dict[str, Any] | _StreamError], *, chat: bool
    ) -> _Result:
        content: list[str] = []
        thinking: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        final: dict[str, Any] = {}
        try:
            async for item in items:
                if isinstance(item, _StreamError):
                    raise _ApiError(item.status, item.message)
                if chat:
                    message = item["message"]
                    content.append(message.get("content", ""))
                    thinking.append(message.get("thinking", ""))
                    tool_calls.extend(message.get("tool_calls", []))
                else:
                    content.append(item.get("response", ""))
                    thinking.append(item.get("thinking", ""))
                    tool_calls.extend(item.get("tool_calls", []))
                if item.get("done"):
                    final = dict(item)
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()
        if chat:
            message_out: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
            if "".join(thinking):
                message_out["thinking"] = "".join(thinking)
            if tool_calls:
                message_out["tool_calls"] = tool_calls
            final["message"] = message_out
            ordered = {"model": final.pop("model"), "created_at": final.pop("created_at")}
            ordered["message"] = final.pop("message")
            ordered.update(final)
            return _Json(200, ordered)
        out: dict[str, Any] = {
            "model": final.get("model"),
            "created_at": final.get("created_at"),
            "response": "".join(content),
        }
        if "".join(thinking):
            out["thinking"] = "".join(thinking)
        for key, value in final.items():
            if key not in out and key != "thinking":
                out[key] = value
        if tool_calls:
            out["tool_calls"] = tool_calls
        return _Json(200, out)

    @staticmethod
    def _done_shortcut(model: str, reason: str, *, chat: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "created_at": _created_at()}
        if chat:
            body["message"] = {"role": "assistant", "content": ""}
        else:
            body["response"] = ""
        body["done"] = True
        body["done_reason"] = reason
        return body

    async def _handle_chat(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        t0 = time.monotonic()
        req = _bind(body, "ChatRequest", CHAT_FIELDS)
        self._check_top_logprobs(req)
        sent_name: str = req.get("model", "")
        model = self._resolve(
            sent_name,
            empty=(400, "model is required"),
            missing=lambda n: f"model '{n}' not found",
        )
        keep_alive = self._keep_alive(req)
        messages: list[dict[str, Any]] = req.get("messages", [])
        if not messages and req.get("_keep_alive_set") and keep_alive == 0:
            fake._unload(model)
            return _Json(200, self._done_shortcut(sent_name, "unload", chat=True))
        thinking = self._thinking_enabled(model, req, sent_name)
        if "completion" not in model.capabilities:
            raise _ApiError(400, f"{go_quote(sent_name)} does not support chat")
        tools: list[dict[str, Any]] = req.get("tools") or []
        if tools and "tools" not in model.capabilities:
            raise _ApiError(400, f"{model.ref.full} does not support tools")
        options = _check_options(req.get("options") or {})
        await self._load(ctx, model, keep_alive, options.get("num_ctx"))
        t_ready = time.monotonic()
        if not messages:
            fake._release(model, keep_alive)
            return _Json(200, self._done_shortcut(sent_name, "load", chat=True))
        streaming = req.get("stream", True) is not False
        format_error = self._check_format(req.get("format"))
        if format_error is not None:
            fake._release(model, keep_alive)
            if streaming:
                return _Json(500, {"error": format_error}, JSON_PLAIN_CT)
            raise _ApiError(500, format_error)
        user_text = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        all_text = " ".join(str(m.get("content", "")) for m in messages)
        if model.system and not (messages and messages[0].get("role") == "system"):
            all_text = f"{model.system} {all_text}"
        plan = self._plan(
            model,
            seed_text=user_text or all_text,
            thinking=thinking,
            fmt=req.get("format"),
            options=options,
            tools=tools,
            user_text=user_text,
        )
        prompt_count = max(1, _words(all_text))

        async def chunks() -> AsyncGenerator[dict[str, Any] | _StreamError, None]:
            try:
                async for kind, value in self._emit(ctx, model, plan, t0, t_ready):
                    if kind == "error":
                        yield _StreamError(value)
                        continue
                    message: dict[str, Any] = {"role": "assistant", "content": ""}
                    if kind == "content":
                        message["content"] = value
                    elif kind == "thinking":
                        message["thinking"] = value
                    elif kind == "tool_calls":
                        message["tool_calls"] = value
                    item: dict[str, Any] = {
                        "model": sent_name,
                        "created_at": _created_at(),
                        "message": message,
                    }
                    if kind == "done":
                        item["done"] = True
                        item["done_reason"] = plan.done_reason
                        item.update(self._metrics(value, prompt_count))
                    else:
                        item["done"] = False
                    yield item
            finally:
                fake._release(model, keep_alive)

        if streaming:
            return _Stream(chunks())
        return await self._collect(chunks(), chat=True)

    async def _handle_embed(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        t0 = time.monotonic()
        req = _bind(body, "EmbedRequest", EMBED_FIELDS)
        raw_input = req.get("input")
        inputs: list[str] = []
        if isinstance(raw_input, str):
            if raw_input:
                inputs.append(raw_input)
        elif isinstance(raw_input, list):
            for item in raw_input:
                if not isinstance(item, str):
                    raise _ApiError(400, "invalid input type")
                inputs.append(item)
        elif raw_input is not None:
            raise _ApiError(400, "invalid input type")
        sent_name: str = req.get("model", "")
        model = self._resolve(
            sent_name,
            empty=(404, "model '' not found"),
            missing=lambda n: f'model "{n}" not found, try pulling it first',
        )
        keep_alive = self._keep_alive(req)
        options = _check_options(req.get("options") or {})
        await self._load(ctx, model, keep_alive, options.get("num_ctx"))
        t_ready = time.monotonic()
        try:
            if not inputs:
                return _Json(200, {"model": sent_name, "embeddings": []})
            if req.get("truncate") is False and any(
                _words(text) > model.context_length for text in inputs
            ):
                raise _ApiError(400, "the input length exceeds the context length")
            await ctx.sleep(fake.ttft)
            dims = model.embedding_length
            wanted = req.get("dimensions") or 0
            rows: list[str] = []
            for text in inputs:
                vector = _embedding(model.key, text, dims)
                if 0 < wanted < dims:
                    vector = _normalise(vector[:wanted])
                rows.append("[" + ",".join(go_float32(x) for x in vector) + "]")
            t_end = time.monotonic()
            prompt_count = sum(max(1, _words(text)) for text in inputs)
            tail = {
                "total_duration": _ns(t_end - t0),
                "load_duration": max(1, _ns(t_ready - t0)),
                "prompt_eval_count": prompt_count,
            }
            raw = (
                '{"model":'
                + go_json(sent_name)
                + ',"embeddings":['
                + ",".join(rows)
                + "],"
                + go_json(tail)[1:]
            )
            return _Json(200, None, raw=raw)
        finally:
            fake._release(model, keep_alive)

    async def _handle_embeddings(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        req = _bind(body, "EmbeddingRequest", EMBEDDINGS_FIELDS)
        sent_name: str = req.get("model", "")
        model = self._resolve(
            sent_name,
            empty=(404, "model '' not found"),
            missing=lambda n: f'model "{n}" not found, try pulling it first',
        )
        keep_alive = self._keep_alive(req)
        await self._load(ctx, model, keep_alive, None)
        try:
            prompt: str = req.get("prompt", "")
            if not prompt:
                return _Json(200, {"embedding": []})
            vector = _embedding(model.key, prompt, model.embedding_length)
            scale = 1.0 + (zlib.crc32(prompt.encode()) % 1000) / 100.0
            values = ",".join(go_float64(_as_f32(x * scale)) for x in vector)
            return _Json(200, None, raw='{"embedding":[' + values + "]}")
        finally:
            fake._release(model, keep_alive)

    async def _handle_pull(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        req = _bind(body, "PullRequest", PULL_FIELDS)
        raw = (req.get("model") or req.get("name") or "").strip()
        name = parse_model_name(raw) if raw else None
        if name is None:
            raise _ApiError(400, "invalid model name")
        streaming = req.get("stream", True) is not False

        async def progress() -> AsyncGenerator[dict[str, Any] | _StreamError, None]:
            yield {"status": "pulling manifest"}
            await ctx.sleep(fake.pull_step_delay)
            if not fake._is_pullable(name):
                yield _StreamError(PULL_MISSING_MESSAGE)
                return
            with fake._lock:
                spec = fake._catalog.get(name.key)
                installed = fake._models.get(name.key)
            if spec is None:
                spec = FakeModel(
                    name=name.display,
                    family="llama",
                    parameter_size="1B",
                    quantization_level="Q4_K_M",
                    size=fake.pull_total_bytes or 734_003_200,
                    digest=_digest_of("manifest", name.key),
                    modified_at_ns=_now_ns(),
                    context_length=4096,
                    embedding_length=2048,
                    parameter_count=1_000_000_000,
                    capabilities=["completion"],
                )
            spec = dataclasses.replace(spec, name=name.display)
            if fake.pull_total_bytes is not None:
                spec.size = fake.pull_total_bytes
            present = {d for d, _ in installed.layers()} if installed is not None else set()
            for index, (digest, total) in enumerate(spec.layers()):
                status = f"pulling {digest[:12]}"
                line: dict[str, Any] = {
                    "status": status,
                    "digest": f"sha256:{digest}",
                    "total": total,
                }
                if digest in present:
                    yield {**line, "completed": total}
                    continue
                yield line
                if fake.pull_hang and index == 0:
                    yield {**line, "completed": max(1, total // 100)}
                    await ctx.hang()
                steps = max(1, fake.pull_steps) if total >= 1_000_000 else 1
                for step in range(1, steps + 1):
                    await ctx.sleep(fake.pull_step_delay)
                    yield {**line, "completed": total * step // steps}
            await ctx.sleep(fake.pull_step_delay)
            yield {"status": "verifying sha256 digest"}
            await ctx.sleep(fake.pull_step_delay)
            yield {"status": "writing manifest"}
            spec.modified_at_ns = _now_ns()
            fake._install(spec)
            yield {"status": "success"}

        return await _progress_result(progress(), streaming=streaming)

    async def _handle_create(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        req = _bind(body, "CreateRequest", CREATE_FIELDS)
        raw = (req.get("model") or req.get("name") or "").strip()
        name = parse_model_name(raw) if raw else None
        if name is None:
            raise _ApiError(400, "invalid model name")
        source_raw: str = req.get("from", "")
        if not source_raw and not req.get("files"):
            raise _ApiError(400, "neither 'from' or 'files' was specified")
        streaming = req.get("stream", True) is not False

        async def progress() -> AsyncGenerator[dict[str, Any] | _StreamError, None]:
            base: FakeModel | None = None
            if source_raw:
                source = parse_model_name(source_raw)
                base = fake._find(source) if source is not None else None
                if base is None:
                    yield {"status": "pulling manifest"}
                    yield _StreamError(PULL_MISSING_MESSAGE)
                    return
            if base is None:
                base = FakeModel(
                    name=name.display,
                    family="llama",
                    parameter_size="1B",
                    quantization_level="Q4_K_M",
                    size=734_003_200,
                    digest="",
                    modified_at_ns=_now_ns(),
                    context_length=4096,
                    embedding_length=2048,
                    parameter_count=1_000_000_000,
                    capabilities=["completion"],
                )
            created = dataclasses.replace(base, name=name.display, modified_at_ns=_now_ns())
            if req.get("system") is not None:
                created.system = req["system"]
            if req.get("template") is not None:
                created.template = req["template"]
            if isinstance(req.get("license"), str):
                created.license = req["license"]
            params = req.get("parameters")
            if isinstance(params, dict):
                created.parameters = [
                    (k, item)
                    for k, v in params.items()
                    for item in (v if isinstance(v, list) else [v])
                ]
            created.digest = _digest_of("created", name.key, str(created.modified_at_ns))
            changed = {_digest_of("template", created.template), created.blob_digest}
            for digest, _size in created.layers():
                verb = (
                    "using existing"
                    if digest in changed or digest in fake._blobs
                    else "creating new"
                )
                yield {"status": f"{verb} layer sha256:{digest}"}
                await ctx.sleep(fake.pull_step_delay)
            yield {"status": "writing manifest"}
            fake._install(created)
            yield {"status": "success"}

        return await _progress_result(progress(), streaming=streaming)

    def _handle_copy(self, body: bytes) -> _Result:
        fake = self.fake
        req = _bind(body, "CopyRequest", COPY_FIELDS)
        source_raw: str = req.get("source", "")
        dest_raw: str = req.get("destination", "")
        source = parse_model_name(source_raw) if source_raw.strip() else None
        if source is None:
            raise _ApiError(400, f"source {go_quote(source_raw)} is invalid")
        dest = parse_model_name(dest_raw) if dest_raw.strip() else None
        if dest is None:
            raise _ApiError(400, f"destination {go_quote(dest_raw)} is invalid")
        model = fake._find(source)
        if model is None:
            raise _ApiError(404, f"model {go_quote(source_raw)} not found")
        copied = dataclasses.replace(model, name=dest.display, modified_at_ns=_now_ns())
        fake._install(copied)
        return _Plain(200, b"", None)

    def _handle_delete(self, body: bytes) -> _Result:
        fake = self.fake
        req = _bind(body, "DeleteRequest", DELETE_FIELDS)
        raw: str = req.get("model") or req.get("name") or ""
        if not raw.strip():
            raise _ApiError(400, "model is required")
        name = parse_model_name(raw)
        if name is None:
            raise _ApiError(400, f"name {go_quote(raw)} is invalid")
        with fake._lock:
            if fake._models.pop(name.key, None) is None:
                raise _ApiError(404, f"model '{raw}' not found")
        return _Plain(200, b"", None)

    def _handle_blob(self, method: str, path: str, body: bytes) -> _Result:
        fake = self.fake
        digest = path.removeprefix("/api/blobs/")
        match = re.fullmatch(r"sha256[:-]([0-9a-f]{64})", digest)
        if match is None:
            raise _ApiError(400, "invalid digest format")
        hex_digest = match.group(1)
        if method == "HEAD":
            if hex_digest in fake._blobs:
                return _Plain(200, b"", None)
            raise _ApiError(404, f'blob "sha256:{hex_digest}" not found')
        actual = hashlib.sha256(body).hexdigest()
        if actual != hex_digest:
            raise _ApiError(
                400, f'digest mismatch, expected "sha256:{hex_digest}", got "sha256:{actual}"'
            )
        if hex_digest in fake._blobs:
            return _Plain(200, b"", None)
        fake._blobs.add(hex_digest)
        return _Plain(201, b"", None)


def _context_tokens(prompt: str, answer: str) -> list[int]:
    words = prompt.split() + _tokenize(answer)
    return [128006, 9125, *(zlib.crc32(w.encode()) % 128000 for w in words)]


def _explicit_no_stream(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("stream") is False


def _host_allowed(host_header: str) -> bool:
    host = host_header.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.lower()
    return bool(_PRIVATE_HOST_RE.match(host)) or host == socket.gethostname().lower()


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _gin_log(status: int, elapsed: float, scope: Scope, method: str, path: str) -> None:
    client = scope.get("client") or ("", 0)
    stamp = time.strftime("%Y/%m/%d - %H:%M:%S")
    line = (
        f"[GIN] {stamp} | {status:3d} | {_go_duration_short(elapsed):>13} | "
        f"{client[0]:>15} | {method:<7} {go_quote(path)}"
    )
    print(line, file=sys.stderr, flush=True)


def _go_duration_short(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.6f}ms"
    return f"{seconds:.6f}s"


# ---------------------------------------------------------------------------------------------
# Serving on real sockets
# ---------------------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn.Server that notices ``should_exit`` every 20 ms instead of every 100 ms."""

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864_000
            await anyio.sleep(0.02)
            should_exit = await self.on_tick(counter)


class FakeServerHandle:
    """A `FakeOllama` served by uvicorn on a loopback port in a background thread."""

    def __init__(self, fake: FakeOllama, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self.host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stop_event: threading.Event | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def ollama_host(self) -> str:
        """The value to put in ``OLLAMA_HOST`` (``host:port``)."""
        return self.url.removeprefix("http://")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart on the same port) and wait until it accepts connections."""
        if self.running:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto
        # says TCP. Without it Nagle holds the body behind the headers until the client's
        # delayed ACK (~40 ms per keep-alive request), as the real daemon (Go: NODELAY) never does.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        stop_event = threading.Event()
        config = uvicorn.Config(
            self.fake.app(stop_event=stop_event),
            host=self.host,
            port=self._port,
            log_level="warning",
            lifespan="off",
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"fake-ollama-{self._port}",
            daemon=True,
        )
        self._server, self._thread, self._stop_event = server, thread, stop_event
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                sock.close()
                self._server = self._thread = None
                raise RuntimeError("fake ollama server failed to start")
            if time.monotonic() >= deadline:
                self.stop()
                raise TimeoutError(f"fake ollama server did not start within {timeout} s")
            time.sleep(0.002)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (connections are refused afterwards); in-flight streams are cut."""
        server, thread, stop_event = self._server, self._thread, self._stop_event
        if server is None or thread is None:
            return
        if stop_event is not None:
            stop_event.set()
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._server = self._thread = self._stop_event = None
        if thread.is_alive():
            raise RuntimeError("fake ollama server did not stop")

    def restart(self, timeout: float = 10.0) -> None:
        self.stop(timeout)
        self.start(timeout)

    def __repr__(self) -> str:
        return f"<FakeServerHandle {self.url} running={self.running}>"


@contextlib.contextmanager
def serve_fake_ollama(
    fake: FakeOllama | None = None,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    timeout: float = 10.0,
) -> Iterator[FakeServerHandle]:
    """Serve ``fake`` (a new `FakeOllama` by default) on ``host:port`` for the ``with`` block."""
    handle = FakeServerHandle(fake if fake is not None else FakeOllama(), host, port)
    handle.start(timeout)
    try:
        yield handle
    finally:
        handle.stop(timeout)


# ---------------------------------------------------------------------------------------------
# python -m tests.fake_ollama
# ---------------------------------------------------------------------------------------------


def _slog(message: str, level: str = "INFO", source: str = "routes.go:1", **extra: str) -> str:
    stamp = dt.datetime.now().astimezone().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields = " ".join(f"{k}={go_quote(v)}" for k, v in extra.items())
    return f"time={stamp} level={level} source={source} msg={go_quote(message)}" + (
        f" {fields}" if fields else ""
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_ollama", description="Serve a fake Ollama daemon."
    )
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--tokens-per-second", type=float, default=None)
    parser.add_argument("--ttft", type=float, default=None)
    parser.add_argument("--load-duration", type=float, default=None)
    parser.add_argument("--log-file", default=None, help="also append log lines to this file")
    parser.add_argument("--no-request-log", action="store_true")
    args = parser.parse_args(argv)

    env_host, env_port = parse_ollama_host(os.environ.get("OLLAMA_HOST"), listen=True)
    host = args.host if args.host is not None else env_host
    port = args.port if args.port is not None else env_port

    log_file = args.log_file

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        if log_file:
            with open(log_file, "a", encoding="utf-8") as handle_file:
                handle_file.write(line + "\n")

    fake = FakeOllama()
    if args.tokens_per_second is not None:
        fake.tokens_per_second = args.tokens_per_second
    if args.ttft is not None:
        fake.ttft = args.ttft
    if args.load_duration is not None:
        fake.load_duration = args.load_duration
    fake.log_requests = not args.no_request_log

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    shown_host = f"[{host}]" if ":" in host else host
    try:
        handle = FakeServerHandle(fake, host, port)
        handle.start()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        print(f"Error: listen tcp {shown_host}:{port}: bind: {reason}", file=sys.stderr, flush=True)
        return 1
    try:
        env = f"map[OLLAMA_HOST:{shown_host}:{handle.port} OLLAMA_KEEP_ALIVE:5m0s]"
        log(_slog("server config", env=env))
        log(_slog(f"Listening on {shown_host}:{handle.port} (version {OLLAMA_VERSION})"))
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
