"""`ModelService`: what is installed and the operations that change it (list, show, running,
pull, delete, copy, unload), each with auto-start, retries and the CLI fallback where it helps."""

from __future__ import annotations

import re
from contextlib import aclosing

import structlog

from mcp_ollama.errors import InvalidInputError, OllamaError, OllamaResponseError
from mcp_ollama.events import ChangeFeed
from mcp_ollama.fleet.catalog import ModelCatalog
from mcp_ollama.ollama.cli_fallback import OllamaCLI
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.missing import explain_missing
from mcp_ollama.ollama.names import canonical_name, validate_model_name
from mcp_ollama.ollama.resilience import Resilience
from mcp_ollama.ollama.types import RunningModel
from mcp_ollama.progress import ProgressCallback, ProgressThrottle
from mcp_ollama.results import (
    ModelInfo,
    ModelList,
    OperationResult,
    PullResult,
    RunningList,
    RunningModelInfo,
    human_bytes,
)
from mcp_ollama.settings import Settings

__all__ = ["ModelService"]

logger = structlog.get_logger()


class ModelService:
    """Model management against the daemon, validated, with actionable errors."""

    def __init__(
        self,
        settings: Settings,
        client: OllamaClient,
        *,
        catalog: ModelCatalog,
        resilience: Resilience,
        cli: OllamaCLI,
        changes: ChangeFeed | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.catalog = catalog
        self.resilience = resilience
        self.cli = cli
        self.changes = changes or ChangeFeed()

    async def list_models(self, *, force_refresh: bool = False) -> ModelList:
        """The installed models with details and load state; when Ollama cannot be reached, the
        last known list marked stale, with the reason.

        Raises:
            OllamaError: Ollama cannot be reached and no list was ever fetched.
        """
        try:
            return await self.resilience.call(
                lambda: self.catalog.list_models(force_refresh=force_refresh),
                fallback=self.cli.list_models,
            )
        except OllamaError as exc:
            stale = self.catalog.stale(f"Ollama could not be reached ({exc})")
            if stale is None:
                raise
            return stale

    async def show_model(self, model: str) -> ModelInfo:
        """Details of one installed model.

        Raises:
            ModelNotFoundError: the model is not pulled.
        """
        model = validate_model_name(model)
        async with explain_missing(self.client):
            return await self.resilience.call(
                lambda: self._show(model), fallback=lambda: self.cli.show(model)
            )

    async def _show(self, model: str) -> ModelInfo:
        show = await self.client.show(model)
        arch = show.model_info.get("general.architecture")
        embedding = show.model_info.get(f"{arch}.embedding_length") if arch else None
        license_head = "\n".join(show.license.strip().splitlines()[:3])
        return ModelInfo(
            name=canonical_name(model) if ":" not in model else model,
            family=show.details.family or None,
            parameter_size=show.details.parameter_size or None,
            quantization=show.details.quantization_level or None,
            format=show.details.format or None,
            context_length=show.context_length,
            embedding_length=int(embedding) if isinstance(embedding, int | float) else None,
            capabilities=show.capabilities,
            parameters=show.parameters,
            template=show.template,
            system=show.system,
            license=license_head,
            modified_at=show.modified_at,
            model_info={k: v for k, v in show.model_info.items() if not isinstance(v, list)},
        )

    async def running_models(self) -> RunningList:
        """Models loaded in memory now."""
        running = await self.resilience.call(self.client.running)
        return RunningList(models=[_running(m) for m in running])

    async def pull(
        self,
        model: str,
        *,
        insecure: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> PullResult:
        """Download a model, reporting bytes done out of bytes known so far.

        Raises:
            InvalidInputError: a bad name, or one outside the pull allowlist.
            OllamaResponseError: the registry does not have it.
        """
        model = validate_model_name(model)
        self._check_pull_allowed(model)
        try:
            result = await self.resilience.streamed(
                lambda progress: self._pull(model, insecure, progress),
                fallback=lambda progress: self.cli.pull(
                    model, insecure=insecure, on_progress=progress
                ),
                on_progress=on_progress,
            )
        finally:
            self.catalog.invalidate()
        self.changed("model pulled", model, size=human_bytes(result.total_bytes))
        return result

    async def _pull(
        self, model: str, insecure: bool, on_progress: ProgressCallback | None
    ) -> PullResult:
        totals: dict[str, int] = {}
        done: dict[str, int] = {}
        status = ""
        throttle = ProgressThrottle(on_progress)
        try:
            async with aclosing(self.client.pull(model, insecure=insecure)) as lines:
                async for line in lines:
                    status = line.status
                    if line.digest and line.total:
                        totals[line.digest] = line.total
                        done[line.digest] = max(done.get(line.digest, 0), line.completed or 0)
                    completed, total = sum(done.values()), sum(totals.values())
                    # The phase offset keeps progress growing through the byte-less steps.
                    await throttle.update(
                        completed + _phase(status),
                        (total + len(_FINAL_PHASES) + 1) if total else None,
                        status,
                        force=status == "success",
                    )
        except OllamaResponseError as exc:
            if "file does not exist" in exc.error:
                raise OllamaResponseError(
                    f"model '{model}' does not exist in the Ollama registry ({exc.error}); check "
                    "the name at https://ollama.com/library",
                    exc.status_code,
                ) from exc
            raise
        return PullResult(
            model=model,
            status=status,
            total_bytes=sum(totals.values()),
            completed_bytes=sum(done.values()),
        )

    async def delete(self, model: str) -> OperationResult:
        """Delete a model; refused unless destructive operations are enabled.

        Raises:
            InvalidInputError: destructive operations are disabled.
            ModelNotFoundError: the model is not installed.
        """
        model = validate_model_name(model)
        if not self.settings.allow_destructive:
            raise InvalidInputError(
                "delete_model is disabled: it is destructive. Ask the user to enable it with "
                "MCP_OLLAMA_ALLOW_DESTRUCTIVE=true (or allow_destructive = true in the config)."
            )
        await self.resilience.call(lambda: self.client.delete(model))
        self.changed("model deleted", model)
        return OperationResult(message=f"deleted '{model}'")

    async def copy(self, source: str, destination: str) -> OperationResult:
        """Copy a model under a new name; overwriting an existing name is destructive.

        Raises:
            InvalidInputError: the destination exists and destructive operations are disabled.
            ModelNotFoundError: the source is not installed.
        """
        source = validate_model_name(source)
        destination = validate_model_name(destination)
        await self.refuse_overwrite(destination, action="copying")
        async with explain_missing(self.client):
            await self.resilience.call(lambda: self.client.copy(source, destination))
        self.changed("model copied", destination, source=source)
        return OperationResult(message=f"copied '{source}' to '{destination}'")

    def changed(self, event: str, model: str, **facts: str) -> None:
        """After an operation changed what is installed: log it, drop the cached list, and
        announce it (every model-changing operation, `create` included, ends here)."""
        logger.info(event, model=model, **facts)
        self.catalog.invalidate()
        self.changes.models_changed(model)

    async def refuse_overwrite(self, name: str, *, action: str) -> None:
        """Refuse to write a model over an installed one unless destructive operations are on.

        Names are compared as the daemon resolves them (`canonical_name`), so no spelling of
        an installed model (`library/x`, `registry.ollama.ai/library/x:latest`, `X`) slips by.

        Raises:
            InvalidInputError: `name` is installed and destructive operations are disabled.
        """
        if self.settings.allow_destructive:
            return
        target = canonical_name(name)
        installed = await self.resilience.call(self.client.list_models)
        if any(canonical_name(m.name) == target for m in installed):
            same = "" if target == name.lower() else f" (that is '{target}')"
            raise InvalidInputError(
                f"'{name}'{same} already exists and {action} over it would replace it; pick "
                "another name, or enable destructive operations (MCP_OLLAMA_ALLOW_DESTRUCTIVE)."
            )

    async def unload(self, model: str) -> OperationResult:
        """Unload a model from memory now.

        Raises:
            ModelNotFoundError: the model is not installed.
        """
        model = validate_model_name(model)
        async with explain_missing(self.client):
            await self.resilience.call(lambda: self.client.unload(model))
        self.catalog.invalidate()
        return OperationResult(message=f"unloaded '{model}' from memory")

    def _check_pull_allowed(self, model: str) -> None:
        patterns = self.settings.pull_allowlist
        if patterns and not any(
            _name_matches(p, canonical_name(model)) or _name_matches(p, model.lower())
            for p in patterns
        ):
            raise InvalidInputError(
                f"pulling '{model}' is not allowed here; allowed patterns: {', '.join(patterns)}. "
                "Ask the user to pull it, or to extend MCP_OLLAMA_PULL_ALLOWLIST."
            )


_FINAL_PHASES = ("verifying sha256 digest", "writing manifest", "removing unused layers", "success")


def _phase(status: str) -> int:
    """1 while downloading, then 2.. for each closing step, so progress always grows."""
    return _FINAL_PHASES.index(status) + 2 if status in _FINAL_PHASES else 1


def _name_matches(pattern: str, name: str) -> bool:
    """A glob over model names where `*` and `?` stay within one path segment, so `llama3*`
    cannot admit `llama3.evil.example/x/y` (another registry) or `llama3x/anything`.

    >>> _name_matches('llama3*', 'llama3.2:1b'), _name_matches('llama3*', 'llama3.evil.io/x/y')
    (True, False)
    >>> _name_matches('hf.co/bartowski/*', 'hf.co/bartowski/m-gguf:q4_k_m')
    True
    """
    parts = re.split(r"(\*|\?)", pattern.lower())
    regex = "".join(
        "[^/]*" if part == "*" else "[^/]" if part == "?" else re.escape(part) for part in parts
    )
    return re.fullmatch(regex, name) is not None


def _running(model: RunningModel) -> RunningModelInfo:
    if model.size_vram == 0:
        processor = "100% CPU"
    elif model.size_vram >= model.size:
        processor = "100% GPU"
    else:
        gpu = round(100 * model.size_vram / model.size)
        processor = f"{100 - gpu}%/{gpu}% CPU/GPU"
    return RunningModelInfo(
        name=model.name,
        size_bytes=model.size,
        size=human_bytes(model.size),
        vram_bytes=model.size_vram,
        processor=processor,
        context_length=model.context_length,
        expires_at=model.expires_at,
    )
