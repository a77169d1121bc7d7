"""The `mcp-ollama` command: `serve` (the default) runs the MCP server."""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

import anyio
import structlog
from pydantic import ValidationError
from pydantic_settings import SettingsError as SettingsSourceError

from mcp_ollama import __version__
from mcp_ollama.errors import SettingsError
from mcp_ollama.log import configure_logging
from mcp_ollama.settings import CLEAR_TEXT_SECRETS, Settings

__all__ = ["main"]

logger = structlog.get_logger()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-ollama",
        description="An MCP server for local Ollama models. With no command, serves over stdio.",
    )
    parser.add_argument("--version", action="version", version=f"mcp-ollama {__version__}")
    _add_global_flags(parser)
    _add_serve_flags(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the MCP server (default)")
    _add_serve_flags(serve, after_command=True)
    for register in _command_registrars():
        register(commands)
    # Global flags work on either side of the command: `mcp-ollama doctor --ollama-host X`.
    for command in commands.choices.values():
        _add_global_flags(command, after_command=True)
    return parser


def _command_registrars() -> list[Any]:
    """Each extra command lives in its own module of this folder, with `register(subparsers)`, which
    sets `handler(args, settings) -> int` as the parser default."""
    from mcp_ollama.cli import bench, doctor

    return [doctor.register, bench.register]


def _adder(parser: argparse.ArgumentParser, after_command: bool) -> Any:
    # After the command, an absent flag must not overwrite the same flag given before it.
    default = argparse.SUPPRESS if after_command else None
    return functools.partial(parser.add_argument, default=default)


def _add_global_flags(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    add = _adder(parser, after_command)
    add("--ollama-host", dest="host", help="where Ollama listens (any OLLAMA_HOST form)")
    add("--data-dir", help="where reports, cache and logs are kept")
    add("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="stderr log level")
    add("-v", "--verbose", action="count",
        help="log more to stderr: -v for INFO, -vv for DEBUG (doctor, bench and compare log "
        "only warnings by default)")  # fmt: skip
    add("--tools", help="tools to list: names and groups (core, models, generation, bench, "
        "sessions, config, all), comma-separated; -name removes (default core)")  # fmt: skip
    add("--no-auto-start", dest="auto_start", action="store_const", const=False,
        help="never start `ollama serve`")  # fmt: skip


def _add_serve_flags(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    add = _adder(parser, after_command)
    add("--transport", choices=["stdio", "sse", "http"], help="MCP transport (default stdio)")
    add("--host", dest="http_host", help="address HTTP transports bind (default 127.0.0.1)")
    add("--port", dest="http_port", type=int, help="port HTTP transports bind (default 8000)")
    add("--allowed-hosts", help="comma-separated Host headers HTTP transports accept")
    add("--allowed-origins", help="comma-separated Origin headers HTTP transports accept")
    add("--allow-destructive", action="store_const", const=True,
        help="enable delete_model and copying over existing models")  # fmt: skip
    add("--allow-insecure-bind", action="store_const", const=True,
        help="bind a non-loopback address without a token or allowed-hosts list")  # fmt: skip


SETTING_FLAGS = {
    "transport": "--transport",
    "http_host": "--host",
    "http_port": "--port",
    "host": "--ollama-host",
    "data_dir": "--data-dir",
    "allowed_hosts": "--allowed-hosts",
    "allowed_origins": "--allowed-origins",
    "log_level": "--log-level",
    "auto_start": "--no-auto-start",
    "allow_destructive": "--allow-destructive",
    "allow_insecure_bind": "--allow-insecure-bind",
    "tools": "--tools",
}


def _given_flags(args: argparse.Namespace) -> dict[str, Any]:
    """Only the flags the user gave, so the environment and config file fill the rest."""
    return {
        name: getattr(args, name) for name in SETTING_FLAGS if getattr(args, name, None) is not None
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    given = _given_flags(args)
    try:
        settings = Settings(**given)
    # A source error is a value that does not parse at all (MCP_OLLAMA_HEADERS that is not
    # JSON); ours, a config file that is missing or not TOML.
    except (ValidationError, SettingsSourceError, SettingsError) as exc:
        from mcp_ollama.cli.config_errors import describe_settings_error

        flags = {name: SETTING_FLAGS[name] for name in given}
        problems = describe_settings_error(exc, flags)
        sys.stderr.write(f"mcp-ollama: invalid configuration:\n{problems}\n")
        return 2
    handler = getattr(args, "handler", None)
    level = _log_level(args, settings, for_person=handler is not None)
    if handler is None:
        configure_logging(level, json=settings.log_json)
        return _serve(settings)
    from mcp_ollama.cli.terminal import terminal

    # A person reads the output: logs share stderr with the progress bar, never its line.
    configure_logging(level, json=settings.log_json, stream=terminal())
    exit_code: int = handler(args, settings)
    return exit_code


def _log_level(args: argparse.Namespace, settings: Settings, *, for_person: bool) -> str:
    """`--log-level`, else `-v` (INFO) or `-vv` (DEBUG), else the server's configured level;
    a command a person runs logs only warnings unless asked, so logs do not bury its output."""
    verbose = getattr(args, "verbose", None) or 0
    if getattr(args, "log_level", None) is not None:
        return settings.log_level
    if verbose:
        return "DEBUG" if verbose > 1 else "INFO"
    return "WARNING" if for_person else settings.log_level


def _serve(settings: Settings) -> int:
    if sys.platform != "win32":
        # Until the event loop takes SIGTERM over in `serve()`, it means a plain exit: nothing
        # has been opened that needs closing yet.
        signal.signal(signal.SIGTERM, _exit_before_serving)
    # Start-up creates tens of thousands of objects that live as long as the server (the SDK's
    # and our pydantic models, the tools) and next to no garbage: collecting while it runs only
    # costs time (~10% of it, and start-up is measured). Collection resumes before serving,
    # with those objects frozen out of every later pass.
    gc.disable()
    try:
        from mcp_ollama.server import build_server
        from mcp_ollama.server.http_security import check_bind
        from mcp_ollama.server.transports import serve

        try:
            check_bind(settings)
        except SettingsError as exc:
            sys.stderr.write(f"mcp-ollama: {exc}\n")
            return 2
        mcp = build_server(settings)
        gc.freeze()
    finally:
        gc.enable()
    hosts = ", ".join(host.base_url for host in settings.host_configs())
    logger.info("starting", transport=settings.transport, ollama=hosts)
    if settings.sends_secrets_in_clear:
        logger.warning(CLEAR_TEXT_SECRETS)
    if settings.transport == "stdio" and _stdin_is_terminal():
        # A person started the command an MCP client launches: without this it looks hung.
        logger.warning(
            "waiting for an MCP client on stdin: this is the server an MCP client starts. "
            "Press Ctrl+C to stop, and run `mcp-ollama doctor` to check the setup"
        )
    stopped_by: int | None = None
    with contextlib.suppress(KeyboardInterrupt):
        stopped_by = anyio.run(serve, mcp, settings)
    logger.info("stopped", signal=signal.Signals(stopped_by).name if stopped_by else None)
    return 0


def _exit_before_serving(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # a closed stdin
        return False
