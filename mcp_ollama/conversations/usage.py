"""Usage accounting: every call's prompt and output tokens, duration and outcome, per model.

Counts come from Ollama's own counters (`prompt_eval_count`, `eval_count`); the duration is the
wall-clock time of the call as we saw it. Totals live in the data directory's SQLite database,
so they survive restarts and add up across server processes. Cost is always 0: local models are
not billed per token. A failure to record never fails the call it describes.
"""

from __future__ import annotations

import errno
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio
import structlog
from anyio.abc import TaskGroup
from pydantic import Field

from mcp_ollama.conversations.database import Database, transaction
from mcp_ollama.errors import StorageError
from mcp_ollama.ollama.names import canonical_name
from mcp_ollama.results import Result, Usage

__all__ = ["ModelUsage", "UsageLedger", "UsageReport"]

logger = structlog.get_logger()

SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    model TEXT PRIMARY KEY,
    calls INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    duration_ms REAL NOT NULL DEFAULT 0,
    first_call_at TEXT NOT NULL,
    last_call_at TEXT NOT NULL
);
"""


class _HasUsage(Protocol):
    @property
    def usage(self) -> Usage: ...


R = TypeVar("R", bound=_HasUsage)


class ModelUsage(Result):
    """Totals for one model (or, as `total`, for all of them)."""

    model: str
    calls: int = Field(0, description="Calls made, failed ones included")
    errors: int = Field(0, description="Calls that failed")
    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    duration_ms: float = Field(0.0, description="Wall-clock time of all calls")
    cost: float = Field(0.0, description="Always 0.00: local models cost nothing per token")
    first_call_at: str | None = None
    last_call_at: str | None = None


class UsageReport(Result):
    """Usage per model since the data directory was created, plus the total."""

    models: list[ModelUsage]
    total: ModelUsage


LOCKED_PATIENCE = 60.0
"""Seconds usage records keep trying to be written while another program locks the file."""

UPSERT = (
    "INSERT INTO usage (model, calls, errors, prompt_tokens, output_tokens,"
    " duration_ms, first_call_at, last_call_at) VALUES (?, 1, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(model) DO UPDATE SET calls = calls + 1,"
    " errors = errors + excluded.errors,"
    " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
    " output_tokens = output_tokens + excluded.output_tokens,"
    " duration_ms = duration_ms + excluded.duration_ms,"
    " last_call_at = excluded.last_call_at"
)

# Usage writes still queued in the background of this process, per database file. Every
# ledger on the same file (the usage resource opens its own) waits for them before reading.
_PENDING: dict[Path, set[anyio.Event]] = {}


def _settle(path: Path, done: anyio.Event) -> None:
    pending = _PENDING.get(path)
    if pending is not None:
        pending.discard(done)
        if not pending:
            del _PENDING[path]


def _row(model: str, usage: Usage | None, duration_ms: float) -> tuple[Any, ...]:
    """One call as `UPSERT` parameters."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    prompt = usage.prompt_tokens if usage else 0
    output = usage.output_tokens if usage else 0
    return (canonical_name(model), 0 if usage else 1, prompt, output, duration_ms, now, now)


class UsageLedger:
    """Counts calls per model in the database."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._task_group: TaskGroup | None = None
        self._batch: list[tuple[Any, ...]] = []
        self._batch_done: anyio.Event | None = None
        self._writing = False

    def attach(self, task_group: TaskGroup) -> None:
        """Record calls in `task_group` (the server's lifespan) instead of before answering.

        A write is a worker-thread round trip: 0.2 ms on an idle machine, a millisecond and more
        under load, that no answer should wait for. Calls are queued and written in batches, one
        transaction each; a report first waits for the writes queued before it, so no report
        misses a call that has answered.
        """
        self._task_group = task_group

    async def measure(self, model: str, call: Callable[[], Awaitable[R]]) -> R:
        """Run `call` and account for it: its usage if it succeeds, an error if it does not."""
        started = time.monotonic()
        usage: Usage | None = None
        try:
            result = await call()
            usage = result.usage
            return result
        finally:
            elapsed_ms = (time.monotonic() - started) * 1000
            if not self._record_later(model, usage, elapsed_ms):
                # Shielded: a cancelled call is still accounted for (as an error).
                with anyio.CancelScope(shield=True):
                    await self._record_quietly(model, usage, elapsed_ms)

    def _record_later(self, model: str, usage: Usage | None, duration_ms: float) -> bool:
        """Queue the call for the background writer; False when there is none (any more)."""
        if self._task_group is None:
            return False
        if not self._writing:
            try:
                self._task_group.start_soon(self._drain)
            except RuntimeError:  # the lifespan has ended: record before answering
                return False
            self._writing = True
        self._batch.append(_row(model, usage, duration_ms))
        if self._batch_done is None:
            self._batch_done = anyio.Event()
            _PENDING.setdefault(self._db.path, set()).add(self._batch_done)
        return True

    async def _drain(self) -> None:
        """Write what has queued up, one transaction (one worker-thread trip) per batch.

        Under load the calls answered while one batch is written form the next, so the writer
        keeps up however many calls run at once, and nothing queues without bound.
        """
        # Shielded: a server stopping still counts the calls it answered or cancelled.
        with anyio.CancelScope(shield=True):
            try:
                while self._batch:
                    rows, done = self._batch, self._batch_done
                    self._batch, self._batch_done = [], None
                    try:
                        await self._write_quietly(rows)
                    finally:
                        if done is not None:
                            done.set()
                            _settle(self._db.path, done)
            finally:
                self._writing = False

    async def settled(self) -> None:
        """Wait for the background writes to this database queued so far."""
        for done in list(_PENDING.get(self._db.path, ())):
            await done.wait()

    async def record(
        self, model: str, usage: Usage | None, duration_ms: float, *, quiet: bool = False
    ) -> None:
        """Add one call; `usage` None means it failed. `quiet` is for callers that only log
        a failure (see `Database.run`).

        Raises:
            StorageError: the database cannot be written.
        """
        await self._db.ensure_schema(SCHEMA, quiet=quiet)
        await self._write([_row(model, usage, duration_ms)], quiet=quiet)

    async def _write(self, rows: list[tuple[Any, ...]], *, quiet: bool) -> None:
        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(UPSERT, rows)

        # Another program holding the write lock for a while must not cost the records: try
        # again (each attempt already waits for the lock) until it lets go, within reason.
        give_up = time.monotonic() + LOCKED_PATIENCE
        while True:
            try:
                await self._db.run(write, quiet=quiet)
                return
            except StorageError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() >= give_up:
                    raise

    async def _write_quietly(self, rows: list[tuple[Any, ...]]) -> None:
        try:
            await self._db.ensure_schema(SCHEMA, quiet=True)
            await self._write(rows, quiet=True)
        except StorageError as exc:
            logger.warning("usage_not_recorded", calls=len(rows), error=str(exc))

    async def report(self, model: str | None = None) -> UsageReport:
        """Totals per model, busiest first; `model` restricts the report to one model.

        Raises:
            StorageError: the database cannot be read.
        """
        await self.settled()
        await self._db.ensure_schema(SCHEMA)
        query = (
            "SELECT model, calls, errors, prompt_tokens, output_tokens, duration_ms,"
            " first_call_at, last_call_at FROM usage"
        )
        params: tuple[Any, ...] = ()
        if model:
            query += " WHERE model = ?"
            params = (canonical_name(model),)

        def read(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(query + " ORDER BY calls DESC, model", params).fetchall()

        rows = await self._db.run(read)
        models = [
            ModelUsage(
                model=row[0],
                calls=row[1],
                errors=row[2],
                prompt_tokens=row[3],
                output_tokens=row[4],
                total_tokens=row[3] + row[4],
                duration_ms=round(row[5], 3),
                first_call_at=row[6],
                last_call_at=row[7],
            )
            for row in rows
        ]
        return UsageReport(models=models, total=_total(models))

    async def _record_quietly(self, model: str, usage: Usage | None, duration_ms: float) -> None:
        try:
            await self.record(model, usage, duration_ms, quiet=True)
        except StorageError as exc:
            logger.warning("usage_not_recorded", model=model, error=str(exc))


def _total(models: list[ModelUsage]) -> ModelUsage:
    return ModelUsage(
        model="*",
        calls=sum(m.calls for m in models),
        errors=sum(m.errors for m in models),
        prompt_tokens=sum(m.prompt_tokens for m in models),
        output_tokens=sum(m.output_tokens for m in models),
        total_tokens=sum(m.total_tokens for m in models),
        duration_ms=round(sum(m.duration_ms for m in models), 3),
        first_call_at=min((m.first_call_at for m in models if m.first_call_at), default=None),
        last_call_at=max((m.last_call_at for m in models if m.last_call_at), default=None),
    )
