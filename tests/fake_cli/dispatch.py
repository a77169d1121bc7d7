"""From argv to a command: ``serve`` (the fake daemon in-process, or a scripted failure), the
invocation log, command dispatch, and `main`, the entry point of the fake executable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from tests.fake_cli.client import CliError
from tests.fake_cli.commands import (
    _client,
    _cmd_cp,
    _cmd_list,
    _cmd_ps,
    _cmd_pull,
    _cmd_rm,
    _cmd_show,
    _cmd_stop,
    _cmd_version,
)
from tests.fake_cli.flags import _ALIASES, _COMMAND_FLAGS, _NOT_IMPLEMENTED, USAGE, _parse_flags
from tests.fake_cli.goparse import parse_ollama_host
from tests.fake_cli.run import _cmd_run


def _cmd_serve() -> int:
    mode = os.environ.get("FAKE_OLLAMA_MODE", "")
    host, port = parse_ollama_host(os.environ.get("OLLAMA_HOST"), listen=True)
    if mode == "fail_serve":
        print("Error: mkdir /root/.ollama/models: permission denied", file=sys.stderr, flush=True)
        return 1
    if mode == "never_ready":
        stop = threading.Event()

        def on_signal(_signum: int, _frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        stamp = (
            dt.datetime.now().astimezone().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
        print(
            f'time={stamp} level=INFO source=routes.go:1 msg="server config" '
            f'env="map[OLLAMA_HOST:{host}:{port}]"',
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
        return 0
    from tests.fake_ollama import main as serve_main

    argv = ["--host", host, "--port", str(port)]
    if os.environ.get("FAKE_OLLAMA_TOKENS_PER_SECOND"):
        argv += ["--tokens-per-second", os.environ["FAKE_OLLAMA_TOKENS_PER_SECOND"]]
    if os.environ.get("FAKE_OLLAMA_TTFT"):
        argv += ["--ttft", os.environ["FAKE_OLLAMA_TTFT"]]
    if os.environ.get("FAKE_OLLAMA_SERVE_LOG"):
        argv += ["--log-file", os.environ["FAKE_OLLAMA_SERVE_LOG"]]
    return serve_main(argv)


def _log_invocation(argv: Sequence[str]) -> None:
    path = os.environ.get("FAKE_OLLAMA_CLI_LOG")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(list(argv)) + "\n")


def _dispatch(argv: Sequence[str]) -> int:
    if not argv or argv[0] in ("help", "-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    first = argv[0]
    if first in ("-v", "--version"):
        return _cmd_version()
    if first.startswith("-"):
        raise CliError(
            f"unknown flag: {first}"
            if first.startswith("--")
            else (f"unknown shorthand flag: '{first[1:2]}' in {first}")
        )
    command = _ALIASES.get(first, first)
    if command in _NOT_IMPLEMENTED:
        raise CliError(f'fake ollama: command "{command}" is not implemented')
    if command not in _COMMAND_FLAGS:
        raise CliError(f'unknown command "{first}" for "ollama"\nRun \'ollama --help\' for usage.')
    args, flags = _parse_flags(command, argv[1:])
    if flags.get("help"):
        sys.stdout.write(USAGE)
        return 0
    if command == "serve":
        return _cmd_serve()
    client = _client()
    client.heartbeat()
    handlers: dict[str, Callable[[], int]] = {
        "list": lambda: _cmd_list(client, args),
        "ps": lambda: _cmd_ps(client, args),
        "show": lambda: _cmd_show(client, args, flags),
        "pull": lambda: _cmd_pull(client, args, flags),
        "run": lambda: _cmd_run(client, args, flags),
        "rm": lambda: _cmd_rm(client, args),
        "cp": lambda: _cmd_cp(client, args),
        "stop": lambda: _cmd_stop(client, args),
    }
    return handlers[command]()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the fake ``ollama`` executable."""
    args = list(sys.argv[1:] if argv is None else argv)
    _log_invocation(args)
    try:
        return _dispatch(args)
    except CliError as exc:
        sys.stdout.flush()
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 1
