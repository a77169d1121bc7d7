"""Ollama's human formats as the CLI prints them: ``format.HumanBytes``, ``format.HumanTime``,
RFC3339 timestamps read back, and tables laid out like tablewriter v0.0.5.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Sequence


def human_bytes(size: int) -> str:
    """Ollama's ``format.HumanBytes`` (decimal units).

    >>> [human_bytes(n) for n in (1321098329, 397821319, 274302450, 1429, 12, 2_000_000_000)]
    ['1.3 GB', '397 MB', '274 MB', '1.4 KB', '12 B', '2 GB']
    """
    units = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB"))
    threshold, unit = next(((t, u) for t, u in units if size >= t), (0.0, "B"))
    if not threshold:
        return f"{size} B"
    value = size / threshold
    if value >= 10:
        return f"{int(value)} {unit}"
    if value != int(value):
        return f"{value:.1f} {unit}"
    return f"{int(value)} {unit}"


def _human_duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600 / 24 / 365)} years"


def human_time(
    moment: dt.datetime | None, zero_value: str = "Never", *, now: float | None = None
) -> str:
    """Ollama's ``format.HumanTime``.

    >>> base = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
    >>> human_time(base - dt.timedelta(days=2, hours=3), now=base.timestamp())
    '2 days ago'
    >>> human_time(base + dt.timedelta(minutes=4, seconds=30), now=base.timestamp())
    '4 minutes from now'
    """
    if moment is None:
        return zero_value
    current = time.time() if now is None else now
    delta = current - moment.timestamp()
    if int(delta / 3600) // 24 // 365 < -20:
        return "Forever"
    if delta < 0:
        return _human_duration(-delta) + " from now"
    return _human_duration(delta) + " ago"


def parse_go_time(text: str) -> dt.datetime | None:
    """Parse RFC3339(Nano) as Go writes it (nanoseconds are truncated to microseconds)."""
    match = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})", text or ""
    )
    if match is None:
        return None
    base, fraction, zone = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    iso = f"{base}.{micro}{'+00:00' if zone == 'Z' else zone}"
    try:
        return dt.datetime.fromisoformat(iso)
    except ValueError:
        return None


def _wrap_cell(cell: str, limit: int) -> list[str]:
    if len(cell) <= limit or " " not in cell:
        return cell.split("\n") if cell else [""]
    lines: list[str] = []
    current = ""
    for word in cell.split():
        if current and len(current) + 1 + len(word) > limit:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return lines


def render_table(
    rows: Sequence[Sequence[str]],
    header: Sequence[str] | None = None,
    *,
    padding: str = "    ",
    col_width: int = 30,
) -> str:
    """tablewriter v0.0.5 as Ollama configures it (no borders, no header line, left aligned).

    >>> print(render_table([["a", "bb"]], ["NAME", "ID"]).replace(" ", "."))
    NAME....ID.
    a.......bb....
    <BLANKLINE>
    """
    ncols = max([len(header or [])] + [len(r) for r in rows])
    cells = [
        [_wrap_cell(row[i] if i < len(row) else "", col_width) for i in range(ncols)]
        for row in rows
    ]
    widths = [0] * ncols
    if header:
        for i, title in enumerate(header):
            widths[i] = max(widths[i], len(title))
    for row_cells in cells:
        for i, lines in enumerate(row_cells):
            widths[i] = max([widths[i]] + [len(line) for line in lines])
    out: list[str] = []
    if header:
        out.append(
            "".join(
                title.upper().ljust(widths[i]) + (padding if i < ncols - 1 else " ")
                for i, title in enumerate(header)
            )
        )
    for row_cells in cells:
        height = max(len(lines) for lines in row_cells) if row_cells else 1
        out.extend(
            "".join(
                (lines[k] if k < len(lines) else "").ljust(widths[i]) + padding
                for i, lines in enumerate(row_cells)
            )
            for k in range(height)
        )
    return "".join(line + "\n" for line in out)
