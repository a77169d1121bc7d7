"""What a tool says about arguments it cannot take: an unknown name (with what to use instead,
for the names agents commonly guess), and values that fail validation, in one short line each.

Nothing is ever silently ignored: an agent that guessed `max_tokens` learns to send
`options.num_predict` instead of getting an uncapped answer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError

__all__ = ["invalid_arguments", "unknown_arguments"]

NOT_NEEDED = ""
# A common guess -> what to use, in order of preference; the first the tool has is suggested.
# "options.X" needs an `options` argument; NOT_NEEDED means the argument has no equivalent.
_GUESSES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("max_tokens", "max_new_tokens", "max_output_tokens", "n_predict", "max_length"),
        ("max_tokens", "options.num_predict"),
    ),
    "num_predict": ("max_tokens", "options.num_predict"),
    **dict.fromkeys(
        ("context_window", "context_length", "context_size", "n_ctx", "ctx", "num_ctx"),
        ("options.num_ctx",),
    ),
    **{
        name: (f"options.{name}",)
        for name in (
            "temperature",
            "top_p",
            "top_k",
            "min_p",
            "seed",
            "stop",
            "repeat_penalty",
            "presence_penalty",
            "frequency_penalty",
            "num_gpu",
            "num_thread",
        )
    },
    "stop_sequences": ("options.stop",),
    **dict.fromkeys(("system_prompt", "system_message", "instructions"), ("system",)),
    **dict.fromkeys(("model_name", "model_id", "name"), ("model", "source")),
    **dict.fromkeys(("text", "texts", "inputs", "documents"), ("input", "prompt", "prompts")),
    "prompt": ("prompts", "input", "messages"),
    "message": ("messages", "prompt"),
    "messages": ("prompt",),
    **dict.fromkeys(("response_format", "json", "json_schema", "schema"), ("format",)),
    "keepalive": ("keep_alive",),
    "stream": (NOT_NEEDED,),
    "id": ("session_id", "report_id"),
}
_NOT_NEEDED_TEXT = "not needed: the answer arrives whole and progress is sent as notifications"


def _suggestion(name: str, valid: Collection[str]) -> str | None:
    for target in _GUESSES.get(name, ()):
        if target == NOT_NEEDED:
            return _NOT_NEEDED_TEXT
        if target.startswith("options.") and "options" in valid:
            option = target.removeprefix("options.")
            return f"use options.{option} (options={{'{option}': ...}})"
        if target in valid:
            return f"use {target}"
    import difflib  # only for a mistyped name: not worth its import at start-up

    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.75)
    return f"did you mean {close[0]}?" if close else None


def unknown_arguments(names: Collection[str], valid: Collection[str]) -> str:
    """The error for arguments a tool does not have.

    >>> unknown_arguments(["max_tokens"], ["model", "prompt", "options"])
    "unknown argument 'max_tokens': use options.num_predict (options={'num_predict': ...}); \
valid arguments: model, prompt, options"
    """
    parts = []
    for name in sorted(names):
        hint = _suggestion(name, valid)
        parts.append(f"unknown argument '{name}'" + (f": {hint}" if hint else ""))
    accepted = f"valid arguments: {', '.join(valid)}" if valid else "it takes no arguments"
    return f"{'; '.join(parts)}; {accepted}"


def invalid_arguments(exc: ValidationError) -> str:
    """Pydantic's errors as one line each: where, and what is wrong (never the value, which may
    be long or private)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in _strip_prefix(error["loc"]))
        if error["type"] == "missing":
            lines.append(f"missing argument '{where}'")
        else:
            lines.append(f"invalid '{where}': {_message(error)}")
    return "; ".join(lines)


def _strip_prefix(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # The SDK prefixes arguments that shadow BaseModel attributes with "field_".
    if loc and isinstance(loc[0], str) and loc[0].startswith("field_"):
        return (loc[0].removeprefix("field_"), *loc[1:])
    return loc


def _message(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    return message[:1].lower() + message[1:]
