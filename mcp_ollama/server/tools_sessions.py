"""Conversations, batches, skills and usage: tools `list_sessions`, `get_session`,
`delete_session`, `generate_batch`, `list_skills`, `get_usage`; resources `sessions://{id}`,
`skills://{name}` (one listed per skill present at start) and `usage://summary`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from pydantic import Field

from mcp_ollama.conversations.database import DATABASE_NAME, Database
from mcp_ollama.conversations.sessions import SessionDetail, SessionList
from mcp_ollama.conversations.usage import UsageLedger, UsageReport
from mcp_ollama.errors import InvalidInputError, MCPOllamaError, SessionNotFoundError
from mcp_ollama.generation.batch import MAX_BATCH, BatchResult
from mcp_ollama.generation.skills import SkillBook, SkillList
from mcp_ollama.results import OperationResult
from mcp_ollama.server._common import (
    GENERATES,
    LOCAL_DESTRUCTIVE,
    LOCAL_READ,
    progress_callback,
    service_of,
    tool_errors,
)
from mcp_ollama.server.params import Host, Model, Options, Preset, Skills
from mcp_ollama.server.roots import ClientRoots, root_paths
from mcp_ollama.settings import Settings

if TYPE_CHECKING:
    # Its resources are registered at start, its tools on their first call (`listed_tools`).
    from mcp_ollama.server.toolbox import ToolBox

__all__ = ["register_session_resources", "register_session_tools"]

SessionId = Annotated[
    str, Field(min_length=1, max_length=128, description="Session id, as chat returned it")
]


def register_session_tools(box: ToolBox) -> None:
    """Register the session, batch, skill and usage tools."""

    @box.tool(annotations=LOCAL_READ)
    async def list_sessions(ctx: Context[Any, Any]) -> SessionList:
        """List stored chat sessions, most recently used first."""
        with tool_errors():
            return await service_of(ctx).sessions.list_sessions()

    @box.tool(annotations=LOCAL_READ)
    async def get_session(session_id: SessionId, ctx: Context[Any, Any]) -> SessionDetail:
        """Read a stored chat session: its messages and the summary of compacted turns."""
        with tool_errors():
            return await service_of(ctx).sessions.get(session_id)

    @box.tool(annotations=LOCAL_DESTRUCTIVE)
    async def delete_session(session_id: SessionId, ctx: Context[Any, Any]) -> OperationResult:
        """Delete a stored chat session and its history for good."""
        with tool_errors():
            await service_of(ctx).sessions.delete(session_id)
            return OperationResult(message=f"deleted session '{session_id}'")

    @box.tool(annotations=GENERATES)
    async def generate_batch(
        model: Model,
        prompts: Annotated[
            list[str], Field(min_length=1, max_length=MAX_BATCH, description="The prompts")
        ],
        ctx: Context[Any, Any],
        roots: ClientRoots,
        files: Annotated[
            list[str] | None, Field(description="Paths or globs read into every prompt")
        ] = None,
        concurrency: Annotated[
            int | None, Field(ge=1, description="Prompts run at once (default 4)")
        ] = None,
        system: Annotated[str | None, Field(description="System prompt for every prompt")] = None,
        skills: Skills = None,
        preset: Preset = None,
        options: Options = None,
        timeout: Annotated[
            float | None, Field(gt=0, le=86_400, description="Seconds each prompt may take")
        ] = None,
        host: Host = None,
    ) -> BatchResult:
        """Run many independent prompts on one model, several at once; each gets its own
        answer or error."""
        with tool_errors():
            return await service_of(ctx).generation.generate_batch(
                model,
                prompts,
                concurrency=concurrency,
                system=system,
                skills=skills,
                preset=preset,
                options=options,
                timeout=timeout,
                host=host,
                files=files,
                roots=root_paths(roots),
                on_progress=progress_callback(ctx),
            )

    @box.tool(annotations=LOCAL_READ)
    async def list_skills(ctx: Context[Any, Any]) -> SkillList:
        """List the Markdown skills generate_text, chat and generate_batch can put before the
        system prompt."""
        with tool_errors():
            return await service_of(ctx).skills.list_skills()

    @box.tool(annotations=LOCAL_READ)
    async def get_usage(
        ctx: Context[Any, Any],
        model: Annotated[str | None, Field(description="Only this model")] = None,
    ) -> UsageReport:
        """Calls, errors, tokens and time per model since the data directory was created."""
        with tool_errors():
            return await service_of(ctx).usage.report(model)


def register_session_resources(mcp: MCPServer[Any], settings: Settings) -> None:
    """Register the session, skill and usage resources (listed whatever the toolset)."""

    @mcp.resource(
        "sessions://{session_id}",
        name="session",
        title="Chat session",
        mime_type="application/json",
        description="A stored chat session with its messages, as JSON",
    )
    async def session_resource(session_id: str, ctx: Context) -> str:
        """One session, as get_session returns it."""
        try:
            detail = await service_of(ctx).sessions.get(session_id)
        except (SessionNotFoundError, InvalidInputError) as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except MCPOllamaError as exc:
            raise ResourceError(str(exc)) from exc
        return detail.model_dump_json(exclude_none=True)

    book = SkillBook(settings.effective_skills_dir, data_dir=settings.data_dir)

    async def read_skill(name: str) -> str:
        try:
            return await book.read(name)
        except InvalidInputError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except MCPOllamaError as exc:
            raise ResourceError(str(exc)) from exc

    @mcp.resource(
        "skills://{name}",
        name="skill",
        title="Skill",
        mime_type="text/markdown",
        description="A Markdown skill that chat and generate_text can inject via `skills`",
    )
    async def skill_resource(name: str) -> str:
        """One skill's Markdown."""
        return await read_skill(name)

    # Resource listings are fixed when the server is built, so the skills present now are listed
    # one by one; skills added later are still readable through the template.
    for skill in book.names():
        mcp.resource(
            f"skills://{skill}",
            name=f"skill-{skill}",
            title=f"Skill: {skill}",
            mime_type="text/markdown",
            description=f"The '{skill}' skill",
        )(_skill_reader(read_skill, skill))

    @mcp.resource(
        "usage://summary",
        name="usage",
        title="Usage per model",
        mime_type="application/json",
        description="Tokens, calls, errors and time per model; cost is always 0.00",
    )
    async def usage_resource() -> str:
        """Usage totals, as get_usage returns them."""
        # Static resources get no request context, so this reads the file on its own connection.
        database = Database(settings.data_dir / DATABASE_NAME)
        try:
            report = await UsageLedger(database).report()
        except MCPOllamaError as exc:
            raise ResourceError(str(exc)) from exc
        finally:
            await database.aclose()
        return report.model_dump_json(exclude_none=True)


def _skill_reader(read: Callable[[str], Awaitable[str]], name: str) -> Callable[[], Awaitable[str]]:
    async def read_named_skill() -> str:
        return await read(name)

    return read_named_skill
