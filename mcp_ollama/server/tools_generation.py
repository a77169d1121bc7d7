"""Tools that run a model: generate_text, chat, embed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field, StrictFloat, StrictInt, StrictStr

from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.results import ChatResult, EmbedResult, GenerationResult
from mcp_ollama.server._common import (
    GENERATES,
    LOCAL_READ,
    progress_callback,
    service_of,
    tool_errors,
)

__all__ = ["register_generation_tools"]

Model = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        description="Installed model name, e.g. 'llama3.2:1b' (see list_local_models)",
    ),
]
Preset = Annotated[
    str | None,
    Field(description="Named preset: fast, creative, balanced, precise, long_form or a user one"),
]
Options = Annotated[
    dict[str, Any] | None,
    Field(
        description="Ollama options (temperature, top_p, num_predict, num_ctx, seed, stop, ...); "
        "they override the preset"
    ),
]
Format = Annotated[
    Literal["json"] | dict[str, Any] | None,
    Field(description="'json', or a JSON schema the answer must follow"),
]
Think = Annotated[
    bool | Literal["low", "medium", "high", "max"] | None,
    Field(description="Thinking models: true/false or a level; reasoning returns in `thinking`"),
]
# Strict types: in lax mode `true` would quietly become a keep_alive of 1 second.
KeepAlive = Annotated[
    StrictStr | StrictInt | StrictFloat | None,
    Field(
        description="How long the model stays loaded after the call: '5m', '1h', 0, -1 (forever)"
    ),
]
Timeout = Annotated[
    float | None,
    Field(
        gt=0, le=86_400, description="Seconds this call may take (default: the preset's, or none)"
    ),
]
Skills = Annotated[
    list[str] | None,
    Field(
        description="Named Markdown skills (see list_skills / skills:// resources) put before the "
        "system prompt, joined by '\\n\\n---\\n\\n'"
    ),
]


SaveOutput = Annotated[
    bool,
    Field(description="Also save the answer in the data directory (outputs/); its id is returned"),
]


def register_generation_tools(mcp: MCPServer[Any]) -> None:
    """Register generate_text, chat and embed."""

    @mcp.tool(annotations=GENERATES)
    async def generate_text(
        model: Model,
        prompt: Annotated[str, Field(description="The prompt")],
        ctx: Context[Any, Any],
        system: Annotated[str | None, Field(description="System prompt")] = None,
        skills: Skills = None,
        preset: Preset = None,
        options: Options = None,
        format: Format = None,
        think: Think = None,
        images: Annotated[
            list[str] | None, Field(description="Base64-encoded images, for vision models")
        ] = None,
        suffix: Annotated[str | None, Field(description="Text after the insertion point")] = None,
        raw: Annotated[bool | None, Field(description="Send the prompt without a template")] = None,
        keep_alive: KeepAlive = None,
        timeout: Timeout = None,
        save_output: SaveOutput = False,
    ) -> GenerationResult:
        """Generate text with a local Ollama model. Send a progress token to stream progress."""
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
                on_progress=progress_callback(ctx),
            )
            if save_output:
                request = {"prompt": prompt, "system": system, "preset": preset, "options": options}
                result = await service.save_output("generate_text", result, request)
            return result

    @mcp.tool(annotations=GENERATES)
    async def chat(
        model: Model,
        messages: Annotated[
            list[ChatMessage],
            Field(description="The conversation: [{role: system|user|assistant|tool, content}]"),
        ],
        ctx: Context[Any, Any],
        system: Annotated[str | None, Field(description="System prompt, put first")] = None,
        session_id: Annotated[
            str | None,
            Field(
                max_length=128,
                description="Continue a stored conversation: the server keeps its history, so "
                "send only the new message. 'new' starts one under a generated id (returned as "
                "session_id); any other unused id starts one under that id.",
            ),
        ] = None,
        skills: Skills = None,
        tools: Annotated[
            list[dict[str, Any]] | None,
            Field(description="Function tools the model may call (OpenAI/Ollama schema)"),
        ] = None,
        preset: Preset = None,
        options: Options = None,
        format: Format = None,
        think: Think = None,
        keep_alive: KeepAlive = None,
        timeout: Timeout = None,
        save_output: SaveOutput = False,
    ) -> ChatResult:
        """Chat with a local Ollama model; returns the assistant message and usage. With
        session_id the server stores the conversation and keeps it within the context window."""
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
                on_progress=progress_callback(ctx),
            )
            if save_output:
                request = {
                    # Images are left out: base64 blobs would dwarf the saved answer.
                    "messages": [
                        m.model_dump(exclude_none=True, exclude={"images"}) for m in messages
                    ],
                    "system": system,
                    "session_id": session_id,
                    "preset": preset,
                    "options": options,
                }
                result = await service.save_output("chat", result, request)
            return result

    @mcp.tool(annotations=LOCAL_READ)
    async def embed(
        model: Model,
        input: Annotated[
            str | list[str], Field(description="One text, or a list of texts to embed")
        ],
        ctx: Context[Any, Any],
        dimensions: Annotated[
            int | None, Field(ge=1, description="Cut vectors to this many dimensions")
        ] = None,
        truncate: Annotated[
            bool | None, Field(description="Truncate inputs longer than the context (default true)")
        ] = None,
        keep_alive: KeepAlive = None,
        timeout: Timeout = None,
    ) -> EmbedResult:
        """Embed texts with a local model; vectors are L2-normalised."""
        with tool_errors():
            return await service_of(ctx).generation.embed(
                model,
                input,
                dimensions=dimensions,
                truncate=truncate,
                keep_alive=keep_alive,
                timeout=timeout,
            )
