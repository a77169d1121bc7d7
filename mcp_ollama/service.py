"""`OllamaService`: the core facade every front end (MCP tools, the human CLI) calls.

It validates input before anything reaches the daemon, applies presets, and turns Ollama's
answers into the result models of `mcp_ollama.results`. It never imports `mcp`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from mcp_ollama.bench.benchmark import (
    BenchmarkPlan,
    BenchmarkResult,
    ComparisonResult,
    build_prompts,
    compare_models,
    run_benchmark,
)
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.conversations.context_window import Compactor, ContextWindows
from mcp_ollama.conversations.database import DATABASE_NAME, Database
from mcp_ollama.conversations.sessions import SessionStore
from mcp_ollama.conversations.turns import Conversations
from mcp_ollama.conversations.usage import UsageLedger
from mcp_ollama.errors import InvalidInputError, OllamaError, OllamaResponseError
from mcp_ollama.fleet.catalog import ModelCatalog
from mcp_ollama.generation.batch import BatchResult, check_batch, run_batch
from mcp_ollama.generation.options import PresetBook, ResolvedOptions, validate_options
from mcp_ollama.generation.runner import call_deadline, run_chat, run_generate
from mcp_ollama.generation.skills import SkillBook
from mcp_ollama.ollama.cli_fallback import OllamaCLI
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.lifecycle import DaemonManager
from mcp_ollama.ollama.names import canonical_name, validate_model_name
from mcp_ollama.ollama.resilience import ProgressCall, Resilience
from mcp_ollama.ollama.types import (
    ChatMessage,
    ChatRequest,
    EmbedRequest,
    GenerateRequest,
    RunningModel,
    ThinkLevel,
)
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
    ns_to_ms,
)
from mcp_ollama.settings import Settings

__all__ = ["OllamaService"]

KeepAlive = str | float | None
Format = str | dict[str, Any] | None
Answer = TypeVar("Answer", GenerationResult, ChatResult)


class OllamaService:
    """Everything a caller can ask of Ollama, validated, with actionable errors."""

    def __init__(
        self,
        settings: Settings,
        client: OllamaClient,
        *,
        presets: PresetBook | None = None,
        catalog: ModelCatalog | None = None,
        database: Database | None = None,
        reports: ReportStore | None = None,
        daemon: DaemonManager | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.presets = presets or PresetBook(settings.presets, settings.models)
        self.catalog = catalog or ModelCatalog.from_settings(client, settings)
        # Auto-start, busy retries and the `ollama` CLI fallback wrap every daemon call.
        self.daemon = daemon or DaemonManager(settings, client)
        self.cli = OllamaCLI(settings)
        self.resilience = Resilience(settings, self.daemon)
        self.reports = reports or ReportStore(
            settings.data_dir, retention=settings.report_retention
        )
        # One benchmark at a time across every caller: concurrent runs on one GPU would skew
        # each other's figures.
        self._benchmark_lock = anyio.Lock()
        # Conversations and usage share one SQLite file, opened on first use.
        self.database = database or Database(settings.data_dir / DATABASE_NAME)
        self.usage = UsageLedger(self.database)
        self.sessions = SessionStore(self.database)
        self.skills = SkillBook(settings.effective_skills_dir)
        windows = ContextWindows(client)
        compactor = Compactor(
            windows,
            lambda request: self.usage.measure(
                request.model, lambda: run_chat(self.client, request)
            ),
            policy=settings.context_policy,
            summary_model=settings.summary_model,
            threshold=settings.context_threshold,
        )
        self.conversations = Conversations(
            self.sessions, self.skills, windows, compactor, threshold=settings.context_threshold
        )

    async def aclose(self) -> None:
        """Close the conversation database."""
        await self.database.aclose()

    # -- generation -------------------------------------------------------------------------

    async def generate(
        self,
        model: str,
        prompt: str,
        *,
        system: str | None = None,
        skills: Sequence[str] | None = None,
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
        """Generate a completion; `skills` are prepended to the system prompt.

        Raises:
            InvalidInputError: a bad name, option, image, skill or an oversized prompt.
            ModelNotFoundError: the model is not pulled.
            OllamaError: the daemon failed.
        """
        model = validate_model_name(model)
        if skills:
            system = await self.skills.system_message(skills, system)
        self._check_size(prompt, system, suffix)
        resolved = self.presets.resolve(model, preset=preset, options=options)
        request = GenerateRequest(
            model=model,
            prompt=prompt,
            system=system,
            suffix=suffix,
            raw=raw,
            format=_check_format(format),
            images=self._check_images(images),
            options=resolved.options or None,
            think=think,
            keep_alive=_check_keep_alive(keep_alive),
        )
        deadline = timeout or resolved.timeout
        return await self._generation(
            model,
            lambda progress: run_generate(
                self.client, request, on_progress=progress, timeout=deadline
            ),
            fallback=self.cli.generate_fallback(request, deadline),
            on_progress=on_progress,
        )

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        system: str | None = None,
        session_id: str | None = None,
        skills: Sequence[str] | None = None,
        tools: list[dict[str, Any]] | None = None,
        preset: str | None = None,
        options: dict[str, Any] | None = None,
        format: Format = None,
        think: ThinkLevel | None = None,
        keep_alive: KeepAlive = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ChatResult:
        """One chat turn over the given history, or, with `session_id`, after the history the
        server stored for that session (`messages` are then only the new ones).

        Raises:
            InvalidInputError: a bad name, option, message, skill or an oversized history.
            ModelNotFoundError: the model is not pulled.
            OllamaError: the daemon failed.
        """
        model = validate_model_name(model)
        if session_id is None and skills:
            system = await self.skills.system_message(skills, system)
        history = list(messages)
        if system and session_id is None:
            history = [ChatMessage(role="system", content=system), *history]
        if not history:
            raise InvalidInputError("messages is empty: send at least one user message")
        if len(history) > self.settings.max_messages:
            raise InvalidInputError(
                f"{len(history):,} messages is over the limit of {self.settings.max_messages:,} "
                "per call (MCP_OLLAMA_MAX_MESSAGES); send fewer, or keep the conversation on the "
                "server with session_id so that only new messages travel."
            )
        self._check_size(
            *(m.content for m in history),
            *(m.thinking for m in history),
            system if session_id else None,
        )
        self._check_images([image for m in history for image in m.images or []])
        resolved = self.presets.resolve(model, preset=preset, options=options)
        request = ChatRequest(
            model=model,
            messages=history,
            tools=tools or None,
            format=_check_format(format),
            options=resolved.options or None,
            think=think,
            keep_alive=_check_keep_alive(keep_alive),
        )

        deadline = timeout or resolved.timeout

        async def send(request: ChatRequest) -> ChatResult:
            return await self._generation(
                model,
                lambda progress: run_chat(
                    self.client, request, on_progress=progress, timeout=deadline
                ),
                fallback=self.cli.chat_fallback(request, deadline),
                on_progress=on_progress,
            )

        if session_id is not None:
            return await self.conversations.turn(
                session_id, request, system=system, skills=skills, send=send
            )
        return await send(request)

    async def _generation(
        self,
        model: str,
        run: ProgressCall[Answer],
        *,
        fallback: ProgressCall[Answer] | None,
        on_progress: ProgressCallback | None,
    ) -> Answer:
        """A generate or chat call as every front end gets it: counted in usage, with
        auto-start, busy retries, auto-pull of a missing model and the CLI fallback."""
        return await self.usage.measure(
            model,
            lambda: self.resilience.streamed(
                run,
                fallback=fallback,
                on_progress=on_progress,
                pull=lambda progress: self.pull(model, on_progress=progress),
            ),
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
            keep_alive=_check_keep_alive(keep_alive),
        )
        return await self.usage.measure(model, lambda: self._embed(request, timeout))

    async def _embed(self, request: EmbedRequest, timeout: float | None) -> EmbedResult:
        with call_deadline(timeout, "embed"):
            response = await self.resilience.call(lambda: self.client.embed(request))
        vectors = response.embeddings
        return EmbedResult(
            model=response.model or request.model,
            embeddings=vectors,
            dimensions=len(vectors[0]) if vectors else 0,
            # /api/embed reports only these counters: there is no eval phase.
            usage=Usage(
                prompt_tokens=response.prompt_eval_count or 0,
                load_ms=ns_to_ms(response.load_duration),
                total_ms=ns_to_ms(response.total_duration),
            ),
        )

    async def generate_batch(
        self,
        model: str,
        prompts: Sequence[str],
        *,
        concurrency: int | None = None,
        system: str | None = None,
        skills: Sequence[str] | None = None,
        preset: str | None = None,
        options: dict[str, Any] | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> BatchResult:
        """Run many prompts on one model, a bounded number at once; a failed prompt is reported
        in its item and does not stop the others.

        Raises:
            InvalidInputError: a bad name, option, skill or batch size (checked once, up front).
        """
        model = validate_model_name(model)
        limit = check_batch(prompts, concurrency, self.settings.max_concurrent_requests)
        self.presets.resolve(model, preset=preset, options=options)
        if skills:
            system = await self.skills.system_message(skills, system)
        return await run_batch(
            model,
            prompts,
            lambda prompt: self.generate(
                model, prompt, system=system, preset=preset, options=options, timeout=timeout
            ),
            concurrency=limit,
            on_progress=on_progress,
        )

    # -- models -----------------------------------------------------------------------------

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
            return await self.resilience.streamed(
                lambda progress: self._pull(model, insecure, progress),
                fallback=lambda progress: self.cli.pull(
                    model, insecure=insecure, on_progress=progress
                ),
                on_progress=on_progress,
            )
        finally:
            self.catalog.invalidate()

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
        await self.resilience.call(lambda: self.client.copy(source, destination))
        self.catalog.invalidate()
        return OperationResult(message=f"copied '{source}' to '{destination}'")

    async def unload(self, model: str) -> OperationResult:
        """Unload a model from memory now.

        Raises:
            ModelNotFoundError: the model is not installed.
        """
        model = validate_model_name(model)
        await self.resilience.call(lambda: self.client.unload(model))
        self.catalog.invalidate()
        return OperationResult(message=f"unloaded '{model}' from memory")

    # -- benchmarks and saved outputs -------------------------------------------------------

    async def benchmark(
        self,
        model: str,
        *,
        prompts: Sequence[str] | None = None,
        runs: int = 3,
        warmup: int = 1,
        preset: str | None = None,
        options: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        keep_alive: KeepAlive = None,
        save_report: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> BenchmarkResult:
        """Benchmark one model on the built-in suite (or `prompts`), saving a report.

        Raises:
            InvalidInputError: a bad name, option, prompt or run count.
            ModelNotFoundError: the model is not pulled.
            OllamaError: a run failed.
            StorageError: the report could not be saved.
        """
        plan = self._benchmark_plan(prompts, runs, warmup, preset)
        resolve = self._benchmark_resolver(preset, options, max_tokens)
        keep_alive = _check_keep_alive(keep_alive)
        async with self._benchmark_lock:
            result = await run_benchmark(
                self.client, model, plan, resolve, keep_alive=keep_alive, on_progress=on_progress
            )
        if not save_report:
            return result
        return await anyio.to_thread.run_sync(self.reports.save_benchmark, result)

    async def compare(
        self,
        models: Sequence[str],
        *,
        prompts: Sequence[str] | None = None,
        runs: int = 3,
        warmup: int = 1,
        preset: str | None = None,
        options: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        keep_alive: KeepAlive = None,
        save_report: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> ComparisonResult:
        """Run the same suite on 2..N models one after another, rank them, save a report.

        Raises:
            InvalidInputError: fewer than two models, a bad name, option, prompt or run count.
            StorageError: the report could not be saved.
        """
        plan = self._benchmark_plan(prompts, runs, warmup, preset)
        resolve = self._benchmark_resolver(preset, options, max_tokens)
        keep_alive = _check_keep_alive(keep_alive)
        async with self._benchmark_lock:
            result = await compare_models(
                self.client, models, plan, resolve, keep_alive=keep_alive, on_progress=on_progress
            )
        if not save_report:
            return result
        return await anyio.to_thread.run_sync(self.reports.save_comparison, result)

    async def save_output(self, tool: str, result: Answer, request: dict[str, Any]) -> Answer:
        """Save a generation's request and answer under outputs/; the result gets its id.

        Raises:
            StorageError: the data directory is not writable.
        """
        text = result.text if isinstance(result, GenerationResult) else result.message.content
        output_id = await anyio.to_thread.run_sync(
            self.reports.save_output, tool, result.model, request, result, text
        )
        return result.model_copy(update={"saved_output": output_id})

    def _benchmark_plan(
        self, prompts: Sequence[str] | None, runs: int, warmup: int, preset: str | None
    ) -> BenchmarkPlan:
        if preset:
            self.presets.get(preset)  # an unknown preset fails before any run
        chosen = build_prompts(prompts, max_chars=self.settings.max_prompt_chars)
        return BenchmarkPlan(prompts=chosen, runs=runs, warmup=warmup, preset=preset)

    def _benchmark_resolver(
        self, preset: str | None, options: dict[str, Any] | None, max_tokens: int | None
    ) -> Callable[[str], ResolvedOptions]:
        explicit = dict(options or {})
        if max_tokens is not None:
            if max_tokens < 1:
                raise InvalidInputError(f"max_tokens must be at least 1, not {max_tokens}")
            explicit["num_predict"] = max_tokens
        validate_options(explicit)
        return lambda model: self.presets.resolve(model, preset=preset, options=explicit)

    # -- checks -----------------------------------------------------------------------------

    def _check_size(self, *texts: str | None) -> None:
        size = sum(len(t) for t in texts if t)
        if size > self.settings.max_prompt_chars:
            raise InvalidInputError(
                f"the input is {size:,} characters, over the limit of "
                f"{self.settings.max_prompt_chars:,} (MCP_OLLAMA_MAX_PROMPT_CHARS); shorten it or "
                "split it into several calls."
            )

    def _check_images(self, images: Sequence[str] | None) -> list[str] | None:
        if not images:
            return None
        limit = self.settings.max_images
        if len(images) > limit:
            raise InvalidInputError(
                f"{len(images)} images is over the limit of {limit} per call "
                "(MCP_OLLAMA_MAX_IMAGES); send fewer images per call."
            )
        for index, image in enumerate(images):
            try:
                size = len(base64.b64decode(image, validate=True))
            except (binascii.Error, ValueError) as exc:
                raise InvalidInputError(
                    f"images[{index}] is not valid base64; send the image file's bytes "
                    "base64-encoded"
                ) from exc
            if size > self.settings.max_image_bytes:
                raise InvalidInputError(
                    f"images[{index}] is {human_bytes(size)}, over the limit of "
                    f"{human_bytes(self.settings.max_image_bytes)} (MCP_OLLAMA_MAX_IMAGE_BYTES); "
                    "scale the image down first."
                )
        return list(images)

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


def _check_format(value: Format) -> str | dict[str, Any] | None:
    if value is None or value == "" or isinstance(value, dict):
        return value or None
    if value == "json":
        return "json"
    raise InvalidInputError(f"format must be 'json' or a JSON schema object, not {value!r}")


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


# A Go duration as Ollama's `api.Duration` parses it (`5m`, `1h30m`, `-1m`, `0`).
_GO_DURATION = re.compile(r"[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)")


def _check_keep_alive(value: KeepAlive) -> KeepAlive:
    """Refuse what the daemon would refuse, before it reaches the daemon or `ollama` argv.

    >>> _check_keep_alive('1h30m'), _check_keep_alive(-1), _check_keep_alive(None)
    ('1h30m', -1, None)
    >>> _check_keep_alive(float('nan'))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.errors.InvalidInputError: keep_alive must be a finite number of seconds ...
    >>> _check_keep_alive('--help')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.errors.InvalidInputError: keep_alive '--help' is not a duration: ...
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInputError(f"keep_alive must be a duration like '5m' or seconds, not {value}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidInputError(
                f"keep_alive must be a finite number of seconds (or -1 for forever), not {value}"
            )
        return value
    if isinstance(value, str) and _GO_DURATION.fullmatch(value.strip()):
        return value.strip()
    raise InvalidInputError(
        f"keep_alive {value!r} is not a duration: use '5m', '1h30m', '0' (unload after the "
        "call), '-1m' (keep loaded) or a number of seconds."
    )


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
