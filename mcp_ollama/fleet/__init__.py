"""The daemons as a whole: the fleet of hosts (`registry`: lookup, routing, failover, rejoin),
what each host has installed (the model catalogue, one per host), model management (list, show,
pull, copy, delete, unload) and the health report.

Owns: per-host facts, where a call goes, and the operations that change what is installed.
Must not import: `mcp`, the front ends, or another capability's modules (only `ollama/` and the
shared modules at the package root).
Other capabilities use what this root exports, never its modules.
"""

from mcp_ollama.fleet.failures import is_host_failure
from mcp_ollama.fleet.host import Host
from mcp_ollama.fleet.registry import Fleet

__all__ = ["Fleet", "Host", "is_host_failure"]
