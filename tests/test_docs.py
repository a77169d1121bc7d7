"""The documentation stays usable: a README short enough to read to the end, links that lead
somewhere, and reference pages that name only settings and tools the code has."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mcp_ollama.settings import CONFIG_VARIABLE, Settings
from mcp_ollama.toolsets import GROUPS, TOOLS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, ROOT / "SECURITY.md", ROOT / "AGENTS.md", ROOT / "examples" / "README.md"]
PAGES += sorted((ROOT / "docs").glob("*.md"))
README_BUDGET = 12_288

_FENCE = re.compile(r"^(`{3,}).*?^\1\s*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The text without code blocks and code spans, where a `[x](y)` is not a link."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _anchors(page: Path) -> set[str]:
    """The heading anchors GitHub gives a Markdown page (`## A b` -> `a-b`; repeats get -1...)."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_the_readme_fits_in_twelve_kilobytes() -> None:
    size = len(README.read_bytes())
    assert size <= README_BUDGET, f"README.md is {size} bytes; move detail to docs/"


def test_every_relative_link_points_at_a_file_that_exists_and_a_heading_in_it() -> None:
    broken = []
    for page in PAGES:
        for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_docs_name_only_environment_variables_the_settings_read() -> None:
    fields = set(Settings.model_fields)
    for page in PAGES:
        for variable in set(re.findall(r"MCP_OLLAMA_[A-Z_]+", page.read_text(encoding="utf-8"))):
            name = variable.removeprefix("MCP_OLLAMA_").lower()
            assert variable == CONFIG_VARIABLE or name in fields, f"{page.name}: {variable}"


def test_the_configuration_reference_documents_every_setting() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    tables_only = {"presets", "models"}  # config-file tables, documented in their own sections
    missing = [
        name
        for name in set(Settings.model_fields) - tables_only
        if not re.search(rf"^\| (\S+ / )*{name}( / \S+)* \|", reference, re.M)
    ]
    assert not missing, missing


def test_the_readme_tool_groups_are_the_servers_groups_and_the_reference_lists_every_tool() -> None:
    rows = re.findall(r"^\| `(\w+)`(?: \(default\))? \| (.*) \|$", README.read_text("utf-8"), re.M)
    groups = {group: set(re.findall(r"`(\w+)`", tools)) for group, tools in rows}
    assert groups.pop("all") == set()  # "every tool"
    assert groups == {group: set(tools) for group, tools in GROUPS.items() if group != "all"}
    reference = (ROOT / "docs" / "tools.md").read_text(encoding="utf-8")
    every_tool = reference.split("\n## Every tool\n", 1)[1].split("\n## ", 1)[0]
    first_cells = re.findall(r"^\| ([^|]+) \|", every_tool, re.M)
    assert {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)} == set(TOOLS)


def test_the_readme_client_configurations_are_the_example_files() -> None:
    blocks = re.findall(r"^```json\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    configs = [json.loads(block) for block in blocks]
    for name in ("claude_desktop_config.json", "vscode_mcp.json"):
        example = json.loads((ROOT / "examples" / name).read_text(encoding="utf-8"))
        assert example in configs, name
    claude_code = re.compile(r"^claude mcp add ollama -e OLLAMA_HOST=\S+ -- \S+$", re.M)
    in_readme = claude_code.findall(README.read_text(encoding="utf-8"))
    assert in_readme
    assert in_readme == claude_code.findall((ROOT / "examples" / "README.md").read_text("utf-8"))
