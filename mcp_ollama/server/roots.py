"""The client's roots, for the tools that read files by path (`files`).

A call with `files` from a client that declares the roots capability asks it for its roots
before the tool body runs (a `Resolve(...)` parameter): the SDK sends `roots/list` mid-call on
the handshake era and returns the question as input required on 2026-07-28, in both cases
answered by the client's roots callback. Which directories may then be read is the core's
decision (`generation.files.attach`): this module only turns the answer into paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from mcp.server.mcpserver import Context, ListRoots, Resolve
from mcp.types import ListRootsResult

__all__ = ["ClientRoots", "ask_for_roots", "root_paths"]


async def ask_for_roots(
    files: list[str] | None, ctx: Context[Any, Any]
) -> ListRootsResult | ListRoots | None:
    """Ask for the client's roots when the call reads files and the client has roots."""
    capabilities = ctx.client_capabilities
    if not files or capabilities is None or capabilities.roots is None:
        return None
    return ListRoots()


ClientRoots = Annotated[ListRootsResult | None, Resolve(ask_for_roots)]
"""A tool parameter filled with the client's roots (None when not asked: no files, or a client
without roots)."""


def root_paths(roots: ListRootsResult | None) -> list[Path] | None:
    """The local directories among the client's roots (`file://` URIs on this machine)."""
    if roots is None:
        return None
    paths = []
    for root in roots.roots:
        uri = urlparse(str(root.uri))
        if uri.scheme == "file" and uri.netloc in ("", "localhost"):
            paths.append(Path(url2pathname(uri.path)))
    return paths
