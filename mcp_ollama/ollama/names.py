"""Model names: validation (before anything reaches the daemon or a subprocess) and matching."""

from __future__ import annotations

import re
from collections.abc import Iterable

from mcp_ollama.errors import InvalidModelNameError

__all__ = ["base_name", "canonical_name", "same_model", "tagged_variants", "validate_model_name"]

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


DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"


def canonical_name(name: str) -> str:
    """The daemon's own spelling of a model name, lower-cased: what `/api/tags` lists.

    Ollama (`types/model/name.go`) fills a missing host, namespace and tag with
    `registry.ollama.ai`, `library` and `latest` (`ParseName`), compares names
    case-insensitively (`EqualFold`) and displays them without the default host and namespace
    (`DisplayShortest`). So every spelling of one model has one canonical name here, and two
    names are the same model exactly when their canonical names are equal.

    >>> canonical_name('Llama3.2'), canonical_name('llama3.2:1b'), canonical_name('a/b')
    ('llama3.2:latest', 'llama3.2:1b', 'a/b:latest')
    >>> canonical_name('library/llama3.2:1b'), canonical_name('registry.ollama.ai/library/x')
    ('llama3.2:1b', 'x:latest')
    >>> canonical_name('registry.ollama.ai/me/x:7b'), canonical_name('hf.co/Org/M-GGUF:Q4_K_M')
    ('me/x:7b', 'hf.co/org/m-gguf:q4_k_m')
    """
    text = name.strip().lower()
    tag = DEFAULT_TAG
    if text.rfind(":") > text.rfind("/"):  # a ':' after the last '/' starts the tag
        text, tag = text.rsplit(":", 1)
    parts = text.rsplit("/", 2)
    model = parts[-1]
    namespace = parts[-2] if len(parts) > 1 else DEFAULT_NAMESPACE
    host = parts[0].split("://", 1)[-1] if len(parts) > 2 else DEFAULT_HOST
    if host != DEFAULT_HOST:
        return f"{host}/{namespace}/{model}:{tag}"
    if namespace != DEFAULT_NAMESPACE:
        return f"{namespace}/{model}:{tag}"
    return f"{model}:{tag}"


def base_name(name: str) -> str:
    """The name without its tag.

    >>> base_name('llama3.2:1b'), base_name('llama3.2')
    ('llama3.2', 'llama3.2')
    """
    canonical = canonical_name(name)
    return canonical.rsplit(":", 1)[0]


def same_model(requested: str, installed: str) -> bool:
    """Whether an installed model is the one a name refers to, by Ollama's rule: a name without
    a tag means `:latest`, so `llama3.2` is not present when only `llama3.2:1b` is.

    >>> same_model('Llama3.2', 'llama3.2:latest'), same_model('llama3.2', 'llama3.2:1b')
    (True, False)
    """
    return canonical_name(requested) == canonical_name(installed)


def tagged_variants(requested: str, installed: Iterable[str]) -> list[str]:
    """The installed variants of a bare name that is itself missing, for the error that says
    "installed: llama3.2:1b; pass that" (empty when the name has a tag or is installed).

    >>> tagged_variants('llama3.2', ['llama3.2:1b', 'qwen3:0.6b', 'llama3.2:3b'])
    ['llama3.2:1b', 'llama3.2:3b']
    >>> tagged_variants('llama3.2:1b', ['llama3.2:3b']), tagged_variants('a', ['a:latest', 'a:1b'])
    ([], [])
    """
    names = list(installed)
    if ":" in requested.rsplit("/", 1)[-1] or any(same_model(requested, n) for n in names):
        return []
    return [n for n in names if base_name(n) == base_name(requested)]
