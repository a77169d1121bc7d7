"""The layering rules, enforced: the core never imports `mcp`; only the client imports HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mcp_ollama

PACKAGE = Path(mcp_ollama.__file__).parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))
HTTP_ALLOWED = {"client.py"}


def _mcp_allowed(path: Path) -> bool:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] == "server" or relative.name == "cli.py"


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_modules_never_import_mcp_and_only_the_client_imports_http(module: Path) -> None:
    roots = imported_roots(module)
    if not _mcp_allowed(module):
        assert "mcp" not in roots, f"{module.name} is core and must not import mcp"
    if module.name not in HTTP_ALLOWED:
        assert not roots & {"httpx", "httpx2"}, f"{module.name} must not import the HTTP library"


def test_no_module_prints_to_stdout() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in MODULES
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
    ]
    assert offenders == []


def test_importing_the_package_does_not_import_mcp() -> None:
    import subprocess
    import sys

    code = "import sys, mcp_ollama, mcp_ollama.service; print('mcp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
