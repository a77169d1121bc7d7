"""Tools that run a model: generate_text, chat, embed."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.results import ChatResult, EmbedResult, GenerationResult
from mcp_ollama.server._common import (
    GENERATES,
    LOCAL_READ,
    progress_callback,
    service_of,
    tool_errors,
)
from mcp_ollama.server.params import (
    Files,
    Format,
    Host,
    KeepAlive,
    Model,
    Options,
    Preset,
    SaveOutput,
    Skills,
    Think,
    Timeout,
)
from mcp_ollama.server.roots import ClientRoots, root_paths
from mcp_ollama.server.toolbox import ToolBox

__all__ = ["register_generation_tools"]


def register_generation_tools(box: ToolBox) -> None:
    """Register generate_text, chat and embed."""

    @box.tool(annotations=GENERATES)
    async def generate_text(
        model: Model,
        prompt: str,
        ctx: Context[Any, Any],
        roots: ClientRoots,
        files: Files = None,
        system: str | None = None,
        skills: Skills = None,
        preset: Preset = None,
        options: Options = None,
        format: Format = None,
        think: Think = None,
        images: Annotated[list[str] | None, Field(description="Base64 images")] = None,
        suffix: Annotated[str | None, Field(description="Text after the gap")] = None,
        raw: Annotated[bool | None, Field(description="No prompt template")] = None,
        keep_alive: KeepAlive = None,
        timeout: Timeout = None,
        save_output: SaveOutput = False,
        host: Host = None,
    ) -> GenerationResult:
        """Answer one prompt with a local model, without history (chat keeps a
        conversation)."""
        with tool_errors():
            service = service_of(ctx)
            result = await service.generation.generate(
                model,
                prompt,
                system=system,
                skills=skills,
                preset=preset,
                options=options,
                format=format,
                think=think,
                images=images,
                suffix=suffix,
                raw=raw,
                keep_alive=keep_alive,
                timeout=timeout,
                host=host,
                files=files,
                roots=root_paths(roots),
                on_progress=progress_callback(ctx),
            )
            if save_output:
                request = {
                    "prompt": prompt,
                    "files": files,
                    "system": system,
                    "preset": preset,
                    "options": options,
                }
                result = await service.save_output("generate_text", result, request)
            return result

    @box.tool(annotations=GENERATES)
    async def chat(
        model: Model,
        messages: Annotated[
            list[ChatMessage],
            Field(
                description="Oldest first: {role: system|user|assistant|tool, content, images?, "
                "tool_calls?, tool_name?}"
            ),
        ],
        ctx: Context[Any, Any],
        roots: ClientRoots,
        files: Files = None,
        system: str | None = None,
        session_id: Annotated[
            str | None,
            Field(
                max_length=128,
                description="'new' (id returned) or an id: the server keeps the history, send "
                "only the new message",
            ),
        ] = None,
        skills: Skills = None,
        tools: Annotated[
            list[dict[str, Any]] | None,
            Field(description="Function tools (OpenAI schema)"),
        ] = None,
        preset: Preset = None,
        options: Options = None,
        format: Format = None,
        think: Think = None,
        keep_alive: KeepAlive = None,
        timeout: Timeout = None,
        save_output: SaveOutput = False,
        host: Host = None,
    ) -> ChatResult:
        """Chat with a local model: messages, function tools, or a session the server keeps.
        For one prompt, generate_text."""
        with tool_errors():
            service = service_of(ctx)
            result = await service.generation.chat(
                model,
                messages,
                system=system,
                session_id=session_id,
                skills=skills,
                tools=tools,
                preset=preset,
                options=options,
                format=format,
                think=think,
                keep_alive=keep_alive,
                timeout=timeout,
                host=host,
                files=files,
                roots=root_paths(roots),
                on_progress=progress_callback(ctx),
            )
            if save_output:
                request = {
                    # Images are left out: base64 blobs would dwarf the saved answer.
                    "messages": [
                        m.model_dump(exclude_none=True, exclude={"images"}) for m in messages
                    ],
                    "files": files,
                    "system": system,
                    "session_id": session_id,
                    "preset": preset,
                    "options": options,
                }
                result = await service.save_output("chat", result, request)
            return result

    @box.tool(annotations=LOCAL_READ)
    async def embed(
        model: Model,
        input: str | list[str],
        ctx: Context[Any, Any],
        dimensions: Annotated[
            int | None, Field(ge=1, description="Cut vectors to this size")
        ] = None,
        truncate: Annotated[
            bool | None, Field(description="Cut inputs over the context (default true)")
        ] = None,
        keep_alive: KeepAlive = None,
        timeout: Timeout = None,
        host: Host = None,
    ) -> EmbedResult:
        """Embed texts with a local embedding model; vectors in structured content."""
        with tool_errors():
            return await service_of(ctx).generation.embed(
                model,
                input,
                dimensions=dimensions,
                truncate=truncate,
                keep_alive=keep_alive,
                timeout=timeout,
                host=host,
            )
