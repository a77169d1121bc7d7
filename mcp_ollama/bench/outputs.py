"""Saved generation outputs read back: the newest ids, and one output as Markdown.

`ReportStore.save_output` writes them (`outputs/output-<id>.json`, the record, and `.md`, the
answer); the JSON is written last and is what makes an output exist.
"""

from __future__ import annotations

from mcp_ollama.bench.reports import OUTPUT_PREFIX, ReportStore
from mcp_ollama.errors import ReportNotFoundError, StorageError
from mcp_ollama.storage import check_id, read_bytes_inside, refuse_links

__all__ = ["newest_outputs", "read_output"]


def newest_outputs(store: ReportStore, limit: int) -> list[str]:
    """The ids of the newest `limit` saved outputs, newest first (ids sort by time)."""
    if not store.outputs_dir.is_dir():
        return []
    ids = sorted((p.stem for p in store.outputs_dir.glob(f"{OUTPUT_PREFIX}-*.json")), reverse=True)
    return ids[:limit]


def read_output(store: ReportStore, output_id: str) -> str:
    """A saved output (the request's tool and model, and the answer) as Markdown.

    Raises:
        InvalidInputError: the id is not a safe name.
        ReportNotFoundError: no output has that id.
        StorageError: the file cannot be read.
    """
    check_id(output_id, kind="output id")
    record = store.outputs_dir / f"{output_id}.json"
    refuse_links(store.data_dir, record)
    if not output_id.startswith(f"{OUTPUT_PREFIX}-") or not record.is_file():
        raise ReportNotFoundError(
            f"no saved output {output_id!r}; generate_text and chat save one with save_output"
        )
    try:
        return read_bytes_inside(store.data_dir, record.with_suffix(".md")).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(
            f"cannot read {record.with_suffix('.md')}: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
