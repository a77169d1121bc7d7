"""The data directory's embedded SQLite database (`sessions.db`): conversations and usage.

One connection per `Database`, in WAL mode so readers never block the writer and a crash never
leaves half a transaction; every call runs in a worker thread (one at a time: a connection is not
safe to share between threads at once) so the event loop never waits on the disk. Another process
on the same file (a second server) waits up to `BUSY_TIMEOUT_MS` for a lock instead of failing.
Every SQLite failure is translated here, once, into `StorageError`.

A corrupt file is never fatal: it is moved aside to `sessions.db.corrupt-<UTC time>` (with its
`-wal` and `-shm` companions, for salvage with `sqlite3 FILE .recover`), the call that found it
fails once with an error saying so, and the next call starts a fresh database. Nothing is deleted.
When a `quiet` caller found it (usage accounting, which only logs), the next other caller gets
that error instead, so an agent using sessions learns why they are gone.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread
import structlog

from mcp_ollama.errors import StorageError
from mcp_ollama.storage import make_private_dir, refuse_links, storage_error

__all__ = ["DATABASE_NAME", "Database", "transaction"]

T = TypeVar("T")
DATABASE_NAME = "sessions.db"
BUSY_TIMEOUT_MS = 10_000
COMPANIONS = ("-wal", "-shm")
"""The files SQLite keeps next to a WAL-mode database; they travel with it when it moves."""
_CORRUPT = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_FULL = frozenset({sqlite3.SQLITE_FULL})
_READ_ONLY = frozenset({sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM})
_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})

logger = structlog.get_logger()


class Database:
    """An SQLite file opened lazily, used from one worker thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._schemas: set[str] = set()
        self._limiter = anyio.CapacityLimiter(1)
        self._unreported: str | None = None  # a move aside that only a quiet caller saw
        self.read_only = False
        """True while the file is open read-only, because its directory cannot be written."""

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, quiet: bool = False) -> T:
        """Run `fn(connection)` in a worker thread; a write should use `transaction()` inside.

        `quiet` callers only log failures: a corrupt file they find is reported to the next
        caller that is not quiet, once.

        Raises:
            StorageError: the file cannot be opened, is corrupt, or stays locked.
        """
        if not quiet and self._unreported is not None:
            message, self._unreported = self._unreported, None
            raise StorageError(message)
        return await anyio.to_thread.run_sync(self._call, fn, quiet, limiter=self._limiter)

    async def ensure_schema(self, script: str, *, quiet: bool = False) -> None:
        """Create tables (idempotent `CREATE ... IF NOT EXISTS` script) once per connection."""
        if script in self._schemas:
            return
        await self.run(lambda conn: conn.executescript(script), quiet=quiet)
        self._schemas.add(script)

    async def aclose(self) -> None:
        """Close the connection (a later call opens it again)."""
        await anyio.to_thread.run_sync(self._close, limiter=self._limiter)

    def _call(self, fn: Callable[[sqlite3.Connection], T], quiet: bool) -> T:
        with self._translate(quiet):
            return fn(self._connect())

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        for name in (self.path.name, *(self.path.name + suffix for suffix in COMPANIONS)):
            refuse_links(self.path.parent, self.path.with_name(name))  # SQLite would follow it
        try:
            make_private_dir(self.path.parent)
            # SQLite would create the file (and its WAL, which copies its mode) world-readable.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise storage_error(self.path, exc, action="open") from exc
        read_only = False
        try:
            connection = self._open(self.path, read_only=False)
        except sqlite3.OperationalError as exc:
            if _code(exc) not in _READ_ONLY or not self.path.is_file():
                raise
            # A read-only data directory: SQLite cannot create its WAL files next to the
            # database, but what is stored can still be read (writes fail, clearly).
            uri = f"{self.path.absolute().as_uri()}?mode=ro&immutable=1"
            connection = self._open(uri, read_only=True)
            read_only = True
            logger.warning("conversation database opened read-only", path=str(self.path))
        self.read_only = read_only
        self._connection = connection
        self._schemas.clear()
        return connection

    @staticmethod
    def _open(target: Path | str, *, read_only: bool) -> sqlite3.Connection:
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE), never implicit.
        connection = sqlite3.connect(
            target,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
            uri=read_only,
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # The first statement that reads the file is where a corrupt file shows itself.
            if read_only:
                connection.execute("PRAGMA schema_version").fetchone()
            else:
                connection.execute("PRAGMA journal_mode = WAL").fetchone()
                connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            connection.close()
            raise
        return connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            self._schemas.clear()

    @contextmanager
    def _translate(self, quiet: bool) -> Iterator[None]:
        """The one place where SQLite errors become `StorageError`."""
        try:
            yield
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # our own misuse of the API: a bug, not a storage problem
        except sqlite3.DatabaseError as exc:
            message = str(exc)
            code = _code(exc)
            if code in _CORRUPT:
                self._close()
                moved = self._quarantine()
                error = self._corrupt(message, moved)
                if quiet and moved is not None:
                    self._unreported = str(error)
                raise error from exc
            if code in _LOCKED:
                raise StorageError(
                    f"the conversation database {self.path} is locked by another process "
                    f"({message}); retry in a moment"
                ) from exc
            if code in _FULL:
                advice = (
                    "the disk is full; free some space, or set MCP_OLLAMA_DATA_DIR to a "
                    "directory on another disk"
                )
            elif code in _READ_ONLY:
                advice = (
                    "the data directory is read-only or missing; make it writable, or set "
                    "MCP_OLLAMA_DATA_DIR to a writable directory"
                )
            else:
                advice = "check disk space and the permissions of the data directory"
            raise StorageError(
                f"cannot use the conversation database {self.path} ({message}): {advice}. "
                "Generation tools keep working; only sessions and usage are not saved."
            ) from exc

    def _corrupt(self, message: str, moved: Path | None) -> StorageError:
        """What to tell about a corrupt file, moved aside to `moved` (None: it could not be)."""
        if moved is None:
            return StorageError(
                f"the conversation database {self.path} is corrupt ({message}) and could not be "
                "moved aside; move or delete it (stored sessions and usage are in it) and call "
                "again"
            )
        logger.warning("corrupt database moved aside", path=str(self.path), moved_to=str(moved))
        return StorageError(
            f"the conversation database {self.path} was corrupt ({message}); it was moved aside "
            f"to {moved} (salvage it with `sqlite3 {moved} .recover`) and a fresh database is "
            "used from now on, without the sessions and usage stored before. Call again."
        )

    def _quarantine(self) -> Path | None:
        """Rename the file (and its WAL) to `*.corrupt-<time>`, or None if it cannot be moved.

        Checked again on a fresh connection first: another process (or another `Database` on
        the same file) may already have replaced the file, and a healthy one must never move.
        """
        try:  # mode=rw: a file that is already gone must not be created again by the probe
            uri = f"{self.path.absolute().as_uri()}?mode=rw"
            probe = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error:
            return None
        try:
            verdict = probe.execute("PRAGMA quick_check(1)").fetchone()
            if verdict is not None and verdict[0] == "ok":
                return None
        except sqlite3.DatabaseError as exc:
            if _code(exc) not in _CORRUPT:
                return None
        finally:
            probe.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            os.replace(self.path, target)
        except OSError as exc:
            logger.warning("corrupt database not moved", path=str(self.path), error=str(exc))
            return None
        for suffix in COMPANIONS:
            companion = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(OSError):  # absent once SQLite checkpointed and closed
                os.replace(companion, target.with_name(target.name + suffix))
        return target


def _code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code for an error (the low byte of the extended one)."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front, so it never fails half-way."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
