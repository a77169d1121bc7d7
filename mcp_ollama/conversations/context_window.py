"""Context-window management: how big the window is, how big a prompt is, and shrinking a
session's history to fit.

The window comes from Ollama: an explicit `num_ctx` option, else the context the loaded runner
reports in `/api/ps`, else Ollama's own default; never more than the model's trained length
(`<architecture>.context_length` in `/api/show`), which Ollama caps `num_ctx` at too.

Prompt sizes are estimated before sending (about four characters per token plus a few tokens of
chat template per message) and the estimate is corrected by the ratio between what Ollama then
reports as `prompt_eval_count` and what was estimated, kept per session.

When a prompt would pass `threshold` of the window, older turns are compacted: summarised by a
local model into one system note (policy `summarize`) or dropped (policy `drop`). The system
prompt and the newest turn always survive; the history is only ever cut before a user message.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from mcp_ollama.errors import InvalidInputError, OllamaError
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.names import canonical_name, validate_model_name
from mcp_ollama.ollama.types import ChatMessage, ChatRequest
from mcp_ollama.results import ChatResult

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_RUNTIME_CONTEXT",
    "SUMMARY_NOTE",
    "Compactor",
    "ContextWindows",
    "FittedPrompt",
    "assemble",
    "estimate_message",
    "estimate_messages",
    "estimate_tokens",
    "observed_ratio",
    "prompt_limit",
    "window_size",
]

logger = structlog.get_logger()

CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD = 4  # role markers and separators a chat template wraps around each message
IMAGE_TOKENS = 768  # vision encoders spend a few hundred tokens per image; err on the high side
DEFAULT_RUNTIME_CONTEXT = 4096  # Ollama's num_ctx when neither the request nor the env sets one
MIN_RATIO, MAX_RATIO = 0.5, 4.0
KEEP_FRACTION = 0.5  # after compaction the kept turns fill at most this much of the limit
SUMMARY_FRACTION = 0.2  # the summary may take this much of the limit
MIN_SUMMARY_TOKENS = 32
SUMMARY_NOTE = "Summary of the earlier conversation (older turns were compacted):\n\n"
SUMMARY_INSTRUCTIONS = (
    "You compress conversations so they can continue in a small context window. Write a concise "
    "summary of the conversation you are given, merged with any earlier summary: keep facts, "
    "names, numbers, decisions, the user's goals and preferences, and open questions; drop "
    "pleasantries. Use at most {words} words. Reply with the summary only."
)

Policy = Literal["summarize", "drop"]
ChatFn = Callable[[ChatRequest], Awaitable[ChatResult]]
ClientFor = Callable[[str], Awaitable[OllamaClient]]
"""The client of the daemon a call for a model goes to (with several hosts, routing picks)."""


def _always(client: OllamaClient) -> ClientFor:
    async def same(_model: str) -> OllamaClient:
        return client

    return same


def estimate_tokens(text: str | None) -> int:
    """Tokens in a text by the four-characters heuristic.

    >>> estimate_tokens('abcdefgh'), estimate_tokens('abc'), estimate_tokens('')
    (2, 1, 0)
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def estimate_message(message: ChatMessage) -> int:
    """Tokens one chat message costs, template overhead included.

    >>> estimate_message(ChatMessage(role='user', content='abcdefgh'))
    6
    """
    tokens = MESSAGE_OVERHEAD + estimate_tokens(message.content)
    tokens += IMAGE_TOKENS * len(message.images or [])
    for call in message.tool_calls or []:
        tokens += estimate_tokens(call.model_dump_json())
    return tokens


def estimate_messages(messages: Sequence[ChatMessage], ratio: float = 1.0) -> int:
    """Tokens a list of messages costs, corrected by the ratio observed for this conversation."""
    return math.ceil(sum(estimate_message(m) for m in messages) * ratio)


def observed_ratio(previous: float, estimated: int, prompt_eval_count: int | None) -> float:
    """The new correction ratio after Ollama counted `prompt_eval_count` tokens we estimated
    at `estimated` (uncorrected).

    A count far below the estimate usually means Ollama reused its prompt cache and counted only
    the new tokens, so it is ignored rather than trusted; the ratio stays within bounds.

    >>> observed_ratio(1.0, 100, 150), observed_ratio(1.0, 100, 10), observed_ratio(1.0, 100, 900)
    (1.5, 1.0, 4.0)
    >>> observed_ratio(1.2, 0, None)
    1.2
    """
    if not prompt_eval_count or estimated <= 0:
        return previous
    ratio = prompt_eval_count / estimated
    if ratio < MIN_RATIO:
        return previous
    return round(min(ratio, MAX_RATIO), 4)


def window_size(trained: int | None, num_ctx: int | None, loaded: int | None) -> int:
    """The context window Ollama will use, in tokens.

    >>> window_size(131072, 2048, None), window_size(2048, 8192, None)
    (2048, 2048)
    >>> window_size(131072, None, 8192), window_size(131072, None, None)
    (8192, 4096)
    >>> window_size(None, None, None)
    4096
    """
    chosen = num_ctx or loaded or DEFAULT_RUNTIME_CONTEXT
    return min(chosen, trained) if trained else chosen


def prompt_limit(window: int, threshold: float, num_predict: int | None = None) -> int:
    """The largest prompt that leaves room for the answer: `threshold` of the window, and less
    when `num_predict` reserves more than the rest.

    >>> prompt_limit(1000, 0.8), prompt_limit(1000, 0.8, 500), prompt_limit(1000, 0.8, -1)
    (800, 500, 800)
    """
    limit = int(window * threshold)
    if num_predict is not None and num_predict > 0:
        limit = min(limit, window - num_predict)
    return max(limit, 1)


class ContextWindows:
    """Looks up context windows; trained lengths are cached (a model's metadata never changes
    under a name without a pull, and a wrong cached value only shifts when compaction starts)."""

    def __init__(self, client: OllamaClient | ClientFor) -> None:
        self._client_for = client if callable(client) else _always(client)
        self._trained: dict[str, int | None] = {}

    async def window(
        self, model: str, options: Mapping[str, Any], *, client: OllamaClient | None = None
    ) -> int:
        """The window a call to `model` with `options` gets (on `client`'s daemon, or the one
        routing picks).

        Raises:
            ModelNotFoundError: the model is not installed.
        """
        key = canonical_name(model)
        client = client or await self._client_for(model)
        if key not in self._trained:
            self._trained[key] = (await client.show(model)).context_length
        num_ctx = options.get("num_ctx")
        loaded = None if num_ctx else await self._loaded_context(client, key)
        return window_size(self._trained[key], num_ctx, loaded)

    def trained(self, model: str) -> int | None:
        """The model's trained context length, once `window` has looked it up."""
        return self._trained.get(canonical_name(model))

    async def _loaded_context(self, client: OllamaClient, key: str) -> int | None:
        try:
            running = await client.running()
        except OllamaError:
            return None  # only a refinement: the defaults still bound the window
        return next((m.context_length for m in running if canonical_name(m.name) == key), None)


@dataclass
class FittedPrompt:
    """The messages to send, the session's summary after this turn, and the last compacted
    message (None when nothing was compacted)."""

    messages: list[ChatMessage]
    estimate: int
    compacted_through: int | None = None
    summary: str | None = None


def assemble(
    system: str | None, summary: str | None, history: Sequence[ChatMessage]
) -> list[ChatMessage]:
    """System prompt first, then the summary note, then the turns."""
    messages = [ChatMessage(role="system", content=system)] if system else []
    if summary:
        messages.append(ChatMessage(role="system", content=SUMMARY_NOTE + summary))
    return [*messages, *history]


class Compactor:
    """Fits a session's history into a prompt limit, summarising or dropping older turns."""

    def __init__(
        self,
        windows: ContextWindows,
        chat: ChatFn,
        *,
        policy: Policy = "summarize",
        summary_model: str | None = None,
        threshold: float = 0.8,
    ) -> None:
        self._windows = windows
        self._chat = chat
        self.policy = policy
        self.summary_model = summary_model
        self.threshold = threshold

    async def fit(
        self,
        *,
        model: str,
        options: Mapping[str, Any],
        system: str | None,
        summary: str | None,
        history: Sequence[tuple[int, ChatMessage]],
        new: Sequence[ChatMessage],
        limit: int,
        ratio: float,
    ) -> FittedPrompt:
        """The prompt for this turn: everything if it fits, else compacted.

        `history` is the stored turns still sent (sequence number, message); `new` is this
        turn's messages, which always survive with the system prompt.

        Raises:
            InvalidInputError: the system prompt and the new messages alone exceed the limit.
            OllamaError: the summary model failed.
        """
        turns = [m for _, m in history]
        messages = assemble(system, summary, [*turns, *new])
        estimate = estimate_messages(messages, ratio)
        if estimate <= limit:
            return FittedPrompt(messages, estimate, summary=summary)

        fixed = estimate_messages(assemble(system, None, new), ratio)
        if fixed > limit:
            raise InvalidInputError(
                f"this message and the system prompt need about {fixed} tokens but the context "
                f"window of {model} leaves {limit} for the prompt; shorten the message, or pass "
                "a larger num_ctx in options (up to the model's context_length, see show_model)"
            )
        cut = _cut_index(turns, ratio, budget=int(limit * KEEP_FRACTION) - fixed)
        older, kept = turns[:cut], turns[cut:]
        through = history[cut - 1][0] if cut else None
        new_summary = summary
        if older and self.policy == "summarize":
            budget = max(MIN_SUMMARY_TOKENS, int(limit * SUMMARY_FRACTION))
            new_summary = await self._summarize(model, options, summary, older, budget, ratio)
        messages = assemble(system, new_summary, [*kept, *new])
        estimate = estimate_messages(messages, ratio)
        if estimate > limit and new_summary:
            # The summary came back longer than asked: trim it rather than overflow.
            spare = limit - estimate_messages(assemble(system, None, [*kept, *new]), ratio)
            room = int((spare / ratio - MESSAGE_OVERHEAD - estimate_tokens(SUMMARY_NOTE)) * 4)
            new_summary = new_summary[: max(room, 0)].rstrip() or None
            messages = assemble(system, new_summary, [*kept, *new])
            estimate = estimate_messages(messages, ratio)
        logger.info(
            "session_compacted",
            model=model,
            policy=self.policy,
            compacted_messages=len(older),
            kept_messages=len(kept),
            estimate=estimate,
            limit=limit,
        )
        return FittedPrompt(messages, estimate, through, new_summary)

    async def _summarize(
        self,
        chat_model: str,
        options: Mapping[str, Any],
        previous: str | None,
        older: Sequence[ChatMessage],
        budget: int,
        ratio: float,
    ) -> str:
        """Fold the older turns into the running summary, in as many calls as the summary
        model's own window needs."""
        model = validate_model_name(self.summary_model) if self.summary_model else chat_model
        summary_options: dict[str, Any] = {"num_predict": budget, "temperature": 0.2}
        if model == chat_model and options.get("num_ctx"):
            summary_options["num_ctx"] = options["num_ctx"]  # same runner: no reload
        window = await self._windows.window(model, summary_options)
        limit = prompt_limit(window, self.threshold, budget)
        instructions = SUMMARY_INSTRUCTIONS.format(words=max(16, int(budget * 0.7)))
        summary = previous
        for chunk in _chunks(older, limit, ratio, instructions, summary_budget=budget):
            prompt = _transcript(summary, chunk)
            request = ChatRequest(
                model=model,
                messages=[
                    ChatMessage(role="system", content=instructions),
                    ChatMessage(role="user", content=prompt),
                ],
                options=summary_options,
                think=False,  # a thinking model would spend the budget on reasoning
            )
            result = await self._chat(request)
            summary = result.message.content.strip() or summary
        return summary or ""


def _cut_index(turns: Sequence[ChatMessage], ratio: float, *, budget: int) -> int:
    """The first kept turn: the earliest user message from which the rest fits `budget`."""
    size = 0
    cut = len(turns)
    for index in range(len(turns) - 1, -1, -1):
        size += math.ceil(estimate_message(turns[index]) * ratio)
        if size > budget:
            break
        if turns[index].role == "user":
            cut = index
    return cut


def _line(message: ChatMessage) -> str:
    return f"{message.role.upper()}: {message.content}"


def _transcript(summary: str | None, messages: Sequence[ChatMessage]) -> str:
    head = f"Earlier summary:\n{summary}\n\n" if summary else ""
    return head + "Conversation:\n" + "\n\n".join(_line(m) for m in messages)


def _chunks(
    messages: Sequence[ChatMessage],
    limit: int,
    ratio: float,
    instructions: str,
    *,
    summary_budget: int,
) -> list[list[ChatMessage]]:
    """Split the turns to summarise so that each summarisation prompt fits `limit`, leaving room
    for the running summary; a single oversized message is cut to its head and tail."""
    overhead = 2 * MESSAGE_OVERHEAD + estimate_tokens(instructions) + summary_budget + 16
    capacity_chars = max(int((limit / ratio - overhead) * CHARS_PER_TOKEN), 200)
    chunks: list[list[ChatMessage]] = [[]]
    used = 0
    for message in messages:
        size = len(_line(message)) + 2
        if size > capacity_chars:
            half = capacity_chars // 2 - 40
            content = message.content
            message = message.model_copy(
                update={"content": f"{content[:half]}\n[...]\n{content[-half:]}"}
            )
            size = len(_line(message)) + 2
        if used + size > capacity_chars and chunks[-1]:
            chunks.append([])
            used = 0
        chunks[-1].append(message)
        used += size
    return [c for c in chunks if c]
