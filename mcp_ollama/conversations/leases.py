"""Named locks shared by every server process on one data directory, kept in its database.

Two IDEs launching the server on the default data directory is the normal case, and under SSE
one process serves many clients: a turn on a session must see every turn stored before it, and
two benchmarks must not share the daemon, wherever their callers are. A lease is a row in
`sessions.db` naming its holder (host, process, a random token). Within a process, waiters queue
on an in-process lock first (FIFO, no polling); across processes, a waiter polls until the row
is free. The holder renews its row while it works; a row whose holder stopped renewing (its
lease expired) or whose process is gone from this host is taken over, so a killed server never
blocks anyone for long. A write that must only happen under the lease checks, in its own
transaction, that the lease is still held (`check_held`).
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import structlog

from mcp_ollama.conversations.database import Database, transaction
from mcp_ollama.errors import StorageError

__all__ = ["KeyedLocks", "LeaseLostError", "Leases"]

logger = structlog.get_logger()

LEASE_SECONDS = 30.0
"""How long a lease lasts without renewal: how long a frozen holder can block others at most."""
RENEW_EVERY = LEASE_SECONDS / 3
FIRST_POLL = 0.01
LAST_POLL = 0.05
"""Seconds between two attempts to take a lease held by another process (doubling up to this)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
"""


class LeaseLostError(StorageError):
    """A lease expired and another process took it while its holder was still working."""


class KeyedLocks:
    """One FIFO lock per key, forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[anyio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the key's lock (waiting in line for it)."""
        lock, users = self._locks.get(key, (anyio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Leases:
    """Leases in one database, held by this object for the whole process."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._local = KeyedLocks()
        self._host = socket.gethostname()
        self._holder = f"{self._host}:{os.getpid()}:{secrets.token_hex(4)}"

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """Hold lease `name` for the block: wait in line in this process, then until no other
        process holds it; renew it meanwhile, release it after.

        Raises:
            StorageError: the database cannot be used (nothing is held then).
        """
        async with self._local.hold(name):
            await self._db.ensure_schema(SCHEMA)
            try:
                await self._acquire(name)
            except anyio.get_cancelled_exc_class():
                # Cancelled (or out of time) while a worker thread may have just written our
                # row: remove it, or it would block every later caller until it expires.
                with anyio.CancelScope(shield=True):
                    await self._release(name)
                raise
            try:
                async with self._renewing(name):
                    yield
            finally:
                with anyio.CancelScope(shield=True):
                    await self._release(name)

    @asynccontextmanager
    async def _renewing(self, name: str) -> AsyncIterator[None]:
        """Renew the lease in the background while the block runs."""
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._renew, name)
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The renewal never raises: the group holds the block's own error, which the
            # caller expects as it is.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    def check_held(self, conn: sqlite3.Connection, name: str) -> None:
        """Inside a write transaction: make sure this object still holds lease `name`.

        Raises:
            LeaseLostError: it expired and another process took it.
        """
        row = conn.execute("SELECT holder FROM leases WHERE name = ?", (name,)).fetchone()
        if row is None or row[0] != self._holder:
            raise LeaseLostError(
                f"this call waited so long (over {LEASE_SECONDS:g} s without progress: was the "
                f"machine asleep?) that another server took over {name!r}; nothing was stored. "
                "Call again."
            )

    async def _acquire(self, name: str) -> None:
        delay = FIRST_POLL
        while not await self._try_take(name):
            await anyio.sleep(delay)
            delay = min(delay * 2, LAST_POLL)

    async def _try_take(self, name: str) -> bool:
        def take(conn: sqlite3.Connection) -> bool:
            now = time.time()
            with transaction(conn):
                row = conn.execute(
                    "SELECT holder, host, pid, expires_at FROM leases WHERE name = ?", (name,)
                ).fetchone()
                if row is not None and row[3] > now and not self._gone(row[1], row[2]):
                    return False
                conn.execute(
                    "INSERT OR REPLACE INTO leases (name, holder, host, pid, expires_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (name, self._holder, self._host, os.getpid(), now + LEASE_SECONDS),
                )
                return True

        try:
            return await self._db.run(take)
        except StorageError as exc:
            if exc.errno == errno.EBUSY:  # another program holds the write lock: wait it out
                return False
            raise

    def _gone(self, host: str, pid: int) -> bool:
        """Whether a holder's process no longer runs (known only on this host)."""
        if host != self._host or pid == os.getpid() or sys.platform == "win32":
            return False  # on Windows, os.kill(pid, 0) would terminate the process
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # it runs, as another user
            return False
        return False

    async def _renew(self, name: str) -> None:
        def renew(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                return conn.execute(
                    "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
                    (time.time() + LEASE_SECONDS, name, self._holder),
                ).rowcount

        while True:
            await anyio.sleep(RENEW_EVERY)
            try:
                if not await self._db.run(renew, quiet=True):
                    logger.warning("lease lost to another process", lease=name)
                    return
            except StorageError as exc:  # a lock held elsewhere: the next renewal may pass
                logger.warning("lease not renewed", lease=name, error=str(exc))

    async def _release(self, name: str) -> None:
        def release(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "DELETE FROM leases WHERE name = ? AND holder = ?", (name, self._holder)
                )

        try:
            await self._db.run(release, quiet=True)
        except StorageError as exc:  # it expires by itself
            logger.warning("lease not released", lease=name, error=str(exc))
