"""Argument parsing, the cobra/pflag subset the fake needs: the usage text, each command's
flags (boolean, valued, or optional-valued like ``--think``), aliases and arity checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.fake_cli.client import CliError

USAGE = """Large language model runner

Usage:
  ollama [flags]
  ollama [command]

Available Commands:
  serve       Start ollama
  create      Create a model
  show        Show information for a model
  run         Run a model
  stop        Stop a running model
  pull        Pull a model from a registry
  push        Push a model to a registry
  signin      Sign in to ollama.com
  signout     Sign out from ollama.com
  list        List models
  ps          List running models
  cp          Copy a model
  rm          Remove a model
  help        Help about any command

Flags:
  -h, --help      help for ollama
  -v, --version   Show version information

Use "ollama [command] --help" for more information about a command.
"""

_BOOL = "bool"
_VALUE = "value"
_OPTIONAL = "optional"  # NoOptDefVal flags such as --think

_COMMAND_FLAGS: dict[str, dict[str, str]] = {
    "serve": {},
    "run": {
        "format": _VALUE,
        "keepalive": _VALUE,
        "think": _OPTIONAL,
        "hidethinking": _BOOL,
        "nowordwrap": _BOOL,
        "verbose": _BOOL,
        "insecure": _BOOL,
        "truncate": _BOOL,
        "dimensions": _VALUE,
    },
    "list": {},
    "ps": {},
    "show": {
        "license": _BOOL,
        "modelfile": _BOOL,
        "parameters": _BOOL,
        "system": _BOOL,
        "template": _BOOL,
        "verbose": _BOOL,
    },
    "pull": {"insecure": _BOOL},
    "rm": {},
    "cp": {},
    "stop": {},
}
_ALIASES = {"ls": "list", "start": "serve"}
_SHORT = {"v": "verbose"}
_NOT_IMPLEMENTED = {"create", "push", "signin", "signout"}


def _parse_flags(command: str, args: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    spec = _COMMAND_FLAGS[command]
    positional: list[str] = []
    flags: dict[str, Any] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            positional.extend(args[index:])
            break
        if arg.startswith("--") or (arg.startswith("-") and len(arg) > 1 and arg != "-"):
            long_form = arg.startswith("--")
            body = arg[2:] if long_form else arg[1:]
            name, has_value, value = body.partition("=")
            if not long_form:
                if name in ("h",):
                    flags["help"] = True
                    continue
                if name not in _SHORT or _SHORT[name] not in spec:
                    raise CliError(f"unknown shorthand flag: '{name[:1]}' in -{body}")
                name = _SHORT[name]
            if name == "help":
                flags["help"] = True
                continue
            kind = spec.get(name)
            if kind is None:
                raise CliError(f"unknown flag: --{name}")
            if kind == _BOOL:
                if has_value:
                    if value.lower() not in ("true", "false", "1", "0", "t", "f"):
                        raise CliError(
                            f'invalid argument "{value}" for "--{name}" flag: '
                            f'strconv.ParseBool: parsing "{value}": invalid syntax'
                        )
                    flags[name] = value.lower() in ("true", "1", "t")
                else:
                    flags[name] = True
            elif kind == _OPTIONAL:
                flags[name] = value if has_value else "true"
            else:
                if not has_value:
                    if index >= len(args):
                        raise CliError(f"flag needs an argument: --{name}")
                    value = args[index]
                    index += 1
                flags[name] = value
        else:
            positional.append(arg)
    return positional, flags


def _require_args(
    args: Sequence[str], *, exact: int | None = None, minimum: int | None = None
) -> None:
    if exact is not None and len(args) != exact:
        raise CliError(f"accepts {exact} arg(s), received {len(args)}")
    if minimum is not None and len(args) < minimum:
        raise CliError(f"requires at least {minimum} arg(s), only received {len(args)}")
