"""Writing imported presets and per-model options into the user's config file.

`import_config(persist=true)` adds or replaces `[presets.NAME]` and `[models."NAME"]` tables and
keeps everything else as the user wrote it: comments, order, blank lines, other settings
(tomlkit edits the document in place). The file is replaced atomically, through a symbolic link
to where it really lives (dotfile managers link it), keeping its permissions.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcp_ollama.errors import InvalidInputError, StorageError
from mcp_ollama.storage import atomic_write_text

__all__ = ["persist_tables"]

NEW_FILE_HEADER = 'mcp-ollama configuration: settings, [presets.NAME] and [models."NAME"] tables'


def persist_tables(
    path: Path,
    presets: Mapping[str, Mapping[str, Any]],
    models: Mapping[str, Mapping[str, Any]],
) -> Path:
    """Add or replace the given tables in the config file at `path` (created if missing);
    returns the file written.

    Raises:
        InvalidInputError: the file is not valid TOML, or `presets`/`models` in it are not
            tables (it is left as it was).
        StorageError: the file cannot be read or written.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    target = path.resolve()
    try:
        text = target.read_text(encoding="utf-8")
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        text, mode = "", None
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"cannot read the config file {target}: {exc}") from exc
    try:
        document = tomlkit.parse(text)
        if not text:
            document.add(tomlkit.comment(NEW_FILE_HEADER))
        for name, entries in (("presets", presets), ("models", models)):
            if entries:
                _set_tables(document, name, entries, target)
    except TOMLKitError as exc:
        raise InvalidInputError(
            f"the config file {target} is not valid TOML ({exc}); fix it first, nothing was written"
        ) from exc
    atomic_write_text(target, tomlkit.dumps(document).rstrip("\n") + "\n")
    if mode is not None:
        with contextlib.suppress(OSError):
            os.chmod(target, mode)
    return target


def _set_tables(
    document: Any, name: str, entries: Mapping[str, Mapping[str, Any]], path: Path
) -> None:
    import tomlkit
    from tomlkit.items import Table

    section = document.get(name)
    if section is None:
        section = tomlkit.table(is_super_table=True)
        document[name] = section
    elif not isinstance(section, Table):
        raise InvalidInputError(
            f"`{name}` in the config file {path} is not a table; fix it first, nothing was written"
        )
    tables = [item for item in section.values() if isinstance(item, Table)]
    # The comments and blank lines that close the section (tomlkit keeps them in its last
    # table) introduce what follows it: they stay after every table, old or new.
    closing = _take_closing(tables[-1]) if tables else []
    last = tables[-1] if tables else None
    for key, values in entries.items():
        existing = section.get(key)
        if isinstance(existing, Table):
            own = _take_closing(existing)
            for option in [option for option in existing if option not in values]:
                del existing[option]
            for option, value in values.items():
                existing[option] = value
            for item in own:
                existing.add(item)
            continue
        if last is not None:
            last.add(tomlkit.nl())
        table = tomlkit.table()
        for option, value in values.items():
            table[option] = value
        section[key] = table
        last = table
    if last is not None:
        for item in closing or [tomlkit.nl()]:
            last.add(item)


def _take_closing(table: Any) -> list[Any]:
    """Remove and return the comments and blank lines after a table's last option."""
    body = table.value.body  # (key or None, item) pairs, in file order
    closing: list[Any] = []
    while body and body[-1][0] is None:
        closing.insert(0, body.pop()[1])
    return closing
