"""`ReportStore`: saved benchmarks, comparisons, generation outputs and exported configurations.

Layout of the data directory (directories are created on first write, never at start-up):

```
reports/  bench-20260301-101500-a1b2c3.json   benchmark (what the tool returned)
          bench-20260301-101500-a1b2c3.md     the same as Markdown tables
          compare-20260301-102000-d4e5f6.json comparison
          compare-20260301-102000-d4e5f6.md   Markdown, embedding the chart below
          compare-20260301-102000-d4e5f6.svg  bar chart: tokens/s and time to first token
          compare-20260301-102000-d4e5f6.html the page to look at: charts, tables, environment
outputs/  output-20260301-103000-0a1b2c.json  a saved generate_text/chat answer (+ .md)
configs/  config-20260301-104000-3c4d5e.toml  an exported configuration
logs/     the auto-started daemon's log (written by the lifecycle module)
```

Every file is written atomically, and a report's JSON is written last: the JSON is what makes a
report exist (listing and reading look for it), so a crash mid-save leaves at most an unlisted
Markdown or SVG file, never half a report. Ids from input pass `storage.check_id` and must carry a
known prefix before any path is built from them. The newest `retention` reports of each kind (and
outputs, and exported configurations) are kept; older ones are deleted after each save.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import structlog
from pydantic import BaseModel

from mcp_ollama.bench.charts import ChartRow, comparison_chart
from mcp_ollama.bench.metrics import BenchmarkResult, ComparisonResult, metric_value
from mcp_ollama.bench.report_html import report_html, report_title
from mcp_ollama.bench.report_index import (
    PREFIXES,
    ReportKind,
    ReportList,
    ReportSummary,
    orphans,
    scan,
)
from mcp_ollama.bench.report_markdown import benchmark_markdown, comparison_markdown
from mcp_ollama.errors import ReportNotFoundError, StorageError
from mcp_ollama.storage import (
    atomic_write_set,
    atomic_write_text,
    check_id,
    json_text,
    read_bytes_inside,
    refuse_links,
    sweep_temp_files,
)

__all__ = ["ReportKind", "ReportList", "ReportStore", "ReportSummary", "new_id"]

logger = structlog.get_logger()

KIND_PREFIX: dict[ReportKind, str] = {kind: prefix for prefix, kind in PREFIXES.items()}
OUTPUT_PREFIX = "output"
NOT_SAVED_HINT = (
    "The run itself finished but its report was not saved; call again with save_report=false "
    "to get the figures without saving."
)
NOT_SAVED_FOR_PERSON = (
    "The run itself finished but its report was not saved; run it again with --no-save to get "
    "the figures without saving."
)
OUTPUT_NOT_SAVED_HINT = "The answer was generated but not saved; call again without save_output."
CONFIG_PREFIX = "config"
SUFFIXES = {"json": ".json", "markdown": ".md", "chart": ".svg", "html": ".html"}
Result = TypeVar("Result", BenchmarkResult, ComparisonResult)
SWEEP_AGE = 3600.0
"""Seconds a temporary or orphan file must be left alone before the sweep at start removes it:
another server on the same data directory may be writing it."""


def new_id(prefix: str) -> str:
    """A fresh id: `<prefix>-YYYYmmdd-HHMMSS-<6 hex>` (UTC), safe as a file name.

    >>> import re; bool(re.fullmatch(r'bench-\\d{8}-\\d{6}-[0-9a-f]{6}', new_id('bench')))
    True
    """
    return f"{prefix}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class ReportStore:
    """Reports, outputs and configurations under one data directory."""

    def __init__(self, data_dir: Path, *, retention: int = 200) -> None:
        self.data_dir = Path(data_dir)
        self.retention = retention

    @property
    def reports_dir(self) -> Path:
        """Benchmarks and comparisons."""
        return self.data_dir / "reports"

    @property
    def outputs_dir(self) -> Path:
        """Saved generation outputs."""
        return self.data_dir / "outputs"

    @property
    def configs_dir(self) -> Path:
        """Exported configurations."""
        return self.data_dir / "configs"

    @property
    def logs_dir(self) -> Path:
        """Logs (the auto-started daemon's)."""
        return self.data_dir / "logs"

    # -- saving ------------------------------------------------------------------------------

    def save_benchmark(self, result: BenchmarkResult) -> BenchmarkResult:
        """Save a benchmark as JSON, Markdown and an HTML page; returns it with id and paths.

        Raises:
            StorageError: the data directory is not writable (nothing is listed then).
        """
        saved, files = self._stamp(result, ("json", "markdown", "html"))
        self._write_report(saved, files, {"markdown": benchmark_markdown(saved)})
        return saved

    def save_comparison(self, result: ComparisonResult) -> ComparisonResult:
        """Save a comparison as JSON, Markdown, an SVG chart and an HTML page; returns it with
        id and paths.

        Raises:
            StorageError: the data directory is not writable (nothing is listed then).
        """
        saved, files = self._stamp(result, ("json", "markdown", "chart", "html"))
        rows = [
            ChartRow(
                model=o.model,
                tokens_per_second=metric_value(o.summary, "tokens_per_second"),
                ttft_ms=metric_value(o.summary, "ttft_ms"),
                failed=not o.ok,
            )
            for o in saved.models
        ]
        chart = comparison_chart(rows, title=report_title(saved))
        markdown = comparison_markdown(saved, chart_file=files["chart"].name)
        self._write_report(saved, files, {"chart": chart, "markdown": markdown})
        return saved

    def _stamp(self, result: Result, kinds: tuple[str, ...]) -> tuple[Result, dict[str, Path]]:
        """The result with a fresh id and the paths of the files it will be saved as."""
        report_id = new_id(KIND_PREFIX[result.kind])
        files = {kind: self._path(report_id, SUFFIXES[kind]) for kind in kinds}
        paths = {kind: str(path) for kind, path in files.items()}
        return result.model_copy(update={"report_id": report_id, "report_files": paths}), files

    def _write_report(self, saved: Result, files: dict[str, Path], texts: dict[str, str]) -> None:
        """Write the renderings and the HTML page, then the JSON, which makes the report exist."""
        with atomic_write_set(NOT_SAVED_HINT, NOT_SAVED_FOR_PERSON, root=self.data_dir) as write:
            for kind, text in (texts | {"html": report_html(saved)}).items():
                write(files[kind], text)
            write(files["json"], json_text(saved.model_dump(mode="json")))
        self._prune_reports(saved.kind)
        logger.info("report saved", report_id=saved.report_id, kind=saved.kind)

    def save_output(
        self, tool: str, model: str, request: dict[str, Any], result: BaseModel, text: str
    ) -> str:
        """Save a generation's request and answer (JSON, plus the text as Markdown); its id.

        Raises:
            StorageError: the data directory is not writable.
        """
        output_id = new_id(OUTPUT_PREFIX)
        created_at = datetime.now(UTC).isoformat(timespec="microseconds")
        record = {
            "id": output_id,
            "tool": tool,
            "model": model,
            "created_at": created_at,
            "request": request,
            "result": result.model_dump(mode="json") | {"saved_output": output_id},
        }
        markdown = (
            f"# {tool}: {model}\n\n- Output: `{output_id}`\n- Saved: {created_at}\n\n{text}\n"
        )
        with atomic_write_set(OUTPUT_NOT_SAVED_HINT, root=self.data_dir) as write:
            write(self.outputs_dir / f"{output_id}.md", markdown)
            write(self.outputs_dir / f"{output_id}.json", json_text(record))
        self._prune_files(self.outputs_dir, OUTPUT_PREFIX)
        return output_id

    def save_config(self, text: str, *, suffix: Literal[".toml", ".json"] = ".toml") -> Path:
        """Save an exported configuration; returns its path (the stem is its id).

        Raises:
            StorageError: the data directory is not writable.
        """
        path = self.configs_dir / f"{new_id(CONFIG_PREFIX)}{suffix}"
        atomic_write_text(path, text, root=self.data_dir)
        self._prune_files(self.configs_dir, CONFIG_PREFIX, suffixes=(".toml", ".json"))
        return path

    # -- reading -----------------------------------------------------------------------------

    def list_reports(self, kind: ReportKind | None = None, limit: int | None = None) -> ReportList:
        """Saved reports, newest first, optionally of one kind and at most `limit` of them; a
        file that is not a readable report is skipped and named in `skipped`.

        Raises:
            StorageError: the reports folder cannot be listed.
        """
        found = scan(self.data_dir, self.reports_dir)
        entries = [e for e in found.reports if kind is None or e.kind == kind]
        return ReportList(
            reports=entries[:limit] if limit else entries,
            total=len(entries),
            skipped=found.skipped,
        )

    def get_json(self, report_id: str) -> dict[str, Any]:
        """A report as parsed JSON.

        Raises:
            InvalidInputError: the id is not a safe name.
            ReportNotFoundError: no report has that id.
        """
        text = self.get_json_text(report_id)
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ReportNotFoundError(f"report {report_id!r} is damaged; run a new benchmark")
        return data

    def get_json_text(self, report_id: str) -> str:
        """A report's JSON file as text.

        Raises:
            InvalidInputError: the id is not a safe name.
            ReportNotFoundError: no report has that id.
        """
        return self._read(self._existing(report_id), report_id)

    def get_markdown(self, report_id: str) -> str:
        """A report as Markdown.

        Raises:
            InvalidInputError: the id is not a safe name.
            ReportNotFoundError: no report has that id.
        """
        self._existing(report_id)
        return self._read(self._path(report_id, ".md"), report_id)

    def get_chart(self, report_id: str) -> str:
        """A comparison's SVG chart.

        Raises:
            InvalidInputError: the id is not a safe name.
            ReportNotFoundError: no report has that id, or it is a benchmark (no chart).
        """
        self._existing(report_id)
        if not report_id.startswith(KIND_PREFIX["comparison"] + "-"):
            raise ReportNotFoundError(
                f"report {report_id!r} is a benchmark and has no chart; comparisons have one"
            )
        return self._read(self._path(report_id, ".svg"), report_id)

    def get_html(self, report_id: str) -> str:
        """A report as a standalone HTML page (drawn now for reports saved before pages were).

        Raises:
            InvalidInputError: the id is not a safe name.
            ReportNotFoundError: no report has that id, or it is damaged.
        """
        path = self._existing(report_id).with_suffix(".html")
        if path.is_file():
            return self._read(path, report_id)
        data = self.get_json(report_id)
        model = ComparisonResult if data.get("kind") == "comparison" else BenchmarkResult
        try:
            return report_html(model.model_validate(data))
        except ValueError as exc:
            raise ReportNotFoundError(f"report {report_id!r} is damaged; run a new one") from exc

    def get_config(self, config_id: str) -> str:
        """An exported configuration's text, by id.

        Raises:
            InvalidInputError: the id is not a safe name.
            ReportNotFoundError: no configuration has that id.
        """
        check_id(config_id, kind="configuration id")
        for suffix in (".toml", ".json"):
            path = self.configs_dir / f"{config_id}{suffix}"
            if path.is_file():
                return self._read(path, config_id)
        raise ReportNotFoundError(
            f"no exported configuration {config_id!r}; call export_config to create one"
        )

    def report_ids(self) -> list[str]:
        """Every saved report id, newest first (for completions).

        Raises:
            StorageError: the reports folder cannot be listed.
        """
        return [entry.id for entry in scan(self.data_dir, self.reports_dir).reports]

    def sweep(self) -> None:
        """Delete what writers killed mid-save left behind (temporary files anywhere in the
        data directory, report renderings without their JSON, outputs without their record),
        once it is `SWEEP_AGE` old; run at start."""
        removed = sweep_temp_files(self.data_dir, older_than=SWEEP_AGE)
        removed += orphans(self.reports_dir, older_than=SWEEP_AGE)
        removed += [
            path
            for path in orphans(self.outputs_dir, older_than=SWEEP_AGE)
            if path.name.startswith(f"{OUTPUT_PREFIX}-")
        ]
        for path in removed:
            _unlink(path)
        if removed:
            logger.info("left-over files removed", count=len(removed), data_dir=str(self.data_dir))

    # -- internals ---------------------------------------------------------------------------

    def _path(self, report_id: str, suffix: str) -> Path:
        return self.reports_dir / f"{report_id}{suffix}"

    def _existing(self, report_id: str) -> Path:
        check_id(report_id, kind="report id")
        path = self._path(report_id, ".json")
        refuse_links(self.data_dir, path)  # its JSON is what makes a report exist
        if report_id.split("-", 1)[0] not in PREFIXES or not path.is_file():
            raise ReportNotFoundError(
                f"no report {report_id!r}; call list_reports (or read reports://list) for the "
                "saved ones"
            )
        return path

    def _read(self, path: Path, report_id: str) -> str:
        try:
            return read_bytes_inside(self.data_dir, path).decode("utf-8")
        except FileNotFoundError as exc:
            raise ReportNotFoundError(f"report {report_id!r} has no {path.suffix} file") from exc
        except UnicodeDecodeError as exc:
            raise StorageError(f"cannot read {path}: it is not UTF-8 text") from exc

    def _prune_reports(self, kind: ReportKind) -> None:
        """Keep the newest `retention` reports of a kind; a listing that fails is logged, never
        raised: the report just saved must still be returned, or the caller saves it again."""
        try:
            found = scan(self.data_dir, self.reports_dir)
        except StorageError as exc:
            logger.warning("old reports not pruned", reason=str(exc))
            return
        for old in [e for e in found.reports if e.kind == kind][self.retention :]:
            for suffix in SUFFIXES.values():
                _unlink(self._path(old.id, suffix))
            logger.info("report pruned", report_id=old.id, retention=self.retention)

    def _prune_files(
        self, directory: Path, prefix: str, *, suffixes: tuple[str, ...] = (".json",)
    ) -> None:
        """Keep the newest `retention` records (`<prefix>-<id><suffix>`), with their Markdown."""
        try:
            found = [p for p in directory.glob(f"{prefix}-*") if p.suffix in suffixes]
        except OSError as exc:
            logger.warning("old files not pruned", folder=str(directory), reason=str(exc))
            return
        records = sorted(
            found, key=lambda p: (p.stem.split("-")[1:3], _mtime(p), p.name), reverse=True
        )
        for old in records[self.retention :]:
            _unlink(old)
            _unlink(old.with_suffix(".md"))


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _unlink(path: Path) -> None:
    """Delete a file if it is there; a failure to prune must not fail the save before it."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.warning("could not delete old file", path=str(path), reason=exc.strerror)
