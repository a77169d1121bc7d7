"""`GenerationService`: generate, chat, embed and batches as every front end gets them: input
checked, presets applied, usage counted, with auto-start, busy retries, auto-pull of a missing
model and the CLI fallback, all within one deadline per call (the `timeout`, else the preset's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from mcp_ollama.conversations import ContextWindows, Conversations, UsageLedger
from mcp_ollama.deadline import call_deadline
from mcp_ollama.errors import InvalidInputError
from mcp_ollama.fleet import Fleet, Host
from mcp_ollama.generation.batch import BatchResult, check_batch, run_batch
from mcp_ollama.generation.checks import (
    Format,
    KeepAlive,
    as_text,
    check_format,
    check_images,
    check_keep_alive,
    check_size,
)
from mcp_ollama.generation.files import Attachment, attach
from mcp_ollama.generation.fitting import chat_tokens, check_fits, prompt_tokens
from mcp_ollama.generation.options import PresetBook
from mcp_ollama.generation.runner import run_chat, run_generate
from mcp_ollama.generation.skills import SkillBook
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.names import validate_model_name
from mcp_ollama.ollama.resilience import ProgressCall
from mcp_ollama.ollama.types import (
    ChatMessage,
    ChatRequest,
    EmbedRequest,
    GenerateRequest,
    ThinkLevel,
)
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.results import ChatResult, EmbedResult, GenerationResult, Usage, ns_to_ms
from mcp_ollama.settings import Settings

__all__ = ["GenerationService"]

Answer = TypeVar("Answer", GenerationResult, ChatResult)
Attached = TypeVar("Attached", GenerationResult, ChatResult, BatchResult)
Fit = Callable[[OllamaClient], Awaitable[None]]
"""Checks, on the host about to run it, that a prompt with files fits the model's window."""
Puller = Callable[[Host, str, ProgressCallback | None], Awaitable[object]]
"""Pulls a model on a host (the auto-pull of a missing one), reporting through the callback."""


class GenerationService:
    """Runs a model: one completion, one chat turn, embeddings, or a batch of prompts."""

    def __init__(
        self,
        settings: Settings,
        fleet: Fleet,
        *,
        presets: PresetBook,
        skills: SkillBook,
        usage: UsageLedger,
        conversations: Conversations,
        windows: ContextWindows,
        pull: Puller,
    ) -> None:
        self.settings = settings
        self.fleet = fleet
        self.presets = presets
        self.skills = skills
        self.usage = usage
        self.conversations = conversations
        self.windows = windows
        self._pull = pull

    def _fit(self, model: str, options: dict[str, Any], tokens: int, files: Attachment) -> Fit:
        """The window check of a prompt with files, run on the host about to answer."""
        return partial(
            check_fits,
            self.windows,
            model=model,
            options=options,
            tokens=tokens,
            files=len(files.read),
            threshold=self.settings.context_threshold,
        )

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
        host: str | None = None,
        files: Sequence[str] | None = None,
        roots: Sequence[Path] | None = None,
        attachment: Attachment | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        """Generate a completion (on `host`, or a host that has the model); `skills` are
        prepended to the system prompt; `files` (paths or globs inside `roots`, see
        `attach`) go before the prompt, or an `attachment` already read.

        Raises:
            InvalidInputError: a bad name, option, image, skill or file, or an oversized prompt.
            ModelNotFoundError: the model is not pulled.
            OllamaError: the daemon failed.
        """
        model = validate_model_name(model)
        attachment = attachment or await attach(files, roots, self.settings)
        if skills:
            system = await self.skills.system_message(skills, system)
        if attachment is not None:
            prompt = attachment.around(prompt)
            images = [*attachment.images, *(images or [])]
        check_size(self.settings, prompt, system, suffix, as_text(format))
        resolved = self.presets.resolve(model, preset=preset, options=options)
        request = GenerateRequest(
            model=model,
            prompt=prompt,
            system=system,
            suffix=suffix,
            raw=raw,
            format=check_format(format),
            images=check_images(self.settings, images),
            options=resolved.options or None,
            think=think,
            keep_alive=check_keep_alive(keep_alive),
        )
        fit = None
        if attachment is not None:
            tokens = prompt_tokens(prompt, system, suffix, images=len(request.images or []))
            fit = self._fit(model, resolved.options, tokens, attachment)

        async def run(target: Host, progress: ProgressCallback | None) -> GenerationResult:
            if fit is not None:
                await fit(target.client)
            return await run_generate(target.client, request, on_progress=progress)

        with call_deadline(timeout or resolved.timeout, "generate_text"):
            result = await self._generation(
                model,
                host,
                run,
                fallback=lambda target: target.cli.generate_fallback(request),
                on_progress=on_progress,
            )
        return _with_files(result, attachment)

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
        host: str | None = None,
        files: Sequence[str] | None = None,
        roots: Sequence[Path] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ChatResult:
        """One chat turn over the given history, or, with `session_id`, after the history the
        server stored for that session (`messages` are then only the new ones). `files` (see
        `attach`) go into the newest user message, before its text.

        Raises:
            InvalidInputError: a bad name, option, message, skill or file, or an oversized
                history.
            ModelNotFoundError: the model is not pulled.
            OllamaError: the daemon failed.
        """
        model = validate_model_name(model)
        attachment = await attach(files, roots, self.settings)
        if session_id is None and skills:
            system = await self.skills.system_message(skills, system)
        history = attachment.into(messages) if attachment else list(messages)
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
        check_size(
            self.settings,
            *(m.content for m in history),
            *(m.thinking for m in history),
            system if session_id else None,
            as_text(tools),
            as_text(format),
        )
        check_images(self.settings, [image for m in history for image in m.images or []])
        resolved = self.presets.resolve(model, preset=preset, options=options)
        request = ChatRequest(
            model=model,
            messages=history,
            tools=tools or None,
            format=check_format(format),
            options=resolved.options or None,
            think=think,
            keep_alive=check_keep_alive(keep_alive),
        )

        async def send(request: ChatRequest) -> ChatResult:
            fit = None
            if attachment is not None:
                tokens = chat_tokens(request.messages, request.tools)
                fit = self._fit(model, resolved.options, tokens, attachment)

            async def run(target: Host, progress: ProgressCallback | None) -> ChatResult:
                if fit is not None:
                    await fit(target.client)
                return await run_chat(target.client, request, on_progress=progress)

            return await self._generation(
                model,
                host,
                run,
                fallback=lambda target: target.cli.chat_fallback(request),
                on_progress=on_progress,
            )

        # One deadline for the whole turn: waiting for a session another call is using,
        # fitting its history, and the answer.
        with call_deadline(timeout or resolved.timeout, "chat"):
            if session_id is not None:
                result = await self.conversations.turn(
                    session_id, request, system=system, skills=skills, send=send
                )
            else:
                result = await send(request)
        return _with_files(result, attachment)

    async def _generation(
        self,
        model: str,
        host: str | None,
        run: Callable[[Host, ProgressCallback | None], Awaitable[Answer]],
        *,
        fallback: Callable[[Host], ProgressCall[Answer] | None],
        on_progress: ProgressCallback | None,
    ) -> Answer:
        """A generate or chat call as every front end gets it: routed to a host, counted in
        usage, with auto-start, busy retries, failover, auto-pull of a missing model and the
        CLI fallback."""

        async def answer(target: Host, progress: ProgressCallback | None) -> Answer:
            return self._from(target, await run(target, progress))

        def spare(target: Host) -> ProgressCall[Answer] | None:
            cli = fallback(target)
            if cli is None:
                return None

            async def run_cli(progress: ProgressCallback | None) -> Answer:
                return self._from(target, await cli(progress))

            return run_cli

        return await self.usage.measure(
            model,
            lambda: self.fleet.streamed(
                model,
                answer,
                host=host,
                fallback=spare,
                on_progress=on_progress,
                pull=lambda target, progress: self._pull(target, model, progress),
            ),
        )

    def _from(self, target: Host, result: Answer) -> Answer:
        """The answer naming the host that gave it (when there are several)."""
        if self.fleet.single:
            return result
        return result.model_copy(update={"host": target.name})

    async def embed(
        self,
        model: str,
        texts: str | list[str],
        *,
        dimensions: int | None = None,
        truncate: bool | None = None,
        keep_alive: KeepAlive = None,
        timeout: float | None = None,
        host: str | None = None,
    ) -> EmbedResult:
        """Embed one or many texts.

        Raises:
            InvalidInputError: a bad name or oversized input.
            ModelNotFoundError: the model is not pulled.
        """
        model = validate_model_name(model)
        check_size(self.settings, *([texts] if isinstance(texts, str) else texts))
        request = EmbedRequest(
            model=model,
            input=texts,
            dimensions=dimensions,
            truncate=truncate,
            keep_alive=check_keep_alive(keep_alive),
        )
        return await self.usage.measure(model, lambda: self._embed(request, timeout, host))

    async def _embed(
        self, request: EmbedRequest, timeout: float | None, host: str | None
    ) -> EmbedResult:
        with call_deadline(timeout, "embed", "pass a larger `timeout`, or fewer or shorter texts"):
            response = await self.fleet.call(
                request.model, lambda target: target.client.embed(request), host=host
            )
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
        host: str | None = None,
        files: Sequence[str] | None = None,
        roots: Sequence[Path] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> BatchResult:
        """Run many prompts on one model, a bounded number at once; a failed prompt is reported
        in its item and does not stop the others. `files` are read once, for every prompt.

        Raises:
            InvalidInputError: a bad name, option, skill, file or batch size, before any prompt.
        """
        model = validate_model_name(model)
        limit = check_batch(prompts, concurrency, self.settings.max_concurrent_requests)
        check_size(self.settings, *prompts)  # the batch is one call: its prompts together
        self.presets.resolve(model, preset=preset, options=options)
        if skills:
            system = await self.skills.system_message(skills, system)
        attachment = await attach(files, roots, self.settings)
        result = await run_batch(
            model,
            prompts,
            lambda prompt: self.generate(
                model,
                prompt,
                system=system,
                preset=preset,
                options=options,
                timeout=timeout,
                host=host,
                attachment=attachment,
            ),
            concurrency=limit,
            on_progress=on_progress,
        )
        return _with_files(result, attachment)


def _with_files(result: Attached, attachment: Attachment | None) -> Attached:
    """The answer naming the files read into its prompt."""
    return result if attachment is None else result.model_copy(update={"files": attachment.read})
