"""Moving a corrupt database aside, with one owner for the move across every process.

Several server processes may have the same `sessions.db` open. The file is moved (renamed, with
its `-wal` and `-shm`) while the data directory is locked against other movers, and only if it is
still the very file the mover found corrupt: a second process that finds the same corruption a
moment later learns where the first one moved it, instead of moving the fresh, healthy database
that replaced it. A process whose open file was moved by another finds it by its identity
(`moved_to`), and says where it went.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import structlog

if sys.platform != "win32":
    import fcntl

__all__ = [
    "COMPANIONS",
    "CORRUPT_CODES",
    "FileId",
    "error_code",
    "file_id",
    "moved_to",
    "quarantine",
]

logger = structlog.get_logger()

FileId = tuple[int, int]
"""(device, inode): which file a path names, whatever it is called now."""
COMPANIONS = ("-wal", "-shm")
"""The files SQLite keeps next to a WAL-mode database; they travel with it when it moves."""
CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
PROBE_TIMEOUT = 10.0


def error_code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code for an error (the low byte of the extended one)."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF


def file_id(path: Path) -> FileId | None:
    """The identity of the file at `path`, or None when there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def moved_to(path: Path, identity: FileId) -> Path | None:
    """Where the database file with this identity was moved aside, if it was."""
    prefix = f"{path.name}.corrupt-"
    try:
        names = [name for name in os.listdir(path.parent) if name.startswith(prefix)]
    except OSError:
        return None
    for name in sorted(names):
        if not name.endswith(COMPANIONS) and file_id(path.with_name(name)) == identity:
            return path.with_name(name)
    return None


def quarantine(path: Path, expected: FileId | None) -> Path | None:
    """Rename a corrupt database (and its WAL) to `*.corrupt-<time>`; returns where it went, or
    None when it is not corrupt after all, or cannot be moved.

    `expected` is the identity of the file found corrupt (None: unknown, whatever is at `path`).
    Checked again on a fresh connection first: a healthy file must never move.
    """
    with _directory_lock(path.parent):
        if expected is not None and file_id(path) != expected:
            return moved_to(path, expected)  # another process moved it already
        if not _still_corrupt(path):
            return None
        target = _free_name(path)
        try:
            os.replace(path, target)
        except OSError as exc:
            logger.warning("corrupt database not moved", path=str(path), error=str(exc))
            return None
        for suffix in COMPANIONS:
            companion = path.with_name(path.name + suffix)
            with contextlib.suppress(OSError):  # absent once SQLite checkpointed and closed
                os.replace(companion, target.with_name(target.name + suffix))
        return target


def _still_corrupt(path: Path) -> bool:
    try:  # mode=rw: a file that is already gone must not be created again by the probe
        probe = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True, timeout=10)
    except sqlite3.Error:
        return False
    try:
        verdict = probe.execute("PRAGMA quick_check(1)").fetchone()
        return verdict is None or verdict[0] != "ok"
    except sqlite3.DatabaseError as exc:
        return error_code(exc) in CORRUPT_CODES
    finally:
        probe.close()


def _free_name(path: Path) -> Path:
    """`<name>.corrupt-<UTC time>`, with a counter if an earlier move took that second."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    count = 1
    while target.exists():
        count += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{count}")
    return target


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on the directory, held by one mover at a time across processes (the
    system drops it if the holder dies). Windows cannot rename an open file anyway: no lock."""
    if sys.platform == "win32":
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield  # cannot even open the folder: the move will fail and say so
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
