"""The check_health tool: is the daemon up, is Ollama installed, can we write our data?"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context

from mcp_ollama.fleet.health import HealthReport, check_health
from mcp_ollama.server._common import LOCAL_READ, service_of, tool_errors
from mcp_ollama.server.toolbox import ToolBox

__all__ = ["register_health_tools"]


def register_health_tools(box: ToolBox) -> None:
    """Register check_health."""

    @box.tool(name="check_health", annotations=LOCAL_READ)
    async def check_health_tool(ctx: Context[Any, Any]) -> HealthReport:
        """Check Ollama, the default model and the data directory; says what to fix."""
        service = service_of(ctx)
        with tool_errors():
            return await check_health(service.settings, service.fleet)
