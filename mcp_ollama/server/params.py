"""The arguments tools share, each with its one short description: what an agent reads in
`tools/list` for every tool that takes it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictFloat, StrictInt, StrictStr, WithJsonSchema

__all__ = [
    "DEFAULTS_TO_CONFIGURED_MODEL",
    "SEVERAL_HOSTS_ONLY",
    "Files",
    "Format",
    "Host",
    "Hosts",
    "KeepAlive",
    "Model",
    "Options",
    "Preset",
    "PullHost",
    "SaveOutput",
    "Skills",
    "Think",
    "Timeout",
]


class _DefaultsToConfiguredModel:
    """Marks the argument a left-out model is filled into (see `toolbox.LeanTool`)."""


DEFAULTS_TO_CONFIGURED_MODEL = _DefaultsToConfiguredModel()


class _SeveralHostsOnly:
    """Marks an argument listed only when several hosts are configured (see `toolbox`): with
    one host there is nothing to choose, and nothing for an agent to pay for."""


SEVERAL_HOSTS_ONLY = _SeveralHostsOnly()
Host = Annotated[
    str | None, Field(min_length=1, max_length=64, description="Host name"), SEVERAL_HOSTS_ONLY
]
"""The host to run on; left out, routing picks one that has the model."""
PullHost = Annotated[
    str | None,
    Field(min_length=1, max_length=64, description="Host name, or 'all'"),
    SEVERAL_HOSTS_ONLY,
]
Hosts = Annotated[
    list[str] | None,
    Field(min_length=1, max_length=16, description="Host names: rank the machines"),
    SEVERAL_HOSTS_ONLY,
]
Model = Annotated[
    str,
    Field(min_length=1, max_length=256, description="e.g. 'llama3.2:1b'"),
    DEFAULTS_TO_CONFIGURED_MODEL,
]
"""The model a tool runs on; left out, it is `default_model` (or an error listing models)."""
Preset = Annotated[
    str | None,
    Field(description="fast, creative, balanced, precise, long_form or yours"),
]
Options = Annotated[
    dict[str, Any] | None,
    Field(description="Ollama options: num_predict, temperature, num_ctx, seed, ..."),
]
Format = Annotated[
    Literal["json"] | dict[str, Any] | None,
    WithJsonSchema({"type": ["string", "object"], "description": "'json' or a JSON schema"}),
]
Think = bool | Literal["low", "medium", "high", "max"] | None
# Strict types: in lax mode `true` would quietly become a keep_alive of 1 second.
KeepAlive = Annotated[
    StrictStr | StrictInt | StrictFloat | None,
    WithJsonSchema(
        {"type": ["string", "number"], "description": "Keep loaded: '5m', 0, -1=forever"}
    ),
]
# The bounds are a sanity check the server makes; the schema shows what an agent chooses.
Timeout = Annotated[
    float | None,
    Field(gt=0, le=86_400),
    WithJsonSchema({"type": "number", "description": "Seconds allowed"}),
]
Skills = Annotated[list[str] | None, Field(description="Skill names (list_skills)")]
Files = Annotated[list[str] | None, Field(description="Paths or globs read into the prompt")]
SaveOutput = Annotated[bool, Field(description="Save the answer too")]
