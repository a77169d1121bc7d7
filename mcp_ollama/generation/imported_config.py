"""Presets and per-model options that `import_config` added: kept in the data directory.

They live in `imported-config.toml` there (config-file TOML, readable and editable), so every
server on that data directory uses them, now and after a restart, and a file on disk is their
only copy. An import replaces each table it names whole; `[models."NAME"]` with nothing in it
removes that model's imported options (how an agent undoes `num_predict = 1`). It may never
replace a built-in preset, and the file holds at most `MAX_PRESETS` presets and `MAX_MODELS`
models: an import past either limit is refused whole. A file edited into something invalid is
ignored, with a warning, rather than breaking every call.
"""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from mcp_ollama.errors import InvalidInputError, InvalidOptionError, StorageError
from mcp_ollama.generation.options import (
    BUILTIN_PRESETS,
    Preset,
    PresetBook,
    model_key,
    parse_user_preset,
    validate_options,
)
from mcp_ollama.generation.presets_config import config_tables, to_toml
from mcp_ollama.settings import Settings
from mcp_ollama.storage import atomic_write_text, read_bytes_inside

__all__ = ["IMPORTED_FILE", "MAX_MODELS", "MAX_PRESETS", "ImportedConfig", "preset_book"]

logger = structlog.get_logger()

IMPORTED_FILE = "imported-config.toml"
MAX_PRESETS = 64
MAX_MODELS = 64

Tables = dict[str, dict[str, Any]]


def preset_book(settings: Settings) -> PresetBook:
    """The presets a server uses: built-ins, the config file's, and those imported into its
    data directory."""
    return PresetBook(settings.presets, settings.models, imported=ImportedConfig(settings.data_dir))


class ImportedConfig:
    """The imported layer of one data directory, re-read whenever the file changes."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / IMPORTED_FILE
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._presets: dict[str, Preset] = {}
        self._models: Tables = {}

    def presets(self) -> dict[str, Preset]:
        """The imported presets by name."""
        self._refresh()
        return self._presets

    def model_defaults(self) -> Tables:
        """The imported per-model options, by model key (lower case, without `:latest`)."""
        self._refresh()
        return self._models

    def add(
        self, presets: Mapping[str, Mapping[str, Any]], models: Mapping[str, Mapping[str, Any]]
    ) -> Path:
        """Import validated tables (see `config_tables`); returns the file they were kept in.

        Raises:
            InvalidInputError: a built-in preset is named, or a limit would be passed (nothing
                changes then).
            StorageError: the data directory cannot be written.
        """
        builtin = sorted(set(presets) & set(BUILTIN_PRESETS))
        if builtin:
            raise InvalidInputError(
                f"built-in preset(s) {', '.join(builtin)} cannot be replaced by an import; pick "
                "another name (the config file may redefine a built-in, an import may not)"
            )
        with self._lock:
            kept_presets, kept_models = self._read_raw()
            kept_presets.update({name: dict(table) for name, table in presets.items()})
            for name, table in models.items():
                # One entry per model, whichever spelling names it; empty: no imported options.
                for old in [k for k in kept_models if model_key(k) == model_key(name)]:
                    del kept_models[old]
                if table:
                    kept_models[name] = dict(table)
            _check_limits(kept_presets, kept_models)
            text = to_toml({"presets": kept_presets, "models": kept_models})
            atomic_write_text(self.path, text, root=self.data_dir)
            self._seen = None
        return self.path

    def _refresh(self) -> None:
        stamp = _stamp(self.path)
        if stamp == self._seen:
            return
        with self._lock:
            presets, models = self._read_raw()
            try:
                self._presets = {n: parse_user_preset(n, t) for n, t in presets.items()}
                self._models = {
                    model_key(n): validate_options(t, where=f"models.{n!r}")
                    for n, t in models.items()
                }
            except InvalidOptionError as exc:
                logger.warning(
                    "imported configuration ignored", path=str(self.path), error=str(exc)
                )
                self._presets, self._models = {}, {}
            self._seen = stamp

    def _read_raw(self) -> tuple[Tables, Tables]:
        """The file's tables as written (empty when there is no file, or it is unusable)."""
        try:
            text = read_bytes_inside(self.data_dir, self.path).decode("utf-8")
            presets, models = config_tables(tomllib.loads(text))
        except FileNotFoundError:
            return {}, {}
        except (
            StorageError,
            UnicodeDecodeError,
            tomllib.TOMLDecodeError,
            InvalidOptionError,
        ) as exc:
            logger.warning("imported configuration ignored", path=str(self.path), error=str(exc))
            return {}, {}
        usable = {n: dict(t) for n, t in presets.items() if n not in BUILTIN_PRESETS}
        return usable, {n: dict(t) for n, t in models.items()}


def _check_limits(presets: Tables, models: Tables) -> None:
    if len(presets) > MAX_PRESETS:
        raise InvalidInputError(
            f"this import would keep {len(presets)} imported presets, over the limit of "
            f"{MAX_PRESETS}; reuse names to replace imported presets. Nothing was imported."
        )
    if len(models) > MAX_MODELS:
        raise InvalidInputError(
            f"this import would keep options for {len(models)} models, over the limit of "
            f'{MAX_MODELS}; reuse names, or remove a model\'s with an empty [models."NAME"] '
            "table. Nothing was imported."
        )


def _ignored(path: Path, error: Exception) -> None:
    logger.warning("imported configuration ignored", path=str(path), error=str(error))


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What identifies one version of the file: inode, size, modification time."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)
