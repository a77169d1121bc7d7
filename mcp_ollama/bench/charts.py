"""A dependency-free SVG chart for comparison reports.

Two horizontal bar panels, one row per model: generation tokens/s (higher is better) and time to
first token (lower is better). The file is standalone SVG 1.1 with its namespace, inline
presentation attributes and no scripts, external fonts or CSS, so it renders the same in a browser,
in an `<img>` tag and on GitHub (which shows SVG files through a sanitising image proxy).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

__all__ = ["ChartRow", "comparison_chart", "title_lines"]

LABEL_WIDTH = 200
BAR_AREA = 220
PANEL_GAP = 40
VALUE_WIDTH = 70  # room for the value printed after the longest bar
ROW_HEIGHT = 26
BAR_HEIGHT = 16
TOP = 64
TITLE_SIZE = 15
TITLE_LINES = 3
LABEL_SIZE = 12
# Generous average glyph widths of Helvetica/Arial, in em (bold titles, regular labels): text
# measured by them fits, whatever the font actually drawn.
TITLE_EM = 0.62
LABEL_EM = 0.55
FONT = 'font-family="Helvetica, Arial, sans-serif"'
COLOURS = ("#2f6fb0", "#d9822b")


@dataclass(frozen=True)
class ChartRow:
    """One model's values; None draws no bar (the model failed or reported nothing)."""

    model: str
    tokens_per_second: float | None
    ttft_ms: float | None
    failed: bool = False


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _fits(size: int, em: float, width: float) -> int:
    """How many characters of text at `size` px (`em` wide each) fit in `width` px."""
    return max(1, int(width / (size * em)))


def title_lines(title: str, width: float) -> list[str]:
    """The title wrapped to the canvas, at most `TITLE_LINES` lines (the last one cut with an
    ellipsis): long model names never run off the chart.

    >>> title_lines('Model comparison: a vs b', 800)
    ['Model comparison: a vs b']
    >>> lines = title_lines('x' * 50 + ' vs ' + 'y' * 50, 200)
    >>> len(lines), all(len(line) * TITLE_SIZE * TITLE_EM <= 200 for line in lines)
    (3, True)
    """
    per_line = _fits(TITLE_SIZE, TITLE_EM, width)
    lines = textwrap.wrap(title, per_line, break_on_hyphens=False) or [""]
    if len(lines) > TITLE_LINES:
        lines = [*lines[: TITLE_LINES - 1], lines[TITLE_LINES - 1][: per_line - 1] + "\u2026"]
    return lines


def _panel(
    rows: Sequence[ChartRow],
    x0: int,
    top: int,
    title: str,
    values: list[float | None],
    colour: str,
) -> list[str]:
    known = [v for v in values if v is not None]
    scale = BAR_AREA / max(known) if known and max(known) > 0 else 0.0
    parts = [
        f'<text x="{x0}" y="{top - 14}" font-size="13" font-weight="bold" {FONT}>'
        f"{escape(title)}</text>"
    ]
    for index, (row, value) in enumerate(zip(rows, values, strict=True)):
        y = top + index * ROW_HEIGHT
        if value is None:
            parts.append(
                f'<text x="{x0}" y="{y + 12}" font-size="11" fill="#888" {FONT}>'
                f"{'failed' if row.failed else 'n/a'}</text>"
            )
            continue
        width = max(1.0, value * scale)
        parts.append(
            f'<rect x="{x0}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" fill="{colour}">'
            f"<title>{escape(row.model)}: {value:,.1f}</title></rect>"
        )
        parts.append(
            f'<text x="{x0 + width + 4:.1f}" y="{y + 12}" font-size="11" {FONT}>{value:,.1f}</text>'
        )
    return parts


def comparison_chart(rows: Sequence[ChartRow], *, title: str = "Model comparison") -> str:
    """An SVG bar chart of generation tokens/s and time to first token, one row per model.

    >>> svg = comparison_chart([ChartRow('a<b', 50.0, 120.0), ChartRow('c', None, None, True)])
    >>> svg.startswith('<?xml') and 'xmlns="http://www.w3.org/2000/svg"' in svg
    True
    >>> 'a&lt;b' in svg and 'a<b' not in svg
    True
    """
    left = 16 + LABEL_WIDTH
    right = left + BAR_AREA + VALUE_WIDTH + PANEL_GAP
    width = right + BAR_AREA + VALUE_WIDTH + 24
    heading = title_lines(title, width - 32)
    top = TOP + (len(heading) - 1) * (TITLE_SIZE + 4)
    height = top + max(1, len(rows)) * ROW_HEIGHT + 36
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_attr(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    parts += [
        f'<text x="16" y="{22 + n * (TITLE_SIZE + 4)}" font-size="{TITLE_SIZE}" '
        f'font-weight="bold" {FONT}>{escape(line)}</text>'
        for n, line in enumerate(heading)
    ]
    label_chars = _fits(LABEL_SIZE, LABEL_EM, LABEL_WIDTH - 8)
    for index, row in enumerate(rows):
        y = top + index * ROW_HEIGHT + 12
        label = row.model
        if len(label) > label_chars:
            label = label[: label_chars - 1] + "\u2026"
        parts.append(
            f'<text x="{left - 8}" y="{y}" font-size="{LABEL_SIZE}" text-anchor="end" {FONT}>'
            f"{escape(label)}</text>"
        )
    parts += _panel(
        rows,
        left,
        top,
        "Generation tokens/s (higher is better)",
        [r.tokens_per_second for r in rows],
        COLOURS[0],
    )
    parts += _panel(
        rows,
        right,
        top,
        "Time to first token, ms (lower is better)",
        [r.ttft_ms for r in rows],
        COLOURS[1],
    )
    parts.append(
        f'<text x="16" y="{height - 12}" font-size="10" fill="#666" {FONT}>'
        "Medians over the measured runs, from Ollama's eval counters; "
        "time to first token measured client-side.</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
