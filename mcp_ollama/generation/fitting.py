"""Whether a prompt with files fits the model's context window, checked on the host that will
run it just before the request is sent: Ollama would otherwise cut the prompt silently, and the
model would answer about a part of the files as if it were all of them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mcp_ollama.conversations import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    ContextWindows,
    estimate_messages,
    estimate_tokens,
    prompt_limit,
)
from mcp_ollama.errors import InvalidInputError
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import ChatMessage

__all__ = ["chat_tokens", "check_fits", "prompt_tokens"]


def prompt_tokens(*texts: str | None, images: int = 0) -> int:
    """Estimated tokens of a generate request: its texts, images and the template around them.

    >>> prompt_tokens('abcd' * 100, None, images=1)
    876
    """
    return sum(estimate_tokens(t) for t in texts) + IMAGE_TOKENS * images + 2 * MESSAGE_OVERHEAD


def chat_tokens(messages: Sequence[ChatMessage], tools: list[dict[str, Any]] | None) -> int:
    """Estimated tokens of a chat request: its messages and the function tools it offers."""
    return estimate_messages(messages) + (estimate_tokens(json.dumps(tools)) if tools else 0)


async def check_fits(
    windows: ContextWindows,
    client: OllamaClient,
    *,
    model: str,
    options: Mapping[str, Any],
    tokens: int,
    files: int,
    threshold: float,
) -> None:
    """Refuse a prompt with `files` files that would not fit `model`'s window on `client`'s
    daemon, leaving room for the answer (`threshold`, `num_predict`).

    Raises:
        InvalidInputError: how big the prompt is, how big the window is, and what to do.
        ModelNotFoundError: the model is not installed there.
    """
    window = await windows.window(model, options, client=client)
    limit = prompt_limit(window, threshold, options.get("num_predict"))
    if tokens <= limit:
        return
    trained = windows.trained(model)
    advice = "send fewer or smaller files, or use a model with a larger context window"
    if trained is None or trained > window:
        most = f" (this model takes up to {trained:,})" if trained else ""
        advice += f", or pass a larger options.num_ctx{most}"
    what = "its file" if files == 1 else f"its {files} files"
    raise InvalidInputError(
        f"the prompt with {what} comes to about {tokens:,} tokens, more than "
        f"the {limit:,} that {model}'s context window of {window:,} tokens leaves for it; "
        f"{advice}. Nothing was sent to the model."
    )
