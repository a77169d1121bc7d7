"""Configuration: one typed `Settings` object.

Precedence, highest first: command-line flag > environment variable > config file (TOML) > default.
The CLI passes only the flags the user gave as init arguments, which pydantic-settings ranks above
the environment. The config file is `$MCP_OLLAMA_CONFIG`, else `config.toml` in the user config
directory. It holds the same keys as the environment (without the prefix) plus `[presets.NAME]`
and `[models."NAME"]` tables of generation options, and `[hosts.NAME]` tables of a fleet.

Parsing OLLAMA_HOST, and telling whether an address is this machine, lives in `mcp_ollama.hosts`.
"""

from __future__ import annotations

import os
import tomllib
from functools import cached_property
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from mcp_ollama.errors import SettingsError
from mcp_ollama.hosts import (
    HostConfig,
    check_hosts,
    default_host_name,
    is_loopback_url,
    is_secret_header,
    parse_host,
    parse_hosts,
)
from mcp_ollama.toolsets import DEFAULT, describe_choices, enabled_tools, unknown_names

__all__ = [
    "CLEAR_TEXT_SECRETS",
    "CONFIG_VARIABLE",
    "Settings",
    "config_file_path",
    "default_config_file",
    "is_secret_header",
]

APP_NAME = "mcp-ollama"
CONFIG_VARIABLE = "MCP_OLLAMA_CONFIG"
DEFAULT_HTTP_PORT = 8000
REDACTED = "***"

CLEAR_TEXT_SECRETS = (
    "credentials (OLLAMA_API_KEY or an auth header) go to a remote Ollama over plain http, "
    "readable on the network: use an https:// OLLAMA_HOST"
)


def config_file_path() -> Path:
    """The TOML config file: `$MCP_OLLAMA_CONFIG`, else `config.toml` in the user config dir."""
    explicit = os.environ.get(CONFIG_VARIABLE)
    if explicit:
        return Path(explicit).expanduser()
    return default_config_file()


def default_config_file() -> Path:
    """`config.toml` in the user config directory (read when it exists)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


class _ConfigFileSource(TomlConfigSettingsSource):
    """The TOML source, with errors that name the file: one named explicitly must exist, and
    one that does not parse is an error, not a silent default."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        path = config_file_path()
        if os.environ.get(CONFIG_VARIABLE) and not path.is_file():
            raise SettingsError(
                f"{CONFIG_VARIABLE} names {path}, which does not exist: create it, fix the "
                f"path, or unset {CONFIG_VARIABLE} to read {default_config_file()} if it exists"
            )
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        try:
            return super()._read_file(file_path)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"the config file {file_path} is not valid TOML: {exc}") from exc
        except OSError as exc:
            raise SettingsError(
                f"the config file {file_path} cannot be read: {exc.strerror or exc}"
            ) from exc


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def _split_list(value: Any) -> Any:
    """Accept a comma-separated string from the environment as well as a list."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            import json

            return json.loads(stripped)
        return [item.strip() for item in stripped.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]

# Secrets and version-control internals are never read into a prompt, whatever the roots.
DEFAULT_FILE_DENY = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".git/",
)


class Settings(BaseSettings):
    """Every setting of mcp-ollama; environment variables are `MCP_OLLAMA_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="MCP_OLLAMA_",
        frozen=True,
        populate_by_name=True,
        extra="forbid",
        validate_default=True,
        # A rejected value may be a secret (a token, a URL with a password): errors name the
        # setting and the rule, never the value.
        hide_input_in_errors=True,
    )

    # The daemon
    host: str = Field(
        default="",
        validation_alias=AliasChoices("MCP_OLLAMA_HOST", "OLLAMA_HOST", "OLLAMA_BASE_URL", "host"),
        description="Where Ollama listens, in any OLLAMA_HOST form",
    )
    api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("MCP_OLLAMA_API_KEY", "OLLAMA_API_KEY", "api_key"),
        description="Bearer token sent to a remote Ollama behind auth",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers for the daemon (JSON object)"
    )
    hosts: Annotated[dict[str, HostConfig], NoDecode] = Field(
        default_factory=dict,
        description="Several daemons: `name=url,...` or [hosts.NAME] tables (url, headers, "
        "api_key, weight); when set, OLLAMA_HOST is not used",
    )
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to connect")
    request_timeout: float = Field(
        default=300.0, gt=0, description="Seconds for a whole non-streaming request"
    )
    stall_timeout: float = Field(
        default=180.0, gt=0, description="Seconds a stream may send nothing before it is abandoned"
    )
    max_retries: int = Field(default=3, ge=0, le=10, description="Retries for idempotent reads")
    retry_backoff: float = Field(default=0.25, ge=0, description="First retry delay, seconds")
    # Ollama queues what it cannot run yet (OLLAMA_MAX_QUEUE, 512): a lower cap here would only
    # add a second queue, and an agent fanning out 32 calls would wait twice as long.
    max_concurrent_requests: int = Field(
        default=64, ge=1, le=1024, description="Calls in flight to the daemon at once"
    )

    # The daemon's lifecycle
    auto_start: bool = Field(default=True, description="Start `ollama serve` when it is down")
    ollama_bin: str = Field(default="ollama", description="The `ollama` executable")
    startup_timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for start")
    stop_daemon_on_exit: bool = Field(
        default=False, description="Stop a daemon we started when the server exits"
    )
    cli_fallback: bool = Field(default=True, description="Fall back to the `ollama` CLI")
    cli_timeout: float = Field(default=300.0, gt=0, description="Seconds for one CLI fallback")
    auto_pull: bool = Field(default=False, description="Pull a missing model before generating")
    pull_allowlist: CommaList = Field(
        default_factory=list, description="Glob patterns of models pull_model may fetch"
    )
    allow_destructive: bool = Field(
        default=False, description="Enable delete_model and copying over an existing model"
    )
    confirm_pull_bytes: int = Field(
        default=10_000_000_000,
        ge=0,
        description="Ask the user (when the client can) before a pull downloads more bytes",
    )
    default_model: str | None = Field(
        default=None, description="Model a tool uses when its `model` argument is left out"
    )
    cache_ttl: float = Field(default=30.0, ge=0, description="Seconds the model list is cached")

    # Storage
    data_dir: Path = Field(default_factory=_default_data_dir, description="Reports, cache, logs")
    report_retention: int = Field(default=200, ge=1, description="Reports kept of each kind")
    # Input limits: a call over one is refused before anything reaches the daemon, with an
    # error that names the setting. The HTTP body limit (max_body_bytes) applies before these.
    max_prompt_chars: int = Field(
        default=1_000_000,
        ge=1,
        description="Characters of prompt, system prompt and messages accepted in one call",
    )
    max_messages: int = Field(default=1_000, ge=1, description="Chat messages accepted in one call")
    max_images: int = Field(default=16, ge=0, description="Images accepted in one call")
    max_image_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="Largest image accepted (decoded bytes)"
    )

    # Files read into a prompt by path (`files`): only inside the client's roots or these
    # directories, never a name `file_deny` matches.
    file_roots: CommaList = Field(
        default_factory=list,
        description="Directories `files` may be read from when the client declares no roots",
    )
    file_deny: CommaList = Field(
        default_factory=lambda: list(DEFAULT_FILE_DENY),
        description="Names never read (globs; 'dir/' denies what is inside such a directory)",
    )
    max_files: int = Field(default=100, ge=1, le=10_000, description="Files read in one call")
    max_file_bytes: int = Field(
        default=1_000_000, ge=1, description="Largest text file read (images: max_image_bytes)"
    )
    max_files_bytes: int = Field(
        default=32_000_000, ge=1, description="Bytes of all the files read in one call"
    )

    # Conversations
    context_threshold: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Fraction of the context window that triggers compaction",
    )
    context_policy: Literal["summarize", "drop"] = Field(
        default="summarize", description="How a session is shrunk near the context limit"
    )
    summary_model: str | None = Field(
        default=None, description="Model that summarises old turns (default: the chat model)"
    )
    skills_dir: Path | None = Field(
        default=None, description="Markdown skills (default data/skills)"
    )

    # The MCP surface
    tools: CommaList = Field(
        default_factory=lambda: list(DEFAULT),
        description="Tools to list: tool and group names (core, models, generation, bench, "
        "sessions, config, all); '-name' removes",
    )

    # Transports
    transport: Literal["stdio", "sse", "http"] = Field(default="stdio", description="MCP transport")
    http_host: str = Field(default="127.0.0.1", description="Address HTTP transports bind")
    http_port: int = Field(default=DEFAULT_HTTP_PORT, ge=0, le=65535, description="HTTP port")
    allowed_hosts: CommaList = Field(
        default_factory=list, description="Host headers accepted by HTTP transports"
    )
    allowed_origins: CommaList = Field(
        default_factory=list, description="Origin headers accepted by HTTP transports"
    )
    auth_token: SecretStr | None = Field(
        default=None, description="Bearer token HTTP clients must send"
    )
    allow_insecure_bind: bool = Field(
        default=False, description="Bind a non-loopback address without a token"
    )
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="HTTP body limit")
    max_http_sessions: int = Field(
        default=128,
        ge=1,
        description="HTTP sessions (streamable HTTP or SSE) kept at once; a new one closes the "
        "one idle longest",
    )

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level (logs go to stderr)"
    )
    log_json: bool | None = Field(default=None, description="JSON logs (default: unless a TTY)")

    # From the config file only
    presets: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="User presets: name -> options"
    )
    models: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-model default options"
    )

    @field_validator("host")
    @classmethod
    def _host_parses(cls, value: str) -> str:
        parse_host(value)
        return value

    @field_validator("hosts", mode="before")
    @classmethod
    def _hosts_parse(cls, value: Any) -> Any:
        return parse_hosts(value)

    @field_validator("hosts")
    @classmethod
    def _hosts_named(cls, value: dict[str, HostConfig]) -> dict[str, HostConfig]:
        return check_hosts(value)

    @field_validator("auth_token")
    @classmethod
    def _token_usable(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty token would match an empty `Authorization: Bearer` header: no protection at
        # all while the bind check believes the server is guarded.
        token = value.get_secret_value() if value is not None else None
        if token is not None and (
            not token or any(c.isspace() or not c.isprintable() for c in token)
        ):
            raise ValueError(
                "auth_token must be non-empty, without spaces or control characters; generate "
                "one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`, or "
                "unset MCP_OLLAMA_AUTH_TOKEN"
            )
        return value

    @field_validator(
        "pull_allowlist",
        "allowed_hosts",
        "allowed_origins",
        "tools",
        "file_roots",
        "file_deny",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("file_roots")
    @classmethod
    def _absolute_roots(cls, value: list[str]) -> list[str]:
        roots = [str(Path(root).expanduser()) for root in value]
        relative = [root for root in roots if not Path(root).is_absolute()]
        if relative:
            raise ValueError(
                f"file_roots must be absolute directories, not {', '.join(map(repr, relative))}"
            )
        return roots

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f"tools is empty: name tools or groups ({describe_choices()})")
        unknown = unknown_names(value)
        if unknown:
            raise ValueError(
                f"unknown tool or group {', '.join(map(repr, unknown))} in tools; valid names: "
                f"{describe_choices()}"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init) > environment > TOML config file > defaults; no .env files."""
        return (init_settings, env_settings, _ConfigFileSource(settings_cls))

    @property
    def config_file(self) -> Path | None:
        """The config file these settings read, or None when there is none."""
        path = config_file_path()
        return path if path.is_file() else None

    @cached_property
    def base_url(self) -> str:
        """The daemon's base URL, normalised from `host`."""
        return parse_host(self.host)

    @cached_property
    def is_local(self) -> bool:
        """Whether the daemon is on this machine (auto-start and CLI fallback apply)."""
        return is_loopback_url(self.base_url)

    def host_configs(self) -> tuple[HostConfig, ...]:
        """The daemons to use: the `hosts` tables (each inheriting `headers` and `api_key` it
        does not set itself), else the one `OLLAMA_HOST` names."""
        if not self.hosts:
            single = HostConfig(url=self.base_url, headers=self.headers, api_key=self.api_key)
            return (single.model_copy(update={"name": default_host_name(self.base_url)}),)
        return tuple(
            host.model_copy(
                update={
                    "headers": {**self.headers, **host.headers},
                    "api_key": host.api_key or self.api_key,
                }
            )
            for host in self.hosts.values()
        )

    def request_headers(self) -> dict[str, str]:
        """Headers sent with every request to the first daemon, secrets included."""
        return self.host_configs()[0].request_headers()

    @property
    def sends_secrets_in_clear(self) -> bool:
        """Whether credentials go to a daemon on another machine over plain http."""
        return any(host.sends_secrets_in_clear for host in self.host_configs())

    def redacted(self) -> dict[str, Any]:
        """The effective settings as JSON-ready data, with every secret replaced by `***`."""
        data = self.model_dump(mode="json")
        if not self.hosts:  # with hosts, OLLAMA_HOST is not used
            data["base_url"] = self.base_url
        for key in ("api_key", "auth_token"):
            if data.get(key) is not None:
                data[key] = REDACTED
        data["headers"] = {
            name: REDACTED if is_secret_header(name) else value
            for name, value in self.headers.items()
        }
        data["hosts"] = {name: host.redacted() for name, host in self.hosts.items()}
        return data

    @property
    def enabled_tools(self) -> tuple[str, ...]:
        """The tool names the server lists, resolved from `tools` (see `mcp_ollama.toolsets`)."""
        return enabled_tools(self.tools)

    @property
    def reports_dir(self) -> Path:
        """Where benchmark and comparison reports are saved."""
        return self.data_dir / "reports"

    @property
    def logs_dir(self) -> Path:
        """Where the auto-started daemon's log goes."""
        return self.data_dir / "logs"

    @property
    def effective_skills_dir(self) -> Path:
        """The skills directory, defaulting to `skills/` in the data directory."""
        return self.skills_dir or self.data_dir / "skills"
