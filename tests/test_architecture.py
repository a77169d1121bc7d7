"""The layering rules, enforced per folder (see AGENTS.md, "Folder map"):

- nothing outside `server/` imports `mcp`; only `ollama/client.py` imports the HTTP library;
- the shared root modules import no folder (`results` may use the wire types);
- `ollama/` imports only the shared modules and itself;
- a capability (`fleet`, `generation`, `conversations`, `bench`) imports `ollama/`, the shared
  modules and itself, and another capability only through that capability's package root and
  only along the edges below, so no capability depends on another's internals;
- the front ends do not import each other: `server/` never imports `cli/`, and in `cli/` only
  `main.py`, the entry point, imports `server/` (to run `serve`);
- no file is over ~400 lines unless AGENTS.md gives the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import mcp_ollama

PACKAGE = Path(mcp_ollama.__file__).parent
ROOT = PACKAGE.parent
MODULES = sorted(PACKAGE.rglob("*.py"))
SHARED = {
    "deadline",
    "errors",
    "events",
    "hosts",
    "log",
    "progress",
    "results",
    "settings",
    "storage",
    "toolsets",
}
CAPABILITIES = {"fleet", "generation", "conversations", "bench"}
# Which capability may use which other one (through its package root only).
CAPABILITY_EDGES = {
    "fleet": set[str](),
    "conversations": set[str](),
    "generation": {"conversations", "fleet"},
    "bench": {"generation", "fleet"},
}
MAX_LINES = 400


def _folder(path: Path) -> str:
    """`ollama`, `server`, ... for a module in a folder; the module's name at the root."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> list[ast.Import | ast.ImportFrom]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def imported_roots(path: Path) -> set[str]:
    """Top-level packages a module imports (anywhere in it, lazily or not)."""
    roots: set[str] = set()
    for node in _imports(path):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def package_imports(path: Path) -> set[str]:
    """The `mcp_ollama` modules a module imports, as dotted paths without the package name
    (`from mcp_ollama import x` counts as `x`)."""
    found: set[str] = set()
    for node in _imports(path):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.module == "mcp_ollama":
            names = [f"mcp_ollama.{alias.name}" for alias in node.names]
        else:
            names = [node.module or ""]
        found |= {n.removeprefix("mcp_ollama.") for n in names if n.startswith("mcp_ollama.")}
    return found


def _ids(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


@pytest.mark.parametrize("module", MODULES, ids=_ids)
def test_only_the_server_imports_mcp_and_only_the_client_imports_http(module: Path) -> None:
    roots = imported_roots(module)
    if _folder(module) != "server":
        assert "mcp" not in roots, f"{_ids(module)} is outside server/ and must not import mcp"
    if _ids(module) != "ollama/client.py":
        assert not roots & {"httpx", "httpx2"}, f"{_ids(module)} must not import HTTP"


@pytest.mark.parametrize("module", MODULES, ids=_ids)
def test_imports_are_absolute(module: Path) -> None:
    relative = [n for n in _imports(module) if isinstance(n, ast.ImportFrom) and n.level]
    assert relative == [], "relative imports would hide a module's dependencies from this test"


@pytest.mark.parametrize("module", MODULES, ids=_ids)
def test_each_folder_imports_only_what_it_may(module: Path) -> None:
    folder = _folder(module)
    for target in package_imports(module):
        top = target.split(".")[0]
        where = f"{_ids(module)} imports mcp_ollama.{target}"
        if folder in SHARED:
            assert top in SHARED or target == "ollama.types", where
        elif folder == "ollama":
            assert top in SHARED | {"ollama", "__version__"}, where
        elif folder in CAPABILITIES:
            allowed = SHARED | {"ollama", folder}
            if top in CAPABILITY_EDGES[folder]:
                assert target == top, f"{where}: use what mcp_ollama.{top} exports"
            else:
                assert top in allowed, where
        elif folder == "server":
            assert top != "cli", where
        elif folder == "cli" and _ids(module) != "cli/main.py":
            assert top != "server", where
        elif folder == "service":
            assert top not in {"server", "cli"}, where


def test_the_capability_edges_have_no_cycle() -> None:
    def reaches(start: str, goal: str) -> bool:
        return any(n == goal or reaches(n, goal) for n in CAPABILITY_EDGES[start])

    assert not [cap for cap in CAPABILITY_EDGES if reaches(cap, cap)]


def test_every_folder_says_what_it_owns_and_must_not_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "Must not import" in doc or "Only this package" in doc, init.parent.name


def test_no_module_prints_to_stdout() -> None:
    offenders = [
        _ids(path)
        for path in MODULES
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
    ]
    assert offenders == []


def _long_file_reasons() -> dict[str, str]:
    """AGENTS.md's "Long files" list: `- \\`path\\`: reason`."""
    text = (ROOT / "AGENTS.md").read_text(encoding="utf-8")
    section = text.split("## Long files", 1)[-1].split("\n## ", 1)[0]
    return dict(re.findall(r"^- `([^`]+)`: (.+)$", section, flags=re.MULTILINE))


def test_no_file_is_over_400_lines_without_a_reason_in_agents_md() -> None:
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    reasons = _long_file_reasons()
    long = {
        str(f.relative_to(ROOT)): n
        for f in files
        if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert {path: n for path, n in long.items() if path not in reasons} == {}
    assert [path for path in reasons if path not in long] == [], "stale entries in AGENTS.md"


def test_importing_the_package_does_not_import_mcp() -> None:
    import subprocess
    import sys

    code = "import sys, mcp_ollama, mcp_ollama.service; print('mcp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "script", sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py")), ids=str
)
def test_every_benchmark_script_imports(script: str) -> None:
    # The benchmarks share helpers with the tests and run outside CI: a moved helper must fail here.
    import importlib

    assert importlib.import_module(f"benchmarks.{script}").__name__ == f"benchmarks.{script}"
