"""`OllamaService`: the core facade every front end (MCP tools, the human CLI) calls.

It validates input before anything reaches the daemon, applies presets, and turns Ollama's
answers into the result models of `mcp_ollama.results`. It never imports `mcp`.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

from mcp_ollama.catalog import ModelCatalog
from mcp_ollama.client import OllamaClient
from mcp_ollama.errors import InvalidInputError, OllamaResponseError
from mcp_ollama.generation import call_deadline, run_chat, run_generate
from mcp_ollama.names import canonical_name, validate_model_name
from mcp_ollama.options import PresetBook
from mcp_ollama.progress import ProgressCallback, ProgressThrottle
from mcp_ollama.results import (
    ChatResult,
    EmbedResult,
    GenerationResult,
    ModelInfo,
    ModelList,
    OperationResult,
    PullResult,
    RunningList,
    RunningModelInfo,
    Usage,
    human_bytes,
)
from mcp_ollama.settings import Settings
from mcp_ollama.types import (
    ChatMessage,
    ChatRequest,
    EmbedRequest,
    GenerateRequest,
    RunningModel,
    ThinkLevel,
)

__all__ = ["OllamaService"]

KeepAlive = str | float | None
Format = str | dict[str, Any] | None


class OllamaService:
    """Everything a caller can ask of Ollama, validated, with actionable errors."""

    def __init__(
        self,
        settings: Settings,
        client: OllamaClient,
        *,
        presets: PresetBook | None = None,
        catalog: ModelCatalog | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.presets = presets or PresetBook(settings.presets, settings.models)
        self.catalog = catalog or ModelCatalog(client, ttl=settings.cache_ttl)

    # -- generation -------------------------------------------------------------------------

    async def generate(
        self,
        model: str,
        prompt: str,
        *,
        system: str | None = None,
        preset: str | None = None,
        options: dict[str, Any] | None = None,
        format: Format = None,
        think: ThinkLevel | None = None,
        images: Sequence[str] | None = None,
        suffix: str | None = None,
        raw: bool | None = None,
        keep_alive: KeepAlive = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        """Generate a completion.

        Raises:
            InvalidInputError: a bad name, option, image or an oversized prompt.
            ModelNotFoundError: the model is not pulled.
            OllamaError: the daemon failed.
        """
        model = validate_model_name(model)
        self._check_size(prompt, system, suffix)
        resolved = self.presets.resolve(model, preset=preset, options=options)
        request = GenerateRequest(
            model=model,
            prompt=prompt,
            system=system,
            suffix=suffix,
            raw=raw,
            format=_check_format(format),
            images=_check_images(images),
            options=resolved.options or None,
            think=think,
            keep_alive=keep_alive,
        )
        return await run_generate(
            self.client,
            request,
            on_progress=on_progress,
            timeout=timeout or resolved.timeout,
        )

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        system: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        preset: str | None = None,
        options: dict[str, Any] | None = None,
        format: Format = None,
        think: ThinkLevel | None = None,
        keep_alive: KeepAlive = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ChatResult:
        """One chat turn over the given history.

        Raises:
            InvalidInputError: a bad name, option, message or an oversized history.
            ModelNotFoundError: the model is not pulled.
            OllamaError: the daemon failed.
        """
        model = validate_model_name(model)
        history = list(messages)
        if system:
            history = [ChatMessage(role="system", content=system), *history]
        if not history:
            raise InvalidInputError("messages is empty: send at least one user message")
        self._check_size(*(m.content for m in history))
        for message in history:
            _check_images(message.images)
        resolved = self.presets.resolve(model, preset=preset, options=options)
        request = ChatRequest(
            model=model,
            messages=history,
            tools=tools or None,
            format=_check_format(format),
            options=resolved.options or None,
            think=think,
            keep_alive=keep_alive,
        )
        return await run_chat(
            self.client,
            request,
            on_progress=on_progress,
            timeout=timeout or resolved.timeout,
        )

    async def embed(
        self,
        model: str,
        texts: str | list[str],
        *,
        dimensions: int | None = None,
        truncate: bool | None = None,
        keep_alive: KeepAlive = None,
        timeout: float | None = None,
    ) -> EmbedResult:
        """Embed one or many texts.

        Raises:
            InvalidInputError: a bad name or oversized input.
            ModelNotFoundError: the model is not pulled.
        """
        model = validate_model_name(model)
        self._check_size(*([texts] if isinstance(texts, str) else texts))
        request = EmbedRequest(
            model=model,
            input=texts,
            dimensions=dimensions,
            truncate=truncate,
            keep_alive=keep_alive,
        )
        with call_deadline(timeout, "embed"):
            response = await self.client.embed(request)
        vectors = response.embeddings
        return EmbedResult(
            model=response.model or model,
            embeddings=vectors,
            dimensions=len(vectors[0]) if vectors else 0,
            usage=Usage.from_counters(response.model_copy(update={"eval_count": None})),
        )

    # -- models -----------------------------------------------------------------------------

    async def list_models(self, *, force_refresh: bool = False) -> ModelList:
        """The installed models with details and load state."""
        return await self.catalog.list_models(force_refresh=force_refresh)

    async def show_model(self, model: str) -> ModelInfo:
        """Details of one installed model.

        Raises:
            ModelNotFoundError: the model is not pulled.
        """
        model = validate_model_name(model)
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
        return RunningList(models=[_running(m) for m in await self.client.running()])

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
        finally:
            self.catalog.invalidate()
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
        await self.client.delete(model)
        self.catalog.invalidate()
        return OperationResult(message=f"deleted '{model}'")

    async def copy(self, source: str, destination: str) -> OperationResult:
        """Copy a model under a new name; overwriting an existing name is destructive.

        Raises:
            InvalidInputError: the destination exists and destructive operations are disabled.
            ModelNotFoundError: the source is not installed.
        """
        source = validate_model_name(source)
        destination = validate_model_name(destination)
        if not self.settings.allow_destructive:
            installed = await self.client.list_models()
            if any(canonical_name(m.name) == canonical_name(destination) for m in installed):
                raise InvalidInputError(
                    f"'{destination}' already exists and copying over it would replace it; pick "
                    "another name, or enable destructive operations (MCP_OLLAMA_ALLOW_DESTRUCTIVE)."
                )
        await self.client.copy(source, destination)
        self.catalog.invalidate()
        return OperationResult(message=f"copied '{source}' to '{destination}'")

    async def unload(self, model: str) -> OperationResult:
        """Unload a model from memory now.

        Raises:
            ModelNotFoundError: the model is not installed.
        """
        model = validate_model_name(model)
        await self.client.unload(model)
        self.catalog.invalidate()
        return OperationResult(message=f"unloaded '{model}' from memory")

    # -- checks -----------------------------------------------------------------------------

    def _check_size(self, *texts: str | None) -> None:
        size = sum(len(t) for t in texts if t)
        if size > self.settings.max_prompt_chars:
            raise InvalidInputError(
                f"the input is {size:,} characters, over the limit of "
                f"{self.settings.max_prompt_chars:,}; shorten it or split it into several calls."
            )

    def _check_pull_allowed(self, model: str) -> None:
        patterns = self.settings.pull_allowlist
        if patterns and not any(
            fnmatch.fnmatchcase(canonical_name(model), p.lower())
            or fnmatch.fnmatchcase(model.lower(), p.lower())
            for p in patterns
        ):
            raise InvalidInputError(
                f"pulling '{model}' is not allowed here; allowed patterns: {', '.join(patterns)}"
            )


_FINAL_PHASES = ("verifying sha256 digest", "writing manifest", "removing unused layers", "success")


def _phase(status: str) -> int:
    """1 while downloading, then 2.. for each closing step, so progress always grows."""
    return _FINAL_PHASES.index(status) + 2 if status in _FINAL_PHASES else 1


def _check_format(value: Format) -> str | dict[str, Any] | None:
    if value is None or value == "" or isinstance(value, dict):
        return value or None
    if value == "json":
        return "json"
    raise InvalidInputError(f"format must be 'json' or a JSON schema object, not {value!r}")


def _check_images(images: Sequence[str] | None) -> list[str] | None:
    if not images:
        return None
    for index, image in enumerate(images):
        try:
            base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInputError(
                f"images[{index}] is not valid base64; send the image file's bytes base64-encoded"
            ) from exc
    return list(images)


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
