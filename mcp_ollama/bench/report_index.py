"""Listing the reports folder: a summary per report, read one file at a time.

One odd file must not break the listing (nor the pruning after every save, which lists too): a
JSON file that is not valid JSON, not UTF-8, not shaped like a report, or a symbolic link, is
skipped and named in `skipped` with the reason, and left where it is. Only a folder that cannot be
listed at all is an error, which names it. `orphans` finds the renderings (Markdown, chart, page)
a writer killed before the JSON left behind.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from mcp_ollama.errors import StorageError
from mcp_ollama.results import Result
from mcp_ollama.storage import read_bytes_inside, refuse_links, storage_error

__all__ = ["PREFIXES", "ReportKind", "ReportList", "ReportScan", "ReportSummary", "orphans", "scan"]

ReportKind = Literal["benchmark", "comparison"]
PREFIXES: dict[str, ReportKind] = {"bench": "benchmark", "compare": "comparison"}
RENDERINGS = (".md", ".svg", ".html")


class ReportSummary(Result):
    """One saved report, as listed."""

    id: str
    kind: ReportKind
    created_at: str
    models: list[str]
    title: str
    uris: dict[str, str] = Field(description="Resources: json, markdown, html (and chart)")


class ReportList(Result):
    """Saved reports, newest first."""

    reports: list[ReportSummary]
    total: int = Field(description="Reports saved (the list may be cut by `limit`)")
    skipped: list[str] = Field(
        default_factory=list, description="Files in reports/ that are not readable reports, why"
    )


class _Named(Result):
    model: str


class _BenchmarkHead(Result):
    """What a listing needs of a benchmark report (the file holds much more)."""

    model: str
    host: str | None = None
    created_at: str = ""


class _ComparisonHead(Result):
    """What a listing needs of a comparison report."""

    models: list[_Named]
    created_at: str = ""


@dataclass
class ReportScan:
    """The reports found, newest first, and the files skipped with the reason for each."""

    reports: list[ReportSummary] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def scan(root: Path, folder: Path) -> ReportScan:
    """Every readable report in `folder` (inside the data directory `root`), newest first.

    Raises:
        StorageError: the folder exists but cannot be listed (or is a symbolic link).
    """
    result = ReportScan()
    refuse_links(root, folder)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return result
    except OSError as exc:
        raise storage_error(folder, exc, action="list") from exc
    for entry in entries:
        stem, suffix = os.path.splitext(entry.name)
        kind = PREFIXES.get(stem.split("-", 1)[0])
        if suffix != ".json" or kind is None or entry.name.startswith("."):
            continue
        try:
            result.reports.append(_summarize(root, Path(entry.path), kind))
        except _NotAReportError as exc:
            result.skipped.append(f"{entry.name}: {exc}")
    result.reports.sort(key=lambda s: (s.created_at, s.id), reverse=True)
    return result


def orphans(folder: Path, *, older_than: float) -> list[Path]:
    """Renderings whose report JSON does not exist, untouched for `older_than` seconds (a
    report being saved right now writes its renderings first and its JSON last)."""
    limit = time.time() - older_than
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    names = {entry.name for entry in entries}
    found = []
    for entry in entries:
        stem, suffix = os.path.splitext(entry.name)
        if suffix not in RENDERINGS or f"{stem}.json" in names:
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < limit:
                found.append(Path(entry.path))
        except OSError:
            continue
    return found


class _NotAReportError(Exception):
    """A file in the reports folder that cannot be listed; the message says why."""


def _summarize(root: Path, path: Path, kind: ReportKind) -> ReportSummary:
    try:
        data = json.loads(read_bytes_inside(root, path).decode("utf-8"))
    except StorageError as exc:
        raise _NotAReportError(str(exc)) from exc
    except FileNotFoundError as exc:  # pruned by another server since the folder was listed
        raise _NotAReportError("deleted while listing") from exc
    except UnicodeDecodeError as exc:
        raise _NotAReportError("not UTF-8 text") from exc
    except (ValueError, RecursionError) as exc:
        raise _NotAReportError(f"not valid JSON ({str(exc)[:80]})") from exc
    try:
        if kind == "benchmark":
            head = _BenchmarkHead.model_validate(data)
            models, created_at = [head.model], head.created_at
            title = f"Benchmark: {head.model}" + (f"@{head.host}" if head.host else "")
        else:
            comparison = _ComparisonHead.model_validate(data)
            models, created_at = [m.model for m in comparison.models], comparison.created_at
            title = "Model comparison: " + " vs ".join(models)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "the file"
        raise _NotAReportError(f"not a {kind} report ({where}: {error['msg']})") from exc
    uris = {
        "json": f"reports://{path.stem}",
        "markdown": f"reports://{path.stem}/markdown",
        "html": f"reports://{path.stem}/html",
    }
    if kind == "comparison":
        uris["chart"] = f"reports://{path.stem}/chart"
    return ReportSummary(
        id=path.stem, kind=kind, created_at=created_at, models=models, title=title, uris=uris
    )
