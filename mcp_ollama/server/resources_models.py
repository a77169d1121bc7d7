"""The installed models as resources: `ollama://models` (what list_local_models returns) and
`ollama://models/{+name}` (one model's details, as show_model returns them), both JSON."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from mcp_ollama.errors import InvalidInputError, MCPOllamaError, ModelNotFoundError
from mcp_ollama.server._common import service_of
from mcp_ollama.server.clients import Clients
from mcp_ollama.server.completions import complete_model_names, completion_registry

__all__ = ["MODELS", "MODEL_TEMPLATE", "register_model_resources"]

MODELS = "ollama://models"

# `{+name}` (reserved expansion) so namespaced names such as `hf.co/user/repo:Q4_K_M` match
# without percent-encoding their slashes; the name is validated before it reaches the daemon.
MODEL_TEMPLATE = "ollama://models/{+name}"


def register_model_resources(mcp: MCPServer[Any], clients: Clients) -> None:
    """Register the model list, the model-details template and its name completion."""

    @mcp.resource(
        MODELS,
        name="models",
        title="Installed models",
        mime_type="application/json",
        description="The installed models (as list_local_models returns them), as JSON",
    )
    async def model_list() -> str:
        """list_local_models, as JSON."""
        # A static resource gets no request context: the open server state serves it.
        state = clients.state
        if state is None:
            raise ResourceError("the server is not running")
        try:
            models = await state.service.models.list_models()
        except MCPOllamaError as exc:
            raise ResourceError(str(exc)) from exc
        return models.model_dump_json(exclude_none=True)

    @mcp.resource(
        MODEL_TEMPLATE,
        name="model",
        title="Model details",
        mime_type="application/json",
        description="One installed model's details (as show_model returns them), as JSON",
    )
    async def model_details(name: str, ctx: Context) -> str:
        """show_model for `name`, as JSON."""
        try:
            info = await service_of(ctx).models.show_model(name)
        except (ModelNotFoundError, InvalidInputError) as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except MCPOllamaError as exc:
            raise ResourceError(str(exc)) from exc
        return info.model_dump_json(exclude_none=True)

    completion_registry(mcp).add("resource", "name", complete_model_names, ref=MODEL_TEMPLATE)
