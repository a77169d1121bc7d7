"""Model-management tools: list, show, running, pull, create, copy, delete, unload."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Resolve
from pydantic import Field

from mcp_ollama.deadline import call_deadline
from mcp_ollama.generation import validate_options
from mcp_ollama.results import ModelInfo, ModelList, OperationResult, PullResult, RunningList
from mcp_ollama.server._common import (
    LOCAL_DESTRUCTIVE,
    LOCAL_READ,
    LOCAL_WRITE,
    REGISTRY_WRITE,
    progress_callback,
    service_of,
    tool_errors,
)
from mcp_ollama.server.confirmations import (
    Consent,
    ask_before_create,
    ask_before_delete,
    ask_before_overwrite,
    ask_before_pull,
    decision,
    refuse,
)
from mcp_ollama.server.params import Host, Model, PullHost, Timeout
from mcp_ollama.server.toolbox import ToolBox

__all__ = ["register_model_tools"]

ModelName = Annotated[str, Field(min_length=1, max_length=256, description="Model name")]
RETRY = "call it again with a larger `timeout`, or check_health to see whether Ollama is stuck"
# Ollama keeps the layers it has finished, so a pull cut short picks up where it stopped.
PULL_RETRY = "call pull_model again to continue the download (finished layers are kept)"


def register_model_tools(box: ToolBox) -> None:
    """Register the model-management tools."""

    @box.tool(annotations=LOCAL_READ)
    async def list_local_models(
        ctx: Context[Any, Any],
        force_refresh: Annotated[bool, Field(description="Skip the 30 s cache")] = False,
        timeout: Timeout = None,
    ) -> ModelList:
        """List installed models: size, parameters, context, capabilities."""
        with tool_errors(), call_deadline(timeout, "list_local_models", RETRY):
            return await service_of(ctx).models.list_models(force_refresh=force_refresh)

    @box.tool(annotations=LOCAL_READ)
    async def show_model(
        model: Model, ctx: Context[Any, Any], host: Host = None, timeout: Timeout = None
    ) -> ModelInfo:
        """One model's details: context, capabilities, parameters, license."""
        with tool_errors(), call_deadline(timeout, "show_model", RETRY):
            return await service_of(ctx).models.show_model(model, host=host)

    @box.tool(annotations=LOCAL_READ)
    async def list_running_models(
        ctx: Context[Any, Any], host: Host = None, timeout: Timeout = None
    ) -> RunningList:
        """List the models loaded in memory now, with their memory use and expiry."""
        with tool_errors(), call_deadline(timeout, "list_running_models", RETRY):
            return await service_of(ctx).models.running_models(host=host)

    @box.tool(annotations=REGISTRY_WRITE)
    async def pull_model(
        model: Model,
        ctx: Context[Any, Any],
        consent: Annotated[ElicitationResult[Consent], Resolve(ask_before_pull)],
        insecure: Annotated[bool, Field(description="Allow a plain-http registry")] = False,
        host: PullHost = None,
        timeout: Timeout = None,
    ) -> PullResult:
        """Download a model from the Ollama registry (a cut download resumes)."""
        with tool_errors(), call_deadline(timeout, f"pulling '{model}'", PULL_RETRY):
            refuse(decision(consent), f"downloading '{model}'")
            return await service_of(ctx).models.pull(
                model, host=host, insecure=insecure, on_progress=progress_callback(ctx)
            )

    @box.tool(annotations=LOCAL_WRITE)
    async def copy_model(
        source: Annotated[str, Field(min_length=1, max_length=256, description="Existing model")],
        destination: Annotated[str, Field(min_length=1, max_length=256, description="New name")],
        ctx: Context[Any, Any],
        consent: Annotated[ElicitationResult[Consent], Resolve(ask_before_overwrite)],
        host: Host = None,
        timeout: Timeout = None,
    ) -> OperationResult:
        """Copy a model under a new name (replacing one needs the user's consent)."""
        with tool_errors(), call_deadline(timeout, "copy_model", RETRY):
            step = decision(consent)
            refuse(step, f"replacing '{destination}' with a copy of '{source}'")
            return await service_of(ctx).models.copy(
                source, destination, host=host, confirmed=step == "go"
            )

    @box.tool(annotations=LOCAL_WRITE)
    async def create_model(
        name: Annotated[str, Field(min_length=1, max_length=256, description="New model's name")],
        model: Model,
        ctx: Context[Any, Any],
        consent: Annotated[ElicitationResult[Consent], Resolve(ask_before_create)],
        system: Annotated[str | None, Field(description="Its system prompt")] = None,
        parameters: Annotated[
            dict[str, Any] | None, Field(description="Its default options, e.g. temperature")
        ] = None,
        template: Annotated[str | None, Field(description="Its prompt template (Go)")] = None,
        host: Host = None,
        timeout: Timeout = None,
    ) -> OperationResult:
        """Create a model named `name` from `model` with its own system prompt, options and
        template (a Modelfile's SYSTEM, PARAMETER, TEMPLATE)."""
        with tool_errors(), call_deadline(timeout, "create_model", RETRY):
            step = decision(consent)
            refuse(step, f"replacing '{name}' with a new model made from '{model}'")
            return await service_of(ctx).models.create(
                name,
                model,
                system=system,
                template=template,
                parameters=validate_options(parameters, where="parameters") or None,
                host=host,
                confirmed=step == "go",
            )

    # The name is never filled from default_model: a deletion names what it deletes.
    @box.tool(annotations=LOCAL_DESTRUCTIVE)
    async def delete_model(
        model: ModelName,
        ctx: Context[Any, Any],
        consent: Annotated[ElicitationResult[Consent], Resolve(ask_before_delete)],
        host: Host = None,
        timeout: Timeout = None,
    ) -> OperationResult:
        """Delete an installed model (the user is asked to confirm)."""
        with tool_errors(), call_deadline(timeout, "delete_model", RETRY):
            step = decision(consent)
            refuse(step, f"deleting '{model}'")
            return await service_of(ctx).models.delete(model, host=host, confirmed=step == "go")

    @box.tool(annotations=LOCAL_WRITE)
    async def unload_model(
        model: Model, ctx: Context[Any, Any], host: Host = None, timeout: Timeout = None
    ) -> OperationResult:
        """Unload a model from memory now, freeing RAM and VRAM."""
        with tool_errors(), call_deadline(timeout, "unload_model", RETRY):
            return await service_of(ctx).models.unload(model, host=host)
