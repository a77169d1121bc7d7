"""Model names: validation (before anything reaches the daemon or a subprocess) and matching."""

from __future__ import annotations

import re

from mcp_ollama.errors import InvalidModelNameError

__all__ = ["base_name", "canonical_name", "same_model", "validate_model_name"]

# Ollama's own rule (model.ParseName): optional host (may hold ':' for a port), optional
# namespace, model, optional tag; each part starts with [A-Za-z0-9_] and continues with
# [A-Za-z0-9_.-]; model and tag at most 80 characters. A leading '-' can therefore never
# appear, which is what keeps option-like names (`--help`, `-rf`) out of subprocess argv.
_PART = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}"
_MODEL_NAME = re.compile(rf"^(?:(?:{_PART}(?::\d{{1,5}})?)/)?(?:{_PART}/)?{_PART}(?::{_PART})?$")


def validate_model_name(name: str) -> str:
    """Return the name stripped of spaces, or raise if Ollama would refuse it.

    >>> validate_model_name(' llama3.2:1b ')
    'llama3.2:1b'
    >>> validate_model_name('hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M')
    'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M'
    >>> validate_model_name('--help')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.errors.InvalidModelNameError: invalid model name '--help': ...
    """
    stripped = name.strip() if isinstance(name, str) else ""
    if not stripped or len(stripped) > 256 or not _MODEL_NAME.fullmatch(stripped):
        raise InvalidModelNameError(name if isinstance(name, str) else repr(name))
    return stripped


def canonical_name(name: str) -> str:
    """`model:tag` in lower case, with the implicit `:latest` made explicit.

    >>> canonical_name('Llama3.2'), canonical_name('llama3.2:1b'), canonical_name('a/b')
    ('llama3.2:latest', 'llama3.2:1b', 'a/b:latest')
    """
    lowered = name.strip().lower()
    last = lowered.rsplit("/", 1)[-1]
    return lowered if ":" in last else f"{lowered}:latest"


def base_name(name: str) -> str:
    """The name without its tag.

    >>> base_name('llama3.2:1b'), base_name('llama3.2')
    ('llama3.2', 'llama3.2')
    """
    canonical = canonical_name(name)
    return canonical.rsplit(":", 1)[0]


def same_model(requested: str, installed: str) -> bool:
    """Whether an installed model satisfies a request: an exact variant, or any variant of a
    bare base name (`llama3.2` is present when `llama3.2:1b` is).

    >>> same_model('llama3.2', 'llama3.2:latest'), same_model('llama3.2', 'llama3.2:1b')
    (True, True)
    >>> same_model('llama3.2:1b', 'llama3.2:3b'), same_model('llama3', 'llama3.2:1b')
    (False, False)
    """
    if canonical_name(requested) == canonical_name(installed):
        return True
    bare = ":" not in requested.rsplit("/", 1)[-1]
    return bare and base_name(requested) == base_name(installed)
