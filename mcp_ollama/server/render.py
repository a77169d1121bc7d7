"""Small formatting helpers for answers written for a model: numbers, sizes, one-line lists and
short Markdown tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["context", "join", "number", "rate", "table"]


def number(value: float | None, digits: int = 1) -> str:
    """A figure for a table cell: thousands separators, `digits` decimals, '-' when absent.

    >>> number(1234.567), number(None), number(12.0), number(0.25, 2), number(7139704.2, 0)
    ('1,234.6', '-', '12', '0.25', '7,139,704')
    """
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def rate(tokens_per_second: float | None) -> str:
    """Tokens per second, whole.

    >>> rate(2000.0), rate(12.34), rate(None)
    ('2,000 tok/s', '12 tok/s', '')
    """
    return "" if tokens_per_second is None else f"{tokens_per_second:,.0f} tok/s"


def context(tokens: int | None) -> str:
    """A context window as Ollama's docs write it.

    >>> context(131072), context(40960), context(2048), context(1000), context(None)
    ('128K', '40K', '2K', '1000', '')
    """
    if tokens is None:
        return ""
    return f"{tokens // 1024}K" if tokens % 1024 == 0 else str(tokens)


def join(parts: Iterable[str | None], separator: str = ", ") -> str:
    """The non-empty parts, joined."""
    return separator.join(part for part in parts if part)


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table without padding (an agent reads it as well without, and pays less).

    >>> print(table(["model", "tok/s"], [["a", "1"], ["b|c", "2"]]))
    | model | tok/s |
    |---|---|
    | a | 1 |
    | b\\|c | 2 |
    """
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
