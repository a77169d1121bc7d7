"""Validate, export and import a configuration: user presets and per-model default options.

The exchange format is the config file's own: TOML with `[presets.NAME]` and `[models."NAME"]`
tables (JSON with the same shape is accepted too), so an export can be pasted into `config.toml`
as it is. An import is applied to the running server all or nothing; with `persist` it is also
written to the config file, keeping the user's comments (`config_file.py`).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError

from mcp_ollama.errors import InvalidInputError, InvalidOptionError
from mcp_ollama.generation.options import PresetBook, parse_user_preset, validate_options
from mcp_ollama.results import Result
from mcp_ollama.settings import Settings

__all__ = [
    "MAX_CONFIG_CHARS",
    "ConfigCheck",
    "ConfigFormat",
    "check_config",
    "config_tables",
    "export_data",
    "parse_config",
    "to_toml",
]

ConfigFormat = Literal["toml", "json"]
MAX_CONFIG_CHARS = 256_000
# A real configuration is a few levels deep (presets.NAME.stop[...]); far deeper input is hostile
# and would exhaust the recursion of the parsers and validators after it.
MAX_CONFIG_DEPTH = 16
TABLES = ("presets", "models")


class ConfigCheck(Result):
    """The outcome of validating a configuration."""

    valid: bool
    problems: list[str] = Field(default_factory=list, description="What to fix, one per line")
    presets: list[str] = Field(default_factory=list, description="Presets it defines")
    models: list[str] = Field(default_factory=list, description="Models it sets defaults for")
    settings: list[str] = Field(default_factory=list, description="Other settings it sets")


def parse_config(text: str, format: ConfigFormat | None = None) -> dict[str, Any]:
    """Parse configuration text: TOML, or JSON (guessed from a leading `{` when not given).

    >>> parse_config('[presets.terse]\\ntemperature = 0.2\\n')
    {'presets': {'terse': {'temperature': 0.2}}}
    >>> parse_config('{"models": {"llama3.2": {"num_ctx": 8192}}}')
    {'models': {'llama3.2': {'num_ctx': 8192}}}

    Raises:
        InvalidInputError: the text is too long or does not parse.
    """
    if len(text) > MAX_CONFIG_CHARS:
        raise InvalidInputError(
            f"the configuration is {len(text):,} characters; the limit is {MAX_CONFIG_CHARS:,}"
        )
    chosen = format or ("json" if text.lstrip().startswith("{") else "toml")
    try:
        data = json.loads(text) if chosen == "json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"the configuration is not valid {chosen.upper()}: {exc}") from exc
    except RecursionError as exc:
        raise _too_deep() from exc
    if not isinstance(data, dict):
        raise InvalidInputError("the configuration must be a table (a JSON object)")
    if _depth(data) > MAX_CONFIG_DEPTH:
        raise _too_deep()
    return data


def _too_deep() -> InvalidInputError:
    return InvalidInputError(
        f"the configuration is nested more than {MAX_CONFIG_DEPTH} levels deep; a configuration "
        'holds [presets.NAME] and [models."NAME"] tables of options'
    )


def _depth(value: Any) -> int:
    """How deeply tables and arrays nest, without recursion (the input may be hostile).

    >>> _depth({}), _depth({"a": [1, {"b": 2}]})
    (1, 3)
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def check_config(data: Mapping[str, Any], *, importing: bool = False) -> ConfigCheck:
    """Every problem in a configuration; with `importing`, only presets and models are allowed."""
    problems: list[str] = []
    presets = data.get("presets", {})
    models = data.get("models", {})
    for table, value in (("presets", presets), ("models", models)):
        if not isinstance(value, dict):
            problems.append(f"[{table}] must be a table of tables")
    if isinstance(presets, dict):
        for name, raw in presets.items():
            problems += _preset_problems(name, raw)
    if isinstance(models, dict):
        for name, raw in models.items():
            problems += _table_problems(f'models."{name}"', raw, validate_options)
    others = {k: v for k, v in data.items() if k not in TABLES}
    if importing and others:
        problems.append(
            f"only [presets] and [models] can be imported; set {', '.join(sorted(others))} in the "
            "config file instead"
        )
    elif others:
        problems += _settings_problems(others)
    return ConfigCheck(
        valid=not problems,
        problems=problems,
        presets=sorted(presets) if isinstance(presets, dict) else [],
        models=sorted(models) if isinstance(models, dict) else [],
        settings=sorted(others),
    )


def config_tables(
    data: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The presets and models tables of a configuration that can be imported.

    Raises:
        InvalidOptionError: the configuration has problems (all of them are listed).
    """
    check = check_config(data, importing=True)
    if not check.valid:
        raise InvalidOptionError("invalid configuration: " + "; ".join(check.problems))
    return dict(data.get("presets", {})), dict(data.get("models", {}))


def export_data(book: PresetBook) -> dict[str, dict[str, dict[str, Any]]]:
    """The user presets and per-model defaults of a preset book, in config-file shape."""
    presets: dict[str, dict[str, Any]] = {}
    for name, preset in book.user_presets().items():
        entry: dict[str, Any] = {}
        if preset.description:
            entry["description"] = preset.description
        if preset.timeout is not None:
            entry["timeout"] = preset.timeout
        presets[name] = entry | preset.options
    return {"presets": presets, "models": book.all_model_defaults()}


def to_toml(data: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """Config-file TOML for `{"presets": {...}, "models": {...}}`.

    >>> print(to_toml({'presets': {'terse': {'temperature': 0.2, 'stop': ['\\n']}},
    ...                'models': {'llama3.2:1b': {'num_ctx': 8192}}}), end='')
    # mcp-ollama configuration: user presets and per-model default options.
    <BLANKLINE>
    [presets.terse]
    temperature = 0.2
    stop = [
        "\\n",
    ]
    <BLANKLINE>
    [models."llama3.2:1b"]
    num_ctx = 8192

    Raises:
        InvalidInputError: a value TOML cannot hold.
    """
    import tomli_w

    tables = {table: dict(data[table]) for table in TABLES if data.get(table)}
    try:
        body = tomli_w.dumps(tables)
    except TypeError as exc:
        raise InvalidInputError(f"cannot write this configuration as TOML: {exc}") from exc
    return "# mcp-ollama configuration: user presets and per-model default options.\n\n" + body


def _table_problems(where: str, raw: Any, validate: Any) -> list[str]:
    if not isinstance(raw, dict):
        return [f"[{where}] must be a table of options"]
    try:
        validate(raw, where=where)
    except InvalidOptionError as exc:
        return [str(exc)]
    return []


def _preset_problems(name: str, raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return [f"[presets.{name}] must be a table of options"]
    try:
        parse_user_preset(name, raw)
    except (InvalidOptionError, ValidationError) as exc:
        return [str(exc).splitlines()[0]]
    return []


def _settings_problems(values: Mapping[str, Any]) -> list[str]:
    known = set(Settings.model_fields) - set(TABLES)
    unknown = sorted(set(values) - known)
    if unknown:
        return [f"unknown setting(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}"]
    try:
        Settings(**values)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
            if err["loc"] and err["loc"][0] in values
        ] or [str(exc).splitlines()[0]]
    return []
