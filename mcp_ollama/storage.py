"""Files in the data directory: atomic writes and safe ids.

A write goes to a temporary file in the same directory, is flushed and fsynced, then renamed over
the target with `os.replace` (atomic on POSIX and Windows): a crash or a full disk leaves either
the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from mcp_ollama.errors import InvalidInputError, StorageError

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "check_id"]

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_id(value: str, *, kind: str = "id") -> str:
    """Return `value` if it is safe as a file name (no separators, no `..`), else raise.

    >>> check_id('bench-20261122-abc123')
    'bench-20261122-abc123'
    >>> check_id('../../etc/passwd')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.errors.InvalidInputError: invalid id '../../etc/passwd': ...
    """
    if not isinstance(value, str) or not _SAFE_ID.fullmatch(value) or ".." in value:
        raise InvalidInputError(
            f"invalid {kind} {value!r}: use letters, digits, '-', '_' and '.', as listed by the "
            "server (no paths)"
        )
    return value


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, creating parent directories.

    Raises:
        StorageError: the directory is not writable or the disk is full; `path` is unchanged.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise StorageError(
            f"cannot write {path}: {exc.strerror or exc}; free disk space or fix permissions of "
            f"the data directory (MCP_OLLAMA_DATA_DIR)"
        ) from exc


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (pretty, UTF-8)."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
