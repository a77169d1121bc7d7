"""Files in the data directory: atomic writes, safe ids, no symbolic links followed.

A write goes to a temporary file in the same directory, is flushed and fsynced, then renamed over
the target with `os.replace` (atomic on POSIX and Windows): a crash or a full disk leaves either
the old file or the new one, never half of one, and a failed write removes its temporary file. A
writer killed mid-write leaves its temporary file behind; `sweep_temp_files` removes those at
start. `storage_error` words the failure for whoever acts on it: a full disk, a read-only
directory.

The data directory itself may be a symbolic link (where to keep it is the user's choice), but
nothing inside it is followed (`refuse_links`): a link planted in `reports/` or `outputs/` would
make the server read or write files elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import tempfile
import time
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
    "read_bytes_inside",
    "refuse_links",
    "storage_error",
    "sweep_temp_files",
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
    elif exc.errno in READ_ONLY_ERRNOS and action in ("read", "list"):
        advice = f"{reason}; make it readable by the user the server runs as"
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


def refuse_links(root: Path, path: Path) -> None:
    """Refuse `path` when it, or a folder between the data directory `root` and it, is a
    symbolic link (a path outside `root` is the user's own configuration, and not checked).

    Raises:
        StorageError: a link, named, with what to do about it.
    """
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return
    current = root
    for part in parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return  # what does not exist yet will be made as a real folder or file
        except OSError as exc:
            raise storage_error(current, exc, action="read") from exc
        if stat.S_ISLNK(mode):
            raise StorageError(
                f"{current} is a symbolic link, and mcp-ollama follows none inside its data "
                f"directory ({root}), so that nothing can make it read or write elsewhere; "
                "replace the link with a real folder or file"
            )


def read_bytes_inside(root: Path, path: Path) -> bytes:
    """A file's bytes, refusing any symbolic link from the data directory `root` down to it.

    Raises:
        FileNotFoundError: there is no such file.
        StorageError: a link on the way, or the file cannot be read.
    """
    refuse_links(root, path)
    try:
        # O_NOFOLLOW: a link swapped in after the check above is refused too.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            refuse_links(root, path)  # now a link: the same error as before the open
        raise storage_error(path, exc, action="read") from exc
    with os.fdopen(fd, "rb") as file:
        try:
            return file.read()
        except OSError as exc:
            raise storage_error(path, exc, action="read") from exc


def sweep_temp_files(root: Path, *, older_than: float) -> list[Path]:
    """Delete the temporary files killed writers left in `root` and its folders; returns them.

    Only files named like ours (`.<name>.<random>.tmp`) and older than `older_than` seconds go:
    another server on the same data directory may be writing one right now.
    """
    limit = time.time() - older_than
    removed: list[Path] = []
    folders = [root]
    with contextlib.suppress(OSError):
        folders += [Path(e.path) for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
                continue
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < limit:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def atomic_write_bytes(path: Path, data: bytes, *, root: Path | None = None) -> None:
    """Write `data` to `path` atomically, creating parent directories; with `root` (the data
    directory), refusing a symbolic link between it and `path`.

    Raises:
        StorageError: the directory is not writable, the disk is full, or a folder on the way
            is a link; `path` is unchanged and no temporary file is left behind.
    """
    if root is not None:
        refuse_links(root, path.parent)
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


def atomic_write_text(path: Path, text: str, *, root: Path | None = None) -> None:
    """Write UTF-8 text atomically (see `atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"), root=root)


def atomic_write_json(path: Path, data: Any, *, root: Path | None = None) -> None:
    """Write JSON atomically (pretty, UTF-8; see `atomic_write_bytes`)."""
    atomic_write_text(path, json_text(data), root=root)


def json_text(data: Any) -> str:
    """JSON as the data directory stores it: indented, UTF-8, newline-terminated."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@contextlib.contextmanager
def atomic_write_set(
    hint: str, person_hint: str | None = None, *, root: Path | None = None
) -> Iterator[Callable[[Path, str], None]]:
    """Write a set of files one by one (the one that makes the set exist last); if one fails,
    delete those already written.

    Each file is atomic on its own; this makes the set atomic too, so a disk that fills up
    between two files leaves no orphan behind. `hint` is added to the error (`person_hint` to
    its wording for a person).
    """
    done: list[Path] = []

    def write(path: Path, text: str) -> None:
        atomic_write_text(path, text, root=root)
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
