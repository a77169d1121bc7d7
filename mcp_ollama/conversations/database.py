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
that error instead, so an agent using sessions learns why they are gone. Several processes share
the file: one of them moves it (see `quarantine`), and every other one notices, before and after
each call, that the file it has open is no longer the one at the path, and says where it went
instead of writing into the moved file.

After any other failure (a full disk, a file-size limit, a read-only directory) the connection is
closed, so the next call opens a fresh one: nothing stays broken once the cause is gone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread
import structlog

from mcp_ollama.conversations.quarantine import (
    COMPANIONS,
    CORRUPT_CODES,
    FileId,
    error_code,
    file_id,
    moved_to,
    quarantine,
)
from mcp_ollama.errors import StorageError
from mcp_ollama.storage import make_private_dir, refuse_links, storage_error

__all__ = ["DATABASE_NAME", "Database", "transaction"]

T = TypeVar("T")
DATABASE_NAME = "sessions.db"
BUSY_TIMEOUT_MS = 10_000
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")
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
        self._file: FileId | None = None  # the file the connection has open
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
        """Create tables (idempotent `CREATE ... IF NOT EXISTS` script) once per connection.

        Tables that exist already are only looked up: no write lock is needed, so another
        program holding it does not hold up a call that only reads.
        """
        if script in self._schemas:
            return
        tables = set(_TABLE.findall(script))

        def create(conn: sqlite3.Connection) -> None:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not tables <= {row[0] for row in rows}:
                conn.executescript(script)

        await self.run(create, quiet=quiet)
        self._schemas.add(script)

    async def writable(self) -> bool:
        """Whether the file is open for writing; when it is open read-only, try again first
        (the data directory may have become writable since)."""
        if self.read_only:
            await self.aclose()
            await self.run(lambda conn: None)
        return not self.read_only

    async def aclose(self) -> None:
        """Close the connection (a later call opens it again)."""
        await anyio.to_thread.run_sync(self._close, limiter=self._limiter)

    def _call(self, fn: Callable[[sqlite3.Connection], T], quiet: bool) -> T:
        with self._translate(quiet):
            self._check_still_ours(quiet)
            result = fn(self._connect())
            # Moved while `fn` ran: what it wrote went with the moved file, so it must not pass
            # for stored.
            self._check_still_ours(quiet)
            return result

    def _check_still_ours(self, quiet: bool) -> None:
        """Close the connection if the file it has open is no longer the one at the path (another
        process moved it aside, or replaced it); say where it went if it was moved aside.

        Raises:
            StorageError: another process moved the file aside as corrupt.
        """
        if self._connection is None or self._file is None or file_id(self.path) == self._file:
            return
        ours = self._file
        self._close()
        moved = moved_to(self.path, ours)
        if moved is None:
            logger.info("conversation database replaced by another process; reopened")
            return
        error = self._corrupt("found by another mcp-ollama process", moved)
        if quiet:
            self._unreported = str(error)
        raise error

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
            if error_code(exc) not in _READ_ONLY or not self.path.is_file():
                raise
            # A read-only data directory: SQLite cannot create its WAL files next to the
            # database, but what is stored can still be read (writes fail, clearly).
            uri = f"{self.path.absolute().as_uri()}?mode=ro&immutable=1"
            connection = self._open(uri, read_only=True)
            read_only = True
            logger.warning("conversation database opened read-only", path=str(self.path))
        self.read_only = read_only
        self._connection = connection
        self._file = file_id(self.path)
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
            self._file = None
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
            code = error_code(exc)
            if code in CORRUPT_CODES:
                found = self._file
                self._close()
                moved = quarantine(self.path, found)
                if moved is None and found is not None and file_id(self.path) != found:
                    raise StorageError(
                        f"the conversation database {self.path} was replaced by another "
                        "process while this call ran; call again"
                    ) from exc
                error = self._corrupt(message, moved)
                if quiet and moved is not None:
                    self._unreported = str(error)
                raise error from exc
            if code in _LOCKED:
                locked = StorageError(
                    f"the conversation database {self.path} is locked by another process "
                    f"({message}); retry in a moment"
                )
                locked.errno = errno.EBUSY  # callers that can wait tell it from other failures
                raise locked from exc
            self._close()  # whatever state the failure left, the next call starts afresh
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
                advice = (
                    "check disk space, a file-size limit (ulimit -f) and the permissions of "
                    "the data directory"
                )
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


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front, so it never fails half-way."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    try:
        connection.execute("COMMIT")
    except BaseException:
        # A commit that fails (a full disk) may leave the transaction open, and every later
        # BEGIN would then fail: end it.
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
        raise
