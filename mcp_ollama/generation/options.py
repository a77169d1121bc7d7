"""Generation options and presets.

Precedence when options are resolved, highest first:
explicit options > preset > per-model defaults (config file) > built-in defaults (Ollama's own).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mcp_ollama.errors import InvalidInputError, InvalidOptionError, PresetNotFoundError
from mcp_ollama.ollama.names import base_name

__all__ = [
    "BUILTIN_PRESETS",
    "GenerationOptions",
    "ImportedLayer",
    "Preset",
    "PresetBook",
    "ResolvedOptions",
    "model_key",
    "parse_user_preset",
    "validate_options",
]


class GenerationOptions(BaseModel):
    """Every Ollama runtime option, with its valid range; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature")
    top_k: int | None = Field(default=None, ge=0, description="Sample from the k likeliest tokens")
    top_p: float | None = Field(default=None, ge=0, le=1, description="Nucleus sampling mass")
    min_p: float | None = Field(default=None, ge=0, le=1, description="Minimum token probability")
    typical_p: float | None = Field(
        default=None, ge=0, le=1, description="Locally typical sampling"
    )
    num_predict: int | None = Field(
        default=None, ge=-2, description="Max output tokens (-1: no cap)"
    )
    num_ctx: int | None = Field(default=None, ge=1, description="Context window in tokens")
    num_keep: int | None = Field(default=None, ge=-1, description="Prompt tokens kept on overflow")
    seed: int | None = Field(default=None, description="Random seed for reproducible output")
    stop: list[str] | None = Field(default=None, description="Stop sequences")
    repeat_penalty: float | None = Field(default=None, ge=0, description="Penalty on repeats")
    repeat_last_n: int | None = Field(default=None, ge=-1, description="Window for repeat penalty")
    presence_penalty: float | None = Field(
        default=None, ge=-2, le=2, description="Presence penalty"
    )
    frequency_penalty: float | None = Field(
        default=None, ge=-2, le=2, description="Frequency penalty"
    )
    mirostat: int | None = Field(default=None, ge=0, le=2, description="Mirostat mode 0, 1 or 2")
    mirostat_tau: float | None = Field(default=None, ge=0, description="Mirostat target entropy")
    mirostat_eta: float | None = Field(default=None, ge=0, description="Mirostat learning rate")
    penalize_newline: bool | None = Field(default=None, description="Penalise newlines")
    num_batch: int | None = Field(default=None, ge=1, description="Prompt batch size")
    num_gpu: int | None = Field(default=None, ge=-1, description="Layers offloaded to the GPU")
    main_gpu: int | None = Field(default=None, ge=0, description="GPU for small tensors")
    low_vram: bool | None = Field(default=None, description="Save VRAM at a speed cost")
    use_mmap: bool | None = Field(default=None, description="Memory-map the model file")
    use_mlock: bool | None = Field(default=None, description="Lock the model in RAM")
    num_thread: int | None = Field(default=None, ge=1, description="CPU threads")
    numa: bool | None = Field(default=None, description="NUMA support")
    vocab_only: bool | None = Field(default=None, description="Load only the vocabulary")

    def wire(self) -> dict[str, Any]:
        """The options object sent to Ollama: only what was set."""
        return self.model_dump(exclude_none=True)


VALID_OPTION_NAMES = tuple(GenerationOptions.model_fields)


def validate_options(values: Mapping[str, Any] | None, *, where: str = "options") -> dict[str, Any]:
    """Validate raw option values and return only those that were set.

    Raises:
        InvalidOptionError: an unknown key (the message lists the valid ones) or a bad value.
    """
    if not values:
        return {}
    unknown = sorted(set(values) - set(VALID_OPTION_NAMES))
    if unknown:
        raise InvalidOptionError(
            f"unknown option(s) in {where}: {', '.join(unknown)}. "
            f"Valid options: {', '.join(VALID_OPTION_NAMES)}."
        )
    try:
        return GenerationOptions.model_validate(dict(values)).wire()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidOptionError(f"invalid {where}: {problems}") from exc


class Preset(BaseModel):
    """A named set of generation options plus a time budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    options: dict[str, Any] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0, description="Seconds one call may take")
    builtin: bool = False


def _builtin(name: str, description: str, temperature: float, top_p: float, num_predict: int,
             timeout: float) -> Preset:  # fmt: skip
    options = {"temperature": temperature, "top_p": top_p, "num_predict": num_predict}
    return Preset(name=name, description=description, options=options, timeout=timeout,
                  builtin=True)  # fmt: skip


BUILTIN_PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _builtin("fast", "Short, focused answers quickly", 0.1, 0.5, 512, 60),
        _builtin("creative", "Varied, imaginative writing", 0.9, 0.95, 1024, 120),
        _builtin("balanced", "General purpose default", 0.7, 0.9, 1024, 120),
        _builtin("precise", "Careful, deterministic answers", 0.3, 0.7, 2048, 180),
        _builtin("long_form", "Long documents and explanations", 0.7, 0.9, 4096, 300),
    )
}


class ResolvedOptions(BaseModel):
    """The options to send and the time budget, after precedence was applied."""

    options: dict[str, Any]
    timeout: float | None = None
    preset: str | None = None


class ImportedLayer(Protocol):
    """Presets and per-model options imported at run time (see `imported_config`)."""

    def presets(self) -> dict[str, Preset]:
        """The imported presets by name."""

    def model_defaults(self) -> dict[str, dict[str, Any]]:
        """The imported options per model."""

    def add(
        self,
        presets: Mapping[str, Mapping[str, Any]],
        models: Mapping[str, Mapping[str, Any]],
    ) -> Path:
        """Keep these imports (an empty table removes one); returns the file they live in."""


class PresetBook:
    """Built-in and user presets plus per-model defaults, and the precedence rule.

    User presets and per-model defaults come from the config file and, on top of it, from the
    `imported` layer that `import_config` writes into the data directory.
    """

    def __init__(
        self,
        user_presets: Mapping[str, Mapping[str, Any]] | None = None,
        model_defaults: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        imported: ImportedLayer | None = None,
    ) -> None:
        self._presets = dict(BUILTIN_PRESETS)
        for name, raw in (user_presets or {}).items():
            self._presets[name] = parse_user_preset(name, raw)
        self._model_defaults = {
            model_key(name): validate_options(raw, where=f"models.{name!r}")
            for name, raw in (model_defaults or {}).items()
        }
        self.imported = imported

    def merge(
        self,
        user_presets: Mapping[str, Mapping[str, Any]] | None = None,
        model_defaults: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Add or replace config-file presets and per-model defaults (just written into the
        config file), all or nothing.

        Raises:
            InvalidOptionError: any preset or option is invalid (nothing changes then).
        """
        incoming = PresetBook(user_presets, model_defaults)
        new_presets = {n: p for n, p in incoming._presets.items() if not p.builtin}
        # Swap whole dicts so a concurrent resolve() sees either the old book or the new one.
        self._presets = {**self._presets, **new_presets}
        self._model_defaults = {**self._model_defaults, **incoming._model_defaults}

    def import_tables(
        self,
        user_presets: Mapping[str, Mapping[str, Any]],
        model_defaults: Mapping[str, Mapping[str, Any]],
    ) -> Path:
        """Import presets and per-model defaults into the imported layer, all or nothing;
        returns the file that keeps them. Imports add to configuration, never override it:
        a name the config file (or a built-in) defines is refused.

        Raises:
            InvalidInputError: a built-in or config-file name, a limit passed, or no layer.
            StorageError: the layer cannot be written.
        """
        if self.imported is None:
            raise InvalidInputError("this server keeps no imported configuration")
        configured = [n for n, p in self._presets.items() if not p.builtin and n in user_presets]
        configured += [n for n in model_defaults if model_key(n) in self._model_defaults]
        if configured:
            raise InvalidInputError(
                f"{', '.join(sorted(configured))} is set in the config file, which an import "
                "does not override; import with persist=true to change it there, or pick "
                "another name"
            )
        return self.imported.add(user_presets, model_defaults)

    def user_presets(self) -> dict[str, Preset]:
        """The presets that came from configuration (a user preset may replace a built-in)."""
        return {name: p for name, p in self.presets.items() if not p.builtin}

    def all_model_defaults(self) -> dict[str, dict[str, Any]]:
        """Per-model default options by model name (without `:latest`): the config file's,
        with the imported ones over them."""
        merged = {name: dict(options) for name, options in self._model_defaults.items()}
        if self.imported is not None:
            for name, options in self.imported.model_defaults().items():
                merged[name] = {**merged.get(name, {}), **options}
        return merged

    @property
    def presets(self) -> dict[str, Preset]:
        """Every preset by name, built-ins first (imported ones over the config file's)."""
        if self.imported is None:
            return dict(self._presets)
        return {**self._presets, **self.imported.presets()}

    def get(self, name: str) -> Preset:
        """One preset by name.

        Raises:
            PresetNotFoundError: no preset has that name (the message lists them).
        """
        presets = self.presets
        try:
            return presets[name]
        except KeyError:
            raise PresetNotFoundError(
                f"no preset named {name!r}; available presets: {', '.join(presets)}"
            ) from None

    def model_defaults(self, model: str) -> dict[str, Any]:
        """Per-model default options from configuration (`name` or `name:tag`)."""
        key = model_key(model)
        base = base_name(key)
        defaults = self.all_model_defaults()
        return {**defaults.get(base, {}), **defaults.get(key, {})}

    def resolve(
        self,
        model: str,
        *,
        preset: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> ResolvedOptions:
        """Merge options: explicit > preset > per-model defaults > built-in defaults."""
        explicit = validate_options(options)
        chosen = self.get(preset) if preset else None
        merged = {**self.model_defaults(model), **(chosen.options if chosen else {}), **explicit}
        return ResolvedOptions(
            options=merged, timeout=chosen.timeout if chosen else None, preset=preset
        )


def model_key(name: str) -> str:
    """How per-model defaults are keyed: lower case, without `:latest`.

    >>> model_key('Llama3.2:latest'), model_key('qwen3:8b')
    ('llama3.2', 'qwen3:8b')
    """
    key = name.strip().lower()
    return key.removesuffix(":latest")


def parse_user_preset(name: str, raw: Mapping[str, Any]) -> Preset:
    """A preset from its config table: options inline or under `options`, plus `description`
    and `timeout`.

    Raises:
        InvalidOptionError: an unknown or out-of-range option, or a bad timeout.
    """
    values = dict(raw)
    description = str(values.pop("description", ""))
    timeout = values.pop("timeout", None)
    nested = values.pop("options", {})
    if not isinstance(nested, Mapping):
        raise InvalidOptionError(f"invalid preset {name!r}: `options` must be a table")
    options = dict(nested) | values
    try:
        return Preset(
            name=name,
            description=description,
            options=validate_options(options, where=f"preset {name!r}"),
            timeout=timeout,
        )
    except ValidationError as exc:
        raise InvalidOptionError(f"invalid preset {name!r}: {exc.errors()[0]['msg']}") from exc
