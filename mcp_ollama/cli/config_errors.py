"""Configuration errors at start, worded for the person who made them.

Each problem names the setting as the user wrote it (`--ollama-host`, `OLLAMA_HOST`, `host` in
the config file), where it came from (flag, environment variable, the file with its path), the
bad value (unless it may be a secret) and what is valid, instead of pydantic's text about
`MCP_OLLAMA_HOST` when the user set `OLLAMA_HOST`.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, ValidationError
from pydantic_settings import SettingsError as SettingsSourceError

from mcp_ollama.hosts import InvalidHostError
from mcp_ollama.settings import Settings, config_file_path

__all__ = ["describe_settings_error"]

SECRET_FIELDS = frozenset({"api_key", "auth_token", "headers"})
ENV_PREFIX = "MCP_OLLAMA_"
_SOURCE_FIELD = re.compile(r'field "(\w+)" from source "(\w+)"')


def describe_settings_error(exc: Exception, flags: Mapping[str, str]) -> str:
    """One line per problem in `exc`; `flags` maps each setting given as a flag to the flag."""
    if isinstance(exc, ValidationError):
        lines = [_describe(error, flags) for error in exc.errors()]
    elif isinstance(exc, SettingsSourceError):
        lines = [_describe_unparsable(exc, flags)]
    else:
        lines = [str(exc)]
    return "\n".join(f"  {line}" for line in lines)


def _describe(error: Any, flags: Mapping[str, str]) -> str:
    key = str(error["loc"][0]) if error["loc"] else ""
    field = _field_of(key)
    if error["type"] == "extra_forbidden":
        return _unknown(key)
    written, source = _origin(field, flags)
    return f"{written} ({source}) = {_shown(field, error.get('input'))}: {_reason(error, field)}"


def _describe_unparsable(exc: SettingsSourceError, flags: Mapping[str, str]) -> str:
    match = _SOURCE_FIELD.search(str(exc))
    if match is None:
        return str(exc)
    written, source = _origin(match.group(1), flags)
    cause = exc.__cause__ or exc.__context__
    detail = f" ({cause})" if cause else ""
    return f"{written} ({source}) is not valid JSON{detail}: {_valid(match.group(1))}"


def _field_of(key: str) -> str:
    """The field a validation alias (`MCP_OLLAMA_HOST`, `OLLAMA_HOST`) belongs to."""
    for name, info in Settings.model_fields.items():
        if key == name or key in _aliases(info.validation_alias):
            return name
    return key


def _aliases(alias: object) -> list[str]:
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [alias] if isinstance(alias, str) else []


def _env_names(field: str) -> list[str]:
    info = Settings.model_fields.get(field)
    named = [a for a in _aliases(info.validation_alias) if a.isupper()] if info else []
    return named or [ENV_PREFIX + field.upper()]


def _origin(field: str, flags: Mapping[str, str]) -> tuple[str, str]:
    """How the user wrote the setting and where: the source pydantic-settings took it from."""
    if field in flags:
        return flags[field], "command-line flag"
    environ = {name.upper(): name for name in os.environ}
    for name in _env_names(field):
        if name in environ:
            return environ[name], "environment variable"
    info = Settings.model_fields.get(field)
    keys = [field, *(a for a in _aliases(info.validation_alias) if a.islower())] if info else []
    data = _file_data()
    for key in keys:
        if key in data:
            return key, f"config file {config_file_path()}"
    return field, "setting"


def _file_data() -> dict[str, Any]:
    try:
        with config_file_path().open("rb") as file:
            return tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _shown(field: str, value: object) -> str:
    if field in SECRET_FIELDS or (isinstance(value, str) and "@" in value):
        return "(value hidden)"
    return repr(value)


def _reason(error: Any, field: str) -> str:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidHostError):
        return cause.reason
    if isinstance(cause, Exception):
        return str(cause)
    message = str(error["msg"]).replace("Input should be", "must be")
    return f"{message} ({_valid(field)})"


def _valid(field: str) -> str:
    info = Settings.model_fields.get(field)
    text = info.description if info and info.description else field
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]  # keeps "MCP", "JSON"


def _unknown(key: str) -> str:
    known = sorted(set(Settings.model_fields) - {"presets", "models"})
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known settings: {', '.join(known)}"
    return f"{key} (config file {config_file_path()}): not a setting{hint}"
