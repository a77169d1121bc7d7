"""The text content of every tool's answer: written for the model that reads it, never a JSON
dump. One renderer per result type; the complete typed data goes in structured content.

Generation answers are the answer text plus one short line of model, tokens and speed; lists
are one line per item; figures are a short Markdown table. A new result type gets a renderer
here (or in `answers_more.py`) and an entry in `RENDERERS`; registering a tool whose result
has none fails at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from mcp_ollama.fleet.health import HealthReport, HostHealth
from mcp_ollama.ollama.types import ToolCall
from mcp_ollama.results import (
    ChatResult,
    EmbedResult,
    GenerationResult,
    LocalModel,
    ModelInfo,
    ModelList,
    OperationResult,
    PullResult,
    RunningList,
    Usage,
    human_bytes,
    to_the_second,
)
from mcp_ollama.server.answers_more import RENDERERS as MORE
from mcp_ollama.server.answers_more import files_read
from mcp_ollama.server.render import context, join, rate

__all__ = ["RENDERERS", "renderer_for"]


def _tool_calls(calls: list[ToolCall] | None) -> list[str]:
    return [
        f"tool call: {c.function.name}({json.dumps(c.function.arguments, ensure_ascii=False)})"
        for c in calls or []
    ]


def _footer(model: str, usage: Usage, *extra: str | None) -> str:
    """The one line under an answer: model, output tokens, speed and what else matters."""
    tokens = f"{usage.output_tokens} tokens" if usage.output_tokens else None
    return f"[{join([model, tokens, rate(usage.tokens_per_second), *extra])}]"


def _done(done_reason: str | None) -> str | None:
    return "cut at num_predict" if done_reason == "length" else None


def _answer(text: str, thinking: str | None, calls: list[ToolCall] | None, footer: str) -> str:
    parts = [f"<thinking>\n{thinking}\n</thinking>"] if thinking else []
    parts += [text] if text or not calls else []
    parts += _tool_calls(calls)
    return "\n".join([*parts, footer])


def generation(result: GenerationResult) -> str:
    """The answer, then one line of model, tokens and speed."""
    footer = _footer(
        result.model,
        result.usage,
        _done(result.done_reason),
        files_read(result.files, result.usage),
        f"on {result.host}" if result.host else None,
        "via the ollama CLI" if result.served_by == "cli" else None,
        f"saved as {result.saved_output}" if result.saved_output else None,
    )
    return _answer(result.text, result.thinking, result.tool_calls, footer)


def chat(result: ChatResult) -> str:
    """The assistant's message, then one line (with the session to continue, if any)."""
    message = result.message
    footer = _footer(
        result.model,
        result.usage,
        _done(result.done_reason),
        files_read(result.files, result.usage),
        f"session_id {result.session_id}" if result.session_id else None,
        f"on {result.host}" if result.host else None,
        "via the ollama CLI" if result.served_by == "cli" else None,
        f"saved as {result.saved_output}" if result.saved_output else None,
    )
    return _answer(message.content, message.thinking, message.tool_calls, footer)


def embed(result: EmbedResult) -> str:
    """A one-line summary: the vectors are in structured content only."""
    count = len(result.embeddings)
    return (
        f"{count} embedding{'s' if count != 1 else ''} of {result.dimensions} dimensions from "
        f"{result.model} ({result.usage.prompt_tokens} input tokens); the L2-normalised vectors "
        "are in structured content (`embeddings`)"
    )


def _model_line(model: LocalModel) -> str:
    # "completion" is nearly every model's: only the other capabilities tell models apart.
    capabilities = ",".join(c for c in model.capabilities if c != "completion")
    return join(
        [
            model.name,
            model.parameter_size,
            human_bytes(model.size_bytes),
            context(model.context_length),
            capabilities,
            f"loaded on {','.join(model.loaded_on)}" if model.loaded_on else None,
            "loaded" if model.loaded and not model.loaded_on else None,
            f"on {','.join(model.hosts)}" if model.hosts else None,
        ],
        " ",
    )


def model_list(result: ModelList) -> str:
    """One line per installed model."""
    if not result.models:
        lines = ["No models installed: pull one with pull_model (e.g. llama3.2:1b)."]
    else:
        count = len(result.models)
        plural = "s" if count != 1 else ""
        lines = [f"{count} model{plural}: name, parameters, size, context, capabilities"]
        lines += [_model_line(m) for m in result.models]
    if result.stale:
        lines.append(f"(stale: {result.stale_reason})")
    elif result.served_by == "cli":
        lines.append("(listed by the ollama CLI: Ollama's API did not answer)")
    return "\n".join(lines)


def model_info(result: ModelInfo) -> str:
    """The details an agent chooses by; template and tensor metadata stay structured."""
    head = join(
        [
            result.family,
            result.parameter_size,
            result.quantization,
            f"context {result.context_length}" if result.context_length else None,
            f"embedding length {result.embedding_length}" if result.embedding_length else None,
        ]
    )
    where = f" (on {result.host})" if result.host else ""
    lines = [
        f"{result.name}{where}: {head}",
        f"capabilities: {', '.join(result.capabilities) or '-'}",
    ]
    if result.parameters:
        parameters = "; ".join(" ".join(p.split()) for p in result.parameters.splitlines())
        lines.append(f"parameters: {parameters}")
    if result.system:
        lines.append(f"system prompt: {result.system}")
    if result.license:
        lines.append(f"license: {result.license.splitlines()[0]}")
    return "\n".join(lines)


def running(result: RunningList) -> str:
    """One line per loaded model, then the hosts that did not answer."""
    down = [f"{host} did not answer: {why}" for host, why in (result.unreachable or {}).items()]
    if not result.models:
        return "\n".join(["No model is loaded.", *down])
    lines = [
        join(
            [
                m.name,
                f"on {m.host}" if m.host else None,
                m.size,
                m.processor,
                f"ctx {m.context_length}" if m.context_length else None,
                f"until {to_the_second(m.expires_at)}" if m.expires_at else None,
            ],
            " ",
        )
        for m in result.models
    ]
    return "\n".join([*lines, *down])


def pull(result: PullResult) -> str:
    """One line: done (and how much), or Ollama's last status."""
    if result.status != "success":
        return f"{result.model}: {result.status}"
    size = f" ({human_bytes(result.total_bytes)})" if result.total_bytes else ""
    via = " via the ollama CLI" if result.served_by == "cli" else ""
    where = f" on {', '.join(result.hosts)}" if result.hosts else ""
    if not result.skipped:
        return f"Pulled {result.model}{size}{where}{via}."
    down = ", ".join(result.skipped)
    first = result.skipped[0]
    return (
        f"Pulled {result.model}{size}{where}{via}; not on {down}, which did not answer: call "
        f"pull_model with host='{first}' once it is back."
    )


def operation(result: OperationResult) -> str:
    """The operation's message."""
    return result.message


def health(result: HealthReport) -> str:
    """Healthy or not, what to fix, and the enabled tools; settings stay structured."""
    daemon = (
        f"Ollama {result.daemon_version} answers at {result.daemon_url}"
        if result.daemon_reachable
        else f"Ollama does not answer at {result.daemon_url}"
    )
    if result.hosts:
        up = sum(h.reachable for h in result.hosts)
        daemon = f"{up} of {len(result.hosts)} hosts answer"
    lines = [f"{'Healthy' if result.healthy else 'Unhealthy'}: {daemon}."]
    lines += [_host_line(h) for h in result.hosts or []]
    lines += [f"problem: {p}" for p in result.problems]
    lines += [f"warning: {w}" for w in result.warnings]
    if result.default_model:
        lines.append(f"default model: {result.default_model}")
    lines.append(f"tools ({len(result.tools)}): {', '.join(result.tools)}")
    return "\n".join(lines)


def _host_line(host: HostHealth) -> str:
    if not host.reachable:
        return f"{host.name} ({host.url}): does not answer"
    return join(
        [
            f"{host.name} ({host.url}): Ollama {host.version}",
            f"{host.models} models" if host.models is not None else None,
            f"loaded {','.join(host.loaded)}" if host.loaded else None,
            "marked down" if host.marked_down else None,
        ]
    )


Renderer = Callable[[Any], str]
RENDERERS: dict[type[BaseModel], Renderer] = {
    GenerationResult: generation,
    ChatResult: chat,
    EmbedResult: embed,
    ModelList: model_list,
    ModelInfo: model_info,
    RunningList: running,
    PullResult: pull,
    OperationResult: operation,
    HealthReport: health,
    **MORE,
}


def renderer_for(kind: type[BaseModel]) -> Renderer:
    """The renderer of a result type (or of its nearest base class that has one)."""
    for base in kind.__mro__:
        if base in RENDERERS:
            return RENDERERS[base]
    raise LookupError(f"no text renderer for {kind.__name__}: add one to server/answers.py")
