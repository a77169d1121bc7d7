"""The data directory's embedded SQLite database (`sessions.db`): conversations and usage.

One connection per `Database`, in WAL mode so readers never block the writer and a crash never
leaves half a transaction; every call runs in a worker thread (one at a time: a connection is not
safe to share between threads at once) so the event loop never waits on the disk. Another process
on the same file (a second server) waits up to `BUSY_TIMEOUT_MS` for a lock instead of failing.
Every SQLite failure is translated here, once, into `StorageError`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from mcp_ollama.errors import StorageError

__all__ = ["DATABASE_NAME", "Database", "transaction"]

T = TypeVar("T")
DATABASE_NAME = "sessions.db"
BUSY_TIMEOUT_MS = 10_000


class Database:
    """An SQLite file opened lazily, used from one worker thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._schemas: set[str] = set()
        self._limiter = anyio.CapacityLimiter(1)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` in a worker thread; a write should use `transaction()` inside.

        Raises:
            StorageError: the file cannot be opened, is corrupt, or stays locked.
        """
        return await anyio.to_thread.run_sync(self._call, fn, limiter=self._limiter)

    async def ensure_schema(self, script: str) -> None:
        """Create tables (idempotent `CREATE ... IF NOT EXISTS` script) once per connection."""
        if script in self._schemas:
            return
        await self.run(lambda conn: conn.executescript(script))
        self._schemas.add(script)

    async def aclose(self) -> None:
        """Close the connection (a later call opens it again)."""
        await anyio.to_thread.run_sync(self._close, limiter=self._limiter)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._translate():
            return fn(self._connect())

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create {self.path.parent}: {exc.strerror or exc}; fix the permissions "
                "of the data directory (MCP_OLLAMA_DATA_DIR)"
            ) from exc
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE), never implicit.
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # The first statement that reads the file is where a corrupt file shows itself.
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self._schemas.clear()
        return connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            self._schemas.clear()

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """The one place where SQLite errors become `StorageError`."""
        try:
            yield
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # our own misuse of the API: a bug, not a storage problem
        except sqlite3.DatabaseError as exc:
            message = str(exc)
            if "not a database" in message or "malformed" in message:
                self._close()
                raise StorageError(
                    f"the conversation database {self.path} is corrupt ({message}); move it "
                    "aside or delete it to start afresh (stored sessions and usage are lost)"
                ) from exc
            if "locked" in message or "busy" in message:
                raise StorageError(
                    f"the conversation database {self.path} is locked by another process "
                    f"({message}); retry in a moment"
                ) from exc
            raise StorageError(
                f"cannot use the conversation database {self.path} ({message}); check disk "
                "space and the permissions of the data directory (MCP_OLLAMA_DATA_DIR)"
            ) from exc


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
