"""The daemons as a whole: what each has installed (the model catalogue), model management
(list, show, pull, copy, delete, unload) and the health report.

Owns: per-daemon facts and the operations that change what is installed.
Must not import: `mcp`, the front ends, or another capability's modules (only `ollama/` and the
shared modules at the package root).
"""
