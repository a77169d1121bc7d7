"""Files in the data directory: atomic writes and safe ids.

A write goes to a temporary file in the same directory, is flushed and fsynced, then renamed over
the target with `os.replace` (atomic on POSIX and Windows): a crash or a full disk leaves either
the old file or the new one, never half of one, and a failed write removes its temporary file.
`storage_error` words the failure for whoever acts on it: a full disk, a read-only directory.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mcp_ollama.errors import InvalidInputError, StorageError

__all__ = [
    "TEMP_SUFFIX",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_set",
    "atomic_write_text",
    "check_id",
    "json_text",
    "make_private_dir",
    "storage_error",
]

TEMP_SUFFIX = ".tmp"
"""Temporary files are `.<name>.<random>.tmp` next to their target; none outlives a write."""
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})

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


def storage_error(path: Path, exc: OSError, *, action: str = "write") -> StorageError:
    """A `StorageError` for a failed file operation that says what to do about it.

    >>> import errno
    >>> error = storage_error(Path('/d/reports/r.json'), OSError(errno.ENOSPC, 'No space left'))
    >>> print(error)  # doctest: +ELLIPSIS
    cannot write /d/reports/r.json: the disk holding /d/reports is full (No space left); free ...
    >>> error.errno == errno.ENOSPC
    True
    """
    reason = exc.strerror or str(exc)
    where = path.parent
    if exc.errno in FULL_ERRNOS:
        advice = (
            f"the disk holding {where} is full ({reason}); free some space, or set "
            "MCP_OLLAMA_DATA_DIR to a directory on another disk"
        )
    elif exc.errno in READ_ONLY_ERRNOS:
        advice = (
            f"{where} cannot be written ({reason}): the data directory is read-only; make it "
            "writable, or set MCP_OLLAMA_DATA_DIR to a writable directory"
        )
    else:
        advice = (
            f"{reason}; check the disk and the permissions of the data directory "
            "(MCP_OLLAMA_DATA_DIR)"
        )
    error = StorageError(f"cannot {action} {path}: {advice}. Nothing was changed.")
    error.errno = exc.errno  # callers can still tell a full disk from a read-only one
    return error


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) readable by this user only.

    The data directory holds conversations and outputs in clear text; an existing directory
    keeps the permissions its owner gave it.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, creating parent directories.

    Raises:
        StorageError: the directory is not writable or the disk is full; `path` is unchanged
            and no temporary file is left behind.
    """
    try:
        make_private_dir(path.parent)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent
        )
    except OSError as exc:
        raise storage_error(path, exc) from exc
    try:
        try:
            _write_fully(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp_name, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise storage_error(path, exc) from exc


def _write_fully(fd: int, data: bytes) -> None:
    """Write every byte: `os.write` may write part of a buffer (a full disk does, then fails)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (pretty, UTF-8)."""
    atomic_write_text(path, json_text(data))


def json_text(data: Any) -> str:
    """JSON as the data directory stores it: indented, UTF-8, newline-terminated."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@contextlib.contextmanager
def atomic_write_set(
    hint: str, person_hint: str | None = None
) -> Iterator[Callable[[Path, str], None]]:
    """Write a set of files one by one (the one that makes the set exist last); if one fails,
    delete those already written.

    Each file is atomic on its own; this makes the set atomic too, so a disk that fills up
    between two files leaves no orphan behind. `hint` is added to the error (`person_hint` to
    its wording for a person).
    """
    done: list[Path] = []

    def write(path: Path, text: str) -> None:
        atomic_write_text(path, text)
        done.append(path)

    try:
        yield write
    except StorageError as exc:
        for path in done:
            with contextlib.suppress(OSError):
                path.unlink()
        error = StorageError(f"{exc} {hint}")
        error.errno = exc.errno
        if person_hint:
            error.person = f"{exc} {person_hint}"
        raise error from exc
