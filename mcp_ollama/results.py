"""What the core hands back to callers (and the MCP tools return as structured content)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcp_ollama.ollama.types import ChatMessage, ToolCall

__all__ = [
    "FLEET_ONLY",
    "ChatResult",
    "EmbedResult",
    "FileRead",
    "GenerationResult",
    "LocalModel",
    "ModelInfo",
    "ModelList",
    "OperationResult",
    "PullResult",
    "Result",
    "RunningList",
    "RunningModelInfo",
    "ServedBy",
    "Usage",
    "human_bytes",
    "ns_to_ms",
    "per_second",
    "to_the_second",
]


class Result(BaseModel):
    """The base of what the core hands back: each model's validator is built the first time it
    is used, not at import, so the server starts without paying for results it has not produced
    yet (a model costs ~1.5 ms to build, and start-up is measured)."""

    model_config = ConfigDict(defer_build=True)


FLEET_ONLY: dict[str, Any] = {"fleet_only": True}
"""`json_schema_extra` of a result field set only with several hosts: a tool's output schema
lists it only then (with one host nothing an agent reads mentions hosts)."""

ServedBy = Literal["http", "cli"]
NS_PER_SECOND = 1_000_000_000


def ns_to_ms(value: int | None) -> float | None:
    """Nanoseconds (Ollama's unit) to milliseconds.

    >>> ns_to_ms(1_500_000), ns_to_ms(None)
    (1.5, None)
    """
    return None if value is None else round(value / 1_000_000, 3)


def per_second(count: int | None, duration_ns: int | None) -> float | None:
    """A rate from an Ollama counter and its nanosecond duration.

    >>> per_second(50, 1_000_000_000), per_second(5, 0), per_second(None, 1)
    (50.0, None, None)
    """
    if not count or not duration_ns:
        return None
    return round(count * NS_PER_SECOND / duration_ns, 3)


def to_the_second(timestamp: str) -> str:
    """An RFC 3339 timestamp without its fraction of a second (Ollama sends nanoseconds).

    >>> to_the_second("2024-12-02T18:34:33.691097398-08:00"), to_the_second("")
    ('2024-12-02T18:34:33-08:00', '')
    """
    return re.sub(r"(T\d\d:\d\d:\d\d)\.\d+", r"\1", timestamp)


def human_bytes(size: int) -> str:
    """Bytes in decimal units, as `ollama list` prints them.

    >>> human_bytes(1_321_098_329), human_bytes(397_821_319), human_bytes(274_302_450)
    ('1.3 GB', '397 MB', '274 MB')
    >>> human_bytes(12_000_000_000), human_bytes(999), human_bytes(4_700_000_000)
    ('12 GB', '999 B', '4.7 GB')
    """
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    if unit == "B":
        return f"{int(value)} B"
    if value >= 10:
        return f"{int(value)} {unit}"
    return f"{value:.1f} {unit}"


class Usage(Result):
    """Token counts and timings of one call, from Ollama's own counters."""

    prompt_tokens: int = Field(0, description="Prompt tokens evaluated (prompt_eval_count)")
    output_tokens: int = Field(0, description="Tokens generated (eval_count)")
    load_ms: float | None = Field(None, description="Time spent loading the model")
    prompt_eval_ms: float | None = Field(None, description="Time spent reading the prompt")
    eval_ms: float | None = Field(None, description="Time spent generating")
    total_ms: float | None = Field(None, description="Whole request, as Ollama measured it")
    tokens_per_second: float | None = Field(None, description="eval_count / eval_duration")
    prompt_tokens_per_second: float | None = Field(
        None, description="prompt_eval_count / prompt_eval_duration"
    )
    cost: float = Field(0.0, description="Always 0: local models cost nothing per token")

    @classmethod
    def from_counters(cls, chunk: Any) -> Usage:
        """Build from a final chunk's counters (`*_count`, `*_duration` in ns)."""
        return cls(
            prompt_tokens=chunk.prompt_eval_count or 0,
            output_tokens=chunk.eval_count or 0,
            load_ms=ns_to_ms(chunk.load_duration),
            prompt_eval_ms=ns_to_ms(chunk.prompt_eval_duration),
            eval_ms=ns_to_ms(chunk.eval_duration),
            total_ms=ns_to_ms(chunk.total_duration),
            tokens_per_second=per_second(chunk.eval_count, chunk.eval_duration),
            prompt_tokens_per_second=per_second(
                chunk.prompt_eval_count, chunk.prompt_eval_duration
            ),
        )


class FileRead(Result):
    """A file the server read into the prompt (`files`)."""

    path: str = Field(description="As shown to the model: relative to the first root if inside")
    bytes: int
    image: bool = Field(False, description="Sent to the model as an image")


class GenerationResult(Result):
    """The answer of generate_text."""

    model: str
    text: str = Field(description="The generated text")
    thinking: str | None = Field(None, description="The model's reasoning, for thinking models")
    done_reason: str | None = Field(None, description="'stop', or 'length' when cut by num_predict")
    tool_calls: list[ToolCall] | None = None
    usage: Usage = Field(default_factory=Usage)
    served_by: ServedBy = Field("http", description="'cli' when the ollama CLI fallback answered")
    host: str | None = Field(
        None,
        description="The host that answered (several hosts only)",
        json_schema_extra=FLEET_ONLY,
    )
    files: list[FileRead] | None = Field(None, description="The files read into the prompt")
    saved_output: str | None = Field(None, description="Id of the saved output, if saved")


class ChatResult(Result):
    """The answer of chat."""

    model: str
    message: ChatMessage = Field(description="The assistant's message")
    done_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    served_by: ServedBy = "http"
    host: str | None = Field(
        None,
        description="The host that answered (several hosts only)",
        json_schema_extra=FLEET_ONLY,
    )
    session_id: str | None = Field(None, description="The session this turn was stored in")
    files: list[FileRead] | None = Field(None, description="The files read into the message")
    saved_output: str | None = None


class LocalModel(Result):
    """One installed model (kept lean: a list may hold hundreds)."""

    name: str
    digest: str = Field(description="First 12 hex characters of the digest")
    size_bytes: int
    modified_at: str = Field("", description="When it was pulled or created, to the second")
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    context_length: int | None = Field(None, description="Trained context window, in tokens")
    capabilities: list[str] = Field(default_factory=list)
    loaded: bool = Field(False, description="Whether the model is in memory now")
    hosts: list[str] | None = Field(
        None, description="Hosts that have it (several hosts only)", json_schema_extra=FLEET_ONLY
    )
    loaded_on: list[str] | None = Field(None, description="Hosts where it is in memory now")


class ModelList(Result):
    """The installed models."""

    models: list[LocalModel]
    stale: bool = Field(False, description="True when served from cache because Ollama was down")
    stale_reason: str | None = None
    cached_at: str | None = Field(None, description="When the list was fetched (ISO 8601)")
    served_by: ServedBy = "http"


class ModelInfo(Result):
    """Details of one model."""

    name: str
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    format: str | None = None
    context_length: int | None = None
    embedding_length: int | None = None
    capabilities: list[str] = Field(default_factory=list)
    parameters: str = ""
    template: str = ""
    system: str = ""
    license: str = Field("", description="The first lines of the license")
    modified_at: str = ""
    model_info: dict[str, Any] = Field(default_factory=dict)
    served_by: ServedBy = "http"
    host: str | None = Field(
        None, description="The host asked (several hosts only)", json_schema_extra=FLEET_ONLY
    )


class RunningModelInfo(Result):
    """A model loaded in memory."""

    name: str
    size_bytes: int
    size: str
    vram_bytes: int
    processor: str = Field(description="'100% GPU', '100% CPU' or a split")
    context_length: int | None = None
    expires_at: str = ""
    host: str | None = Field(
        None, description="Where it is loaded (several hosts only)", json_schema_extra=FLEET_ONLY
    )


class RunningList(Result):
    """Models loaded in memory now."""

    models: list[RunningModelInfo]
    unreachable: dict[str, str] | None = Field(
        None,
        description="Hosts that did not answer, and why (several hosts only)",
        json_schema_extra=FLEET_ONLY,
    )


class PullResult(Result):
    """The outcome of pull_model."""

    model: str
    status: str = Field(description="Ollama's final status, 'success' when done")
    total_bytes: int = 0
    completed_bytes: int = 0
    served_by: ServedBy = "http"
    hosts: list[str] | None = Field(
        None, description="Where it was pulled (several hosts only)", json_schema_extra=FLEET_ONLY
    )
    skipped: list[str] | None = Field(
        None,
        description="Hosts not pulled on for host='all': they are down",
        json_schema_extra=FLEET_ONLY,
    )


class OperationResult(Result):
    """The outcome of a model-management operation."""

    ok: bool = True
    message: str


class EmbedResult(Result):
    """Embeddings, one L2-normalised vector per input text."""

    model: str
    embeddings: list[list[float]]
    dimensions: int
    usage: Usage = Field(default_factory=Usage)
