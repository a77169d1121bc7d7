"""Usage accounting: every call's prompt and output tokens, duration and outcome, per model.

Counts come from Ollama's own counters (`prompt_eval_count`, `eval_count`); the duration is the
wall-clock time of the call as we saw it. Totals live in the data directory's SQLite database,
so they survive restarts and add up across server processes. Cost is always 0: local models are
not billed per token. A failure to record never fails the call it describes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import anyio
import structlog
from pydantic import BaseModel, Field

from mcp_ollama.database import Database, transaction
from mcp_ollama.errors import StorageError
from mcp_ollama.names import canonical_name
from mcp_ollama.results import Usage

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


class ModelUsage(BaseModel):
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


class UsageReport(BaseModel):
    """Usage per model since the data directory was created, plus the total."""

    models: list[ModelUsage]
    total: ModelUsage


class UsageLedger:
    """Counts calls per model in the database."""

    def __init__(self, database: Database) -> None:
        self._db = database

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
            # Shielded: a cancelled call is still accounted for (as an error).
            with anyio.CancelScope(shield=True):
                await self._record_quietly(model, usage, elapsed_ms)

    async def record(self, model: str, usage: Usage | None, duration_ms: float) -> None:
        """Add one call; `usage` None means it failed.

        Raises:
            StorageError: the database cannot be written.
        """
        await self._db.ensure_schema(SCHEMA)
        key = canonical_name(model)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        prompt = usage.prompt_tokens if usage else 0
        output = usage.output_tokens if usage else 0

        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO usage (model, calls, errors, prompt_tokens, output_tokens,"
                    " duration_ms, first_call_at, last_call_at) VALUES (?, 1, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(model) DO UPDATE SET calls = calls + 1,"
                    " errors = errors + excluded.errors,"
                    " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
                    " output_tokens = output_tokens + excluded.output_tokens,"
                    " duration_ms = duration_ms + excluded.duration_ms,"
                    " last_call_at = excluded.last_call_at",
                    (key, 0 if usage else 1, prompt, output, duration_ms, now, now),
                )

        await self._db.run(write)

    async def report(self, model: str | None = None) -> UsageReport:
        """Totals per model, busiest first; `model` restricts the report to one model.

        Raises:
            StorageError: the database cannot be read.
        """
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
            await self.record(model, usage, duration_ms)
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
