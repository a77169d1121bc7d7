"""`OllamaService`: the one object the front ends (MCP tools, the human CLI) call.

It builds the shared parts (the fleet of daemons, presets, the database, reports) once, and hands
each capability its own small service: `models` (fleet), `generation`, `bench`, plus the
conversation stores (`sessions`, `usage`, `skills`). Every daemon call gets its host from the
fleet (`fleet.call`/`fleet.streamed` route and fail over); nothing holds one global client. It
never imports `mcp`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import anyio.to_thread

from mcp_ollama import __version__
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.bench.service import BenchService
from mcp_ollama.conversations.context_window import Compactor, ContextWindows
from mcp_ollama.conversations.database import DATABASE_NAME, Database
from mcp_ollama.conversations.leases import Leases
from mcp_ollama.conversations.sessions import SessionStore
from mcp_ollama.conversations.turns import Conversations
from mcp_ollama.conversations.usage import UsageLedger
from mcp_ollama.events import ChangeFeed
from mcp_ollama.fleet.host import Host
from mcp_ollama.fleet.models import ModelService
from mcp_ollama.fleet.registry import Fleet
from mcp_ollama.generation.imported_config import preset_book
from mcp_ollama.generation.options import PresetBook
from mcp_ollama.generation.runner import run_chat
from mcp_ollama.generation.service import GenerationService
from mcp_ollama.generation.skills import SkillBook
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import ChatRequest
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.results import ChatResult, GenerationResult
from mcp_ollama.settings import Settings

__all__ = ["OllamaService"]

Answer = TypeVar("Answer", GenerationResult, ChatResult)


class OllamaService:
    """Everything a caller can ask of Ollama, validated, with actionable errors."""

    def __init__(
        self,
        settings: Settings,
        client: OllamaClient | None = None,
        *,
        presets: PresetBook | None = None,
        database: Database | None = None,
        reports: ReportStore | None = None,
    ) -> None:
        self.settings = settings
        # What changed (models, reports, outputs, sessions), for front ends that show it live.
        self.changes = ChangeFeed()
        # One client, catalogue, auto-start and CLI fallback per host; `client` (tests) serves
        # the host at its URL, and the fleet opens pools for the others.
        self.fleet = Fleet.from_settings(settings, client=client)
        self.presets = presets or preset_book(settings)
        self.reports = reports or ReportStore(
            settings.data_dir, retention=settings.report_retention
        )
        # Conversations and usage share one SQLite file, opened on first use.
        self.database = database or Database(settings.data_dir / DATABASE_NAME)
        self.usage = UsageLedger(self.database)
        # Locks shared with the other server processes on this data directory.
        self.leases = Leases(self.database)
        self.sessions = SessionStore(self.database, leases=self.leases, changes=self.changes)
        self.skills = SkillBook(settings.effective_skills_dir, data_dir=settings.data_dir)
        windows = ContextWindows(self._client_for)
        compactor = Compactor(
            windows,
            lambda request: self.usage.measure(request.model, lambda: self._summarize(request)),
            policy=settings.context_policy,
            summary_model=settings.summary_model,
            threshold=settings.context_threshold,
        )
        self.conversations = Conversations(
            self.sessions, self.skills, windows, compactor, threshold=settings.context_threshold
        )
        self.models = ModelService(settings, self.fleet, changes=self.changes)
        self.generation = GenerationService(
            settings,
            self.fleet,
            presets=self.presets,
            skills=self.skills,
            usage=self.usage,
            conversations=self.conversations,
            windows=windows,
            pull=self._auto_pull,
        )
        self.bench = BenchService(
            settings,
            self.fleet,
            presets=self.presets,
            reports=self.reports,
            app_version=__version__,
            changes=self.changes,
            exclusive=self.leases.hold,
            pull=self._auto_pull,
        )

    async def _auto_pull(self, host: Host, model: str, progress: ProgressCallback | None) -> None:
        """The auto-pull of a model a generation or a benchmark needs, on the host chosen."""
        await self.models.pull(model, host=host.name, on_progress=progress)

    async def _client_for(self, model: str) -> OllamaClient:
        return (await self.fleet.route(model)).client

    async def _summarize(self, request: ChatRequest) -> ChatResult:
        return await self.fleet.call(request.model, lambda host: run_chat(host.client, request))

    async def aclose(self) -> None:
        """Close the conversation database and the connection pools the fleet opened."""
        await self.database.aclose()
        await self.fleet.aclose()

    async def save_output(self, tool: str, result: Answer, request: dict[str, Any]) -> Answer:
        """Save a generation's request and answer under outputs/; the result gets its id.

        Raises:
            StorageError: the data directory is not writable.
        """
        text = result.text if isinstance(result, GenerationResult) else result.message.content
        output_id = await anyio.to_thread.run_sync(
            self.reports.save_output, tool, result.model, request, result, text
        )
        self.changes.output_saved(output_id)
        return result.model_copy(update={"saved_output": output_id})
