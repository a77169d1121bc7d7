"""Reading what the `ollama` CLI prints: escape codes, `ollama list`, `ollama show` and the bars
`ollama pull` draws.

Owns the text parsing of the CLI's output (no subprocesses): `strip_ansi`, `terminal_lines`,
`parse_size`, `parse_list`, `parse_show` and `PullTracker`; running the CLI lives in
`ollama.cli_fallback`.
"""

from __future__ import annotations

import re

from mcp_ollama.ollama.names import canonical_name
from mcp_ollama.progress import ProgressCallback, ProgressThrottle
from mcp_ollama.results import LocalModel, ModelInfo

__all__ = [
    "PullTracker",
    "parse_list",
    "parse_show",
    "parse_size",
    "strip_ansi",
    "terminal_lines",
]

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST) and two-character escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_SIZE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGTP]?B)$")
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}
_LIST_ROW = re.compile(
    r"^(?P<name>\S+)\s+(?P<id>\S+)\s+(?P<size>-|\d+(?:\.\d+)?\s+[KMGTP]?B)\s+(?P<modified>.*?)\s*$"
)
_PULL_LAYER = re.compile(
    r"pulling (?P<digest>[0-9a-f]{6,64}):\s*(?P<percent>\d{1,3})%"
    r"(?:.*?(?P<done>\d+(?:\.\d+)?\s*[KMGTP]?B)(?:\s*/\s*(?P<total>\d+(?:\.\d+)?\s*[KMGTP]?B))?)?"
)
_PULL_PHASES = ("pulling manifest", "verifying sha256 digest", "writing manifest", "success")


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences.

    >>> strip_ansi('\\x1b[?25l\\x1b[1GHello\\x1b[K world\\x1b[?25h')
    'Hello world'
    """
    return _ANSI.sub("", text)


def terminal_lines(text: str) -> list[str]:
    """What a terminal would have shown, one entry per redraw: escape codes, carriage returns
    and the spinner become line breaks, and blank lines are dropped.

    >>> terminal_lines('\\x1b[1G⠋ \\x1b[K\\x1b[1G⠙ \\x1b[K\\x1b[1GError: model "x" not found\\n')
    ['Error: model "x" not found']
    """
    lines = re.split(r"[\r\n]+", _ANSI.sub("\n", text))
    cleaned = (line.strip().strip(_SPINNER).strip() for line in lines)
    return [line for line in cleaned if line]


def parse_size(text: str) -> int:
    """Bytes from a size as `ollama list` prints it (decimal units; `-` for cloud stubs).

    >>> parse_size('4.7 GB'), parse_size('397 MB'), parse_size('999 B'), parse_size('-')
    (4700000000, 397000000, 999, 0)
    """
    match = _SIZE.match(text.strip())
    if match is None:
        return 0
    return round(float(match["number"]) * _UNITS[match["unit"]])


def parse_list(output: str) -> list[LocalModel]:
    """Parse `ollama list`: columns are padded with spaces, and SIZE and MODIFIED contain spaces.

    >>> rows = parse_list(
    ...     'NAME                       ID              SIZE      MODIFIED    \\n'
    ...     'llama3.2:1b                baf6a787fdff    1.3 GB    2 days ago     \\n'
    ...     'nomic-embed-text:latest    0a109f422b47    274 MB    3 weeks ago    \\n')
    >>> [(m.name, m.digest, m.size_bytes, m.modified_at) for m in rows][0]
    ('llama3.2:1b', 'baf6a787fdff', 1300000000, '2 days ago')
    >>> rows[1].modified_at
    '3 weeks ago'
    """
    models: list[LocalModel] = []
    for line in strip_ansi(output).splitlines():
        if not line.strip() or line.split()[0] == "NAME":
            continue
        match = _LIST_ROW.match(line.strip())
        if match is None:
            continue  # a wrapped continuation of a long cell
        models.append(
            LocalModel(
                name=match["name"],
                digest=match["id"],
                size_bytes=parse_size(match["size"]),
                modified_at=match["modified"],
            )
        )
    return models


def parse_show(output: str, model: str) -> ModelInfo:
    """Parse the default output of `ollama show MODEL` into what `ModelInfo` can hold.

    >>> info = parse_show(
    ...     '  Model\\n    architecture        llama     \\n    parameters          1.2B      \\n'
    ...     '    context length      131072    \\n    embedding length    2048      \\n'
    ...     '    quantization        Q8_0      \\n\\n  Capabilities\\n    completion    \\n'
    ...     '    tools         \\n\\n  Parameters\\n    stop    "<|eot_id|>"    \\n\\n'
    ...     '  License\\n    LLAMA 3.2 COMMUNITY LICENSE AGREEMENT    \\n    ...    \\n\\n',
    ...     'llama3.2:1b')
    >>> info.family, info.parameter_size, info.context_length, info.quantization
    ('llama', '1.2B', 131072, 'Q8_0')
    >>> info.capabilities, info.parameters, info.license
    (['completion', 'tools'], 'stop "<|eot_id|>"', 'LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\\n...')
    """
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in strip_ansi(output).splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent <= 2:
            current = sections.setdefault(line.strip().lower(), [])
        elif current is not None:
            current.append(line.strip())
    facts: dict[str, str] = {}
    for row in sections.get("model", []):
        key, *value = re.split(r"\s{2,}", row, maxsplit=1)
        facts[key.lower()] = value[0] if value else ""
    parameters = [
        " ".join(re.split(r"\s{2,}", row, maxsplit=1)) for row in sections.get("parameters", [])
    ]
    return ModelInfo(
        name=model if ":" in model.rsplit("/", 1)[-1] else canonical_name(model),
        family=facts.get("architecture") or None,
        parameter_size=facts.get("parameters") or None,
        quantization=facts.get("quantization") or None,
        context_length=_int_or_none(facts.get("context length")),
        embedding_length=_int_or_none(facts.get("embedding length")),
        capabilities=sections.get("capabilities", []),
        parameters="\n".join(parameters),
        system="\n".join(sections.get("system", [])),
        license="\n".join(sections.get("license", [])),
        served_by="cli",
    )


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


class PullTracker:
    """Turns the bars `ollama pull` draws into growing progress and byte counts."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._throttle = ProgressThrottle(callback)
        self._percent: dict[str, int] = {}
        self._totals: dict[str, int] = {}
        self._phase = 0

    @property
    def total_bytes(self) -> int:
        """Bytes of every layer seen so far."""
        return sum(self._totals.values())

    async def line(self, line: str) -> None:
        """Read one line of `ollama pull` output, reporting the progress it shows."""
        match = _PULL_LAYER.search(line)
        status = line
        if match is not None:
            digest = match["digest"]
            percent = min(int(match["percent"]), 100)
            self._percent[digest] = max(self._percent.get(digest, 0), percent)
            total = match["total"] or (match["done"] if percent == 100 else None)
            if total:
                self._totals[digest] = parse_size(total)
            status = f"pulling {digest}"
        elif line in _PULL_PHASES:
            self._phase = max(self._phase, _PULL_PHASES.index(line))
        else:
            return
        progress = sum(self._percent.values()) + 100 * self._phase + 1
        await self._throttle.update(progress, None, status, force=line == "success")
