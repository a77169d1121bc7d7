"""The check_health tool: is the daemon up, is Ollama installed, can we write our data?"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context

from mcp_ollama.fleet.fleet_health import check_fleet_health
from mcp_ollama.fleet.health import HealthReport
from mcp_ollama.server._common import LOCAL_READ, service_of, tool_errors

__all__ = ["register_health_tools"]


def register_health_tools(mcp: MCPServer[Any]) -> None:
    """Register check_health."""

    @mcp.tool(name="check_health", annotations=LOCAL_READ)
    async def check_health_tool(ctx: Context[Any, Any]) -> HealthReport:
        """Check that Ollama answers (and its version), that the `ollama` binary is installed,
        that the default model is present and the data directory writable; lists what to fix.
        Settings are shown with secrets redacted. It never starts the daemon."""
        service = service_of(ctx)
        with tool_errors():
            return await check_fleet_health(service.settings, service.fleet)
