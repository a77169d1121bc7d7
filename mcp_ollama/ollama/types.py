"""Pydantic models of the Ollama wire API.

Durations are integer nanoseconds, as Ollama sends them. Response models keep unknown fields
(`extra="allow"`) so a newer daemon's additions are carried through rather than rejected.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mcp_ollama.errors import MalformedResponseError

__all__ = [
    "ChatChunk",
    "ChatMessage",
    "ChatRequest",
    "EmbedRequest",
    "EmbedResponse",
    "GenerateChunk",
    "GenerateRequest",
    "ModelDetails",
    "ModelSummary",
    "PullProgress",
    "RunningModel",
    "ShowResponse",
    "ThinkLevel",
    "ToolCall",
    "ToolCallFunction",
    "VersionInfo",
    "field_of",
    "parse_response",
]

M = TypeVar("M", bound=BaseModel)

ThinkLevel = bool | Literal["low", "medium", "high", "max"]
Format = Literal["json"] | dict[str, Any]


# Validators are built on first use (defer_build), not at import: start-up is measured, and
# most of these are not needed until the first call.
class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    def body(self, *, stream: bool) -> dict[str, Any]:
        """The JSON body, without unset fields, with `stream` explicit."""
        return {**self.model_dump(exclude_none=True), "stream": stream}


class VersionInfo(_Wire):
    """`GET /api/version`."""

    version: str


class ModelDetails(_Wire):
    """The `details` object of tags, show and ps."""

    parent_model: str = ""
    format: str = ""
    family: str = ""
    families: list[str] | None = None
    parameter_size: str = ""
    quantization_level: str = ""


class ModelSummary(_Wire):
    """One entry of `GET /api/tags`."""

    name: str
    model: str = ""
    modified_at: str = ""
    size: int = 0
    digest: str = ""
    details: ModelDetails = Field(default_factory=ModelDetails)
    capabilities: list[str] | None = None


class RunningModel(_Wire):
    """One entry of `GET /api/ps`."""

    name: str
    model: str = ""
    size: int = 0
    digest: str = ""
    details: ModelDetails = Field(default_factory=ModelDetails)
    expires_at: str = ""
    size_vram: int = 0
    context_length: int | None = None


class ShowResponse(_Wire):
    """`POST /api/show`."""

    license: str = ""
    modelfile: str = ""
    parameters: str = ""
    template: str = ""
    system: str = ""
    details: ModelDetails = Field(default_factory=ModelDetails)
    model_info: dict[str, Any] = Field(default_factory=dict)
    capabilities: list[str] = Field(default_factory=list)
    modified_at: str = ""

    @property
    def context_length(self) -> int | None:
        """The model's trained context window, from `<architecture>.context_length`."""
        arch = self.model_info.get("general.architecture")
        value = self.model_info.get(f"{arch}.context_length") if arch else None
        if value is None:
            value = next(
                (v for k, v in self.model_info.items() if k.endswith(".context_length")), None
            )
        return int(value) if isinstance(value, int | float) else None


class ToolCallFunction(_Wire):
    """The function part of a tool call; `arguments` is an object, not a JSON string."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    index: int | None = None


class ToolCall(_Wire):
    """A tool call the model made."""

    id: str | None = None
    function: ToolCallFunction


class ChatMessage(_Wire):
    """One chat message, as sent and as received."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    thinking: str | None = None
    images: list[str] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None


class _Metrics(_Wire):
    """Counters and nanosecond durations on a final (`done: true`) chunk."""

    model: str = ""
    created_at: str = ""
    done: bool = False
    done_reason: str | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None


class GenerateChunk(_Metrics):
    """One NDJSON line of `POST /api/generate` (or the whole non-streamed answer)."""

    response: str = ""
    thinking: str | None = None
    context: list[int] | None = None
    tool_calls: list[ToolCall] | None = None


class ChatChunk(_Metrics):
    """One NDJSON line of `POST /api/chat` (or the whole non-streamed answer)."""

    message: ChatMessage = Field(default_factory=lambda: ChatMessage(role="assistant"))


class PullProgress(_Wire):
    """One status line of `POST /api/pull`."""

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


class EmbedResponse(_Wire):
    """`POST /api/embed`."""

    model: str = ""
    embeddings: list[list[float]] = Field(default_factory=list)
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None


class GenerateRequest(_Request):
    """The body of `POST /api/generate`."""

    model: str
    prompt: str = ""
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    context: list[int] | None = None
    raw: bool | None = None
    format: Format | None = None
    images: list[str] | None = None
    options: dict[str, Any] | None = None
    think: ThinkLevel | None = None
    keep_alive: str | float | None = None


class ChatRequest(_Request):
    """The body of `POST /api/chat`."""

    model: str
    messages: list[ChatMessage]
    tools: list[dict[str, Any]] | None = None
    format: Format | None = None
    options: dict[str, Any] | None = None
    think: ThinkLevel | None = None
    keep_alive: str | float | None = None

    def body(self, *, stream: bool) -> dict[str, Any]:
        """The JSON body; messages drop their unset fields too."""
        data = super().body(stream=stream)
        data["messages"] = [m.model_dump(exclude_none=True) for m in self.messages]
        return data


class EmbedRequest(_Request):
    """The body of `POST /api/embed`."""

    model: str
    input: str | list[str]
    truncate: bool | None = None
    dimensions: int | None = None
    options: dict[str, Any] | None = None
    keep_alive: str | float | None = None


def parse_response(model: type[M], data: Any) -> M:
    """`data` as `model`; a body that does not fit is a malformed response, not a crash."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MalformedResponseError(
            f"unexpected {model.__name__}: {exc.errors()[0]['msg']}"
        ) from exc


def field_of(data: Any, key: str, kind: type) -> Any:
    """`data[key]`, which must be a `kind`."""
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind):
        raise MalformedResponseError(f"expected a {kind.__name__} in {key!r}")
    return value
