"""Conversation sessions stored in the data directory's SQLite database.

A session is a model, an optional system prompt and skills, an ordered list of messages and, once
the history outgrew the context window, a summary of the turns that were compacted away. Compacted
messages stay in the store (an agent can still read them) but are no longer sent to the model.

Turns on one session are serialised by a lease on the session id (see `leases`), held from
loading the history to storing the reply by whichever server process or client runs the turn, so
concurrent messages into one session never lose a turn, each answers with every turn stored
before it, and they are stored in the order they were answered. The reply is stored in one
SQLite transaction that first checks the lease is still held. A store that finds the database
locked by another program keeps trying for `APPEND_PATIENCE` seconds: an answer is at stake.
"""

from __future__ import annotations

import errno
import json
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import structlog

from mcp_ollama.conversations.database import Database, transaction
from mcp_ollama.conversations.leases import Leases
from mcp_ollama.conversations.session_types import (
    SessionDetail,
    SessionInfo,
    SessionList,
    SessionState,
    StoredMessage,
)
from mcp_ollama.deadline import pending
from mcp_ollama.errors import SessionNotFoundError, StorageError
from mcp_ollama.events import ChangeFeed
from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.storage import check_id

__all__ = [
    "NEW_SESSION",
    "SessionDetail",
    "SessionInfo",
    "SessionList",
    "SessionState",
    "SessionStore",
    "StoredMessage",
    "new_session_id",
    "resolve_session_id",
]

NEW_SESSION = "new"
TITLE_CHARS = 80
logger = structlog.get_logger()

BUSY_SESSION_ADVICE = (
    "Turns on one session run one at a time: call again once the other turn has answered, pass "
    "a larger `timeout`, or start another session"
)
APPEND_PATIENCE = 60.0
"""Seconds a finished turn keeps trying to store itself while another program locks the file."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    system TEXT,
    skills TEXT NOT NULL DEFAULT '[]',
    summary TEXT,
    token_estimate INTEGER NOT NULL DEFAULT 0,
    token_ratio REAL NOT NULL DEFAULT 1.0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    data TEXT NOT NULL,
    compacted INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
"""


def new_session_id() -> str:
    """A fresh, sortable, unguessable session id such as `chat-20260101T120000-1a2b3c4d`."""
    return f"chat-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def resolve_session_id(value: str) -> str:
    """`new` becomes a generated id; anything else must be a safe id.

    >>> resolve_session_id('project-notes')
    'project-notes'
    >>> resolve_session_id('new').startswith('chat-')
    True

    Raises:
        InvalidInputError: the id holds path characters or is too long.
    """
    if value == NEW_SESSION:
        return new_session_id()
    return check_id(value, kind="session_id")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class SessionStore:
    """Sessions and their messages in SQLite, one turn at a time per session."""

    def __init__(
        self,
        database: Database,
        *,
        leases: Leases | None = None,
        changes: ChangeFeed | None = None,
    ) -> None:
        self._db = database
        self._leases = leases or Leases(database)
        self._changes = changes or ChangeFeed()

    @asynccontextmanager
    async def locked(self, session_id: str) -> AsyncIterator[SessionState]:
        """Hold the session's lease (across every process on this database) and yield its
        current state, read once the lease is held (empty if the session is new)."""
        await self._ready()
        if not await self._db.writable():  # refuse before the model runs, not when storing
            raise StorageError(
                f"the conversation database {self._db.path} is read-only because the data "
                "directory cannot be written: stored sessions can be read but not continued. "
                "Make the data directory writable or set MCP_OLLAMA_DATA_DIR, or call chat "
                "without session_id."
            )
        async with AsyncExitStack() as stack:
            waiting = f"waiting for session '{session_id}', which another call is using"
            with pending(waiting, BUSY_SESSION_ADVICE):  # the wait, not the turn that follows
                await stack.enter_async_context(self._leases.hold(_lease(session_id)))
            yield await self.load(session_id)

    async def load(self, session_id: str) -> SessionState:
        """The session's settings and the messages still sent to the model."""
        await self._ready()

        def read(conn: sqlite3.Connection) -> SessionState:
            row = conn.execute(
                "SELECT model, system, skills, summary, token_ratio FROM sessions WHERE id = ?",
                (session_id,),
            ).fetchone()
            if row is None:
                return SessionState(session_id=session_id)
            return SessionState(
                session_id=session_id,
                exists=True,
                model=row[0],
                system=row[1],
                skills=json.loads(row[2]),
                summary=row[3],
                token_ratio=row[4],
                active=_messages(conn, session_id, active_only=True),
            )

        return await self._db.run(read)

    async def append_turn(
        self,
        state: SessionState,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        system: str | None,
        skills: Sequence[str],
        token_estimate: int,
        token_ratio: float,
    ) -> None:
        """Store a finished turn (the new messages and the reply) and the session's settings."""
        await self._ready()
        now = _now()

        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                self._leases.check_held(conn, _lease(state.session_id))
                conn.execute(
                    "INSERT INTO sessions (id, model, system, skills, token_estimate, token_ratio,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(id) DO UPDATE SET model = excluded.model,"
                    " system = excluded.system, skills = excluded.skills,"
                    " token_estimate = excluded.token_estimate,"
                    " token_ratio = excluded.token_ratio, updated_at = excluded.updated_at",
                    (
                        state.session_id,
                        model,
                        system,
                        json.dumps(list(skills)),
                        token_estimate,
                        token_ratio,
                        now,
                        now,
                    ),
                )
                (last,) = conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?",
                    (state.session_id,),
                ).fetchone()
                conn.executemany(
                    "INSERT INTO messages (session_id, seq, role, data, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        (state.session_id, last + i, m.role, _encode(m), now)
                        for i, m in enumerate(messages, start=1)
                    ],
                )

        await self._patiently(write)
        self._changes.session_changed(state.session_id)

    async def _patiently(self, write: Callable[[sqlite3.Connection], None]) -> None:
        """Run a write, trying again while another program holds the database's write lock."""
        give_up = time.monotonic() + APPEND_PATIENCE
        while True:
            try:
                await self._db.run(write)
                return
            except StorageError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() >= give_up:
                    raise
                logger.info("database locked by another program; trying again to store the turn")

    async def compact(self, state: SessionState, through_seq: int, summary: str | None) -> None:
        """Mark messages up to `through_seq` as compacted and store the session's summary."""
        await self._ready()

        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "UPDATE messages SET compacted = 1 WHERE session_id = ? AND seq <= ?",
                    (state.session_id, through_seq),
                )
                conn.execute(
                    "UPDATE sessions SET summary = ?, updated_at = ? WHERE id = ?",
                    (summary, _now(), state.session_id),
                )

        await self._db.run(write)
        state.summary = summary
        state.active = [m for m in state.active if m.seq > through_seq]
        self._changes.session_changed(state.session_id)

    async def get(self, session_id: str) -> SessionDetail:
        """One session with every message.

        Raises:
            SessionNotFoundError: no session has that id.
        """
        check_id(session_id, kind="session_id")
        await self._ready()

        def read(conn: sqlite3.Connection) -> SessionDetail | None:
            row = conn.execute(_INFO_QUERY + " WHERE s.id = ?", (session_id,)).fetchone()
            if row is None:
                return None
            info = _info(row)
            details = conn.execute(
                "SELECT system, skills, summary FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            return SessionDetail(
                **info.model_dump(),
                system=details[0],
                skills=json.loads(details[1]),
                summary=details[2],
                messages=_messages(conn, session_id, active_only=False),
            )

        detail = await self._db.run(read)
        if detail is None:
            raise _not_found(session_id)
        return detail

    async def list_sessions(self) -> SessionList:
        """Every session, most recently used first."""
        await self._ready()

        def read(conn: sqlite3.Connection) -> list[SessionInfo]:
            rows = conn.execute(_INFO_QUERY + " ORDER BY s.updated_at DESC, s.id").fetchall()
            return [_info(row) for row in rows]

        return SessionList(sessions=await self._db.run(read))

    async def delete(self, session_id: str) -> None:
        """Delete a session and its messages.

        Raises:
            SessionNotFoundError: no session has that id.
        """
        check_id(session_id, kind="session_id")
        await self._ready()

        def write(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                conn.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
                return conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount

        async with self._leases.hold(_lease(session_id)):
            if not await self._db.run(write):
                raise _not_found(session_id)
        self._changes.session_changed(session_id)

    async def _ready(self) -> None:
        await self._db.ensure_schema(SCHEMA)


_INFO_QUERY = """
SELECT s.id, s.model, s.token_estimate, s.summary IS NOT NULL, s.created_at, s.updated_at,
       (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id),
       (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id AND m.compacted = 0),
       (SELECT m.data FROM messages m WHERE m.session_id = s.id AND m.role = 'user'
        ORDER BY m.seq LIMIT 1)
FROM sessions s"""


def _info(row: Any) -> SessionInfo:
    first_user = ChatMessage.model_validate_json(row[8]).content if row[8] else ""
    title = " ".join(first_user.split())
    if len(title) > TITLE_CHARS:
        title = title[: TITLE_CHARS - 1] + "…"
    return SessionInfo(
        session_id=row[0],
        model=row[1],
        token_estimate=row[2],
        has_summary=bool(row[3]),
        created_at=row[4],
        updated_at=row[5],
        message_count=row[6],
        active_messages=row[7],
        title=title,
    )


def _encode(message: ChatMessage) -> str:
    return message.model_dump_json(exclude_none=True)


def _messages(
    conn: sqlite3.Connection, session_id: str, *, active_only: bool
) -> list[StoredMessage]:
    query = "SELECT seq, data, compacted, created_at FROM messages WHERE session_id = ?"
    if active_only:
        query += " AND compacted = 0"
    rows = conn.execute(query + " ORDER BY seq", (session_id,)).fetchall()
    return [
        StoredMessage.model_validate(
            {**json.loads(data), "seq": seq, "compacted": bool(compacted), "created_at": created}
        )
        for seq, data, compacted, created in rows
    ]


def _lease(session_id: str) -> str:
    return f"session:{session_id}"


def _not_found(session_id: str) -> SessionNotFoundError:
    return SessionNotFoundError(
        f"no session {session_id!r}: call list_sessions to see the stored ones, or start one "
        "with chat(session_id='new')"
    )
