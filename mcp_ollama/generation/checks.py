"""Input checks for a generation request, run before anything reaches the daemon: sizes,
images, `format` and `keep_alive`. Each refusal names the limit and how to get under it."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from mcp_ollama.errors import InvalidInputError
from mcp_ollama.results import human_bytes
from mcp_ollama.settings import Settings

__all__ = ["Format", "KeepAlive", "check_format", "check_images", "check_keep_alive", "check_size"]

KeepAlive = str | float | None
Format = str | dict[str, Any] | None


def as_text(value: object) -> str | None:
    """A structured argument (tool definitions, a JSON schema) as the JSON text sent for it,
    so that it counts toward the size limit like the prompt it travels with.

    >>> as_text({"type": "object"}), as_text(None)
    ('{"type": "object"}', None)

    Raises:
        InvalidInputError: it is nested too deeply to be written out.
    """
    if not value:
        return None
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (RecursionError, ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"a structured argument (tools or format) cannot be sent as JSON ({exc}); "
            "send a plain, shallow object"
        ) from exc


def check_size(settings: Settings, *texts: str | None) -> None:
    """Refuse input over `max_prompt_chars` in total.

    Raises:
        InvalidInputError: the texts are too long together.
    """
    size = sum(len(t) for t in texts if t)
    if size > settings.max_prompt_chars:
        raise InvalidInputError(
            f"the input is {size:,} characters, over the limit of "
            f"{settings.max_prompt_chars:,} (MCP_OLLAMA_MAX_PROMPT_CHARS); shorten it or "
            "split it into several calls."
        )


def check_images(settings: Settings, images: Sequence[str] | None) -> list[str] | None:
    """Base64 images within the count and size limits, or None when there are none.

    Raises:
        InvalidInputError: too many images, one is not base64, or one is too big.
    """
    if not images:
        return None
    limit = settings.max_images
    if len(images) > limit:
        raise InvalidInputError(
            f"{len(images)} images is over the limit of {limit} per call "
            "(MCP_OLLAMA_MAX_IMAGES); send fewer images per call."
        )
    for index, image in enumerate(images):
        try:
            size = len(base64.b64decode(image, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise InvalidInputError(
                f"images[{index}] is not valid base64; send the image file's bytes base64-encoded"
            ) from exc
        if size > settings.max_image_bytes:
            raise InvalidInputError(
                f"images[{index}] is {human_bytes(size)}, over the limit of "
                f"{human_bytes(settings.max_image_bytes)} (MCP_OLLAMA_MAX_IMAGE_BYTES); "
                "scale the image down first."
            )
    return list(images)


def check_format(value: Format) -> str | dict[str, Any] | None:
    """`'json'`, a JSON schema object, or None.

    Raises:
        InvalidInputError: any other value.
    """
    if value is None or value == "" or isinstance(value, dict):
        return value or None
    if value == "json":
        return "json"
    raise InvalidInputError(f"format must be 'json' or a JSON schema object, not {value!r}")


# A Go duration as Ollama's `api.Duration` parses it (`5m`, `1h30m`, `-1m`, `0`).
_GO_DURATION = re.compile(r"[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)")


def check_keep_alive(value: KeepAlive) -> KeepAlive:
    """Refuse what the daemon would refuse, before it reaches the daemon or `ollama` argv.

    >>> check_keep_alive('1h30m'), check_keep_alive(-1), check_keep_alive(None)
    ('1h30m', -1, None)
    >>> check_keep_alive(float('nan'))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.errors.InvalidInputError: keep_alive must be a finite number of seconds ...
    >>> check_keep_alive('--help')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.errors.InvalidInputError: keep_alive '--help' is not a duration: ...
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInputError(f"keep_alive must be a duration like '5m' or seconds, not {value}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidInputError(
                f"keep_alive must be a finite number of seconds (or -1 for forever), not {value}"
            )
        return value
    if isinstance(value, str) and _GO_DURATION.fullmatch(value.strip()):
        return value.strip()
    raise InvalidInputError(
        f"keep_alive {value!r} is not a duration: use '5m', '1h30m', '0' (unload after the "
        "call), '-1m' (keep loaded) or a number of seconds."
    )
