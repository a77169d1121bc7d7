"""A fake ``ollama`` executable for lifecycle tests.

`install_fake_ollama_cli` writes ``bin_dir/ollama``, a script run by this virtualenv's Python that
calls `main`. Like the real CLI it is only an HTTP client of the daemon at ``OLLAMA_HOST`` (plus
``serve``, which starts `tests.fake_ollama` in-process). Output formats follow
``/work/shared/ollama-api.md`` §3.

Environment knobs:

* ``FAKE_OLLAMA_CLI_LOG=<path>``: append each invocation's ``argv[1:]`` as a JSON array line.
* ``FAKE_OLLAMA_MODE=fail_serve``: ``serve`` exits 1 at once with an ``Error: ...`` line.
* ``FAKE_OLLAMA_MODE=never_ready``: ``serve`` logs but never listens (until SIGTERM/SIGINT).
* ``FAKE_OLLAMA_SERVE_LOG=<path>``: ``serve`` also appends its log lines to this file.
* ``FAKE_OLLAMA_TOKENS_PER_SECOND`` / ``FAKE_OLLAMA_TTFT``: generation speed of ``serve``.

Only the standard library is imported here (``serve`` imports `tests.fake_ollama` lazily), so
each CLI call stays fast.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import platform
import re
import signal
import stat
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = [
    "CLIENT_VERSION",
    "GoDurationError",
    "go_duration_string",
    "human_bytes",
    "human_time",
    "install_fake_ollama_cli",
    "main",
    "ollama_base_url",
    "parse_go_duration",
    "parse_ollama_host",
    "render_table",
]

CLIENT_VERSION = "0.12.3"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONNECT_ERROR = "could not connect to ollama server, run 'ollama serve' to start it"
SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

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


# ---------------------------------------------------------------------------------------------
# Installation
# ---------------------------------------------------------------------------------------------


def install_fake_ollama_cli(bin_dir: Path, *, daemon_url: str | None = None) -> Path:
    """Write an executable ``bin_dir/ollama`` and return its path.

    ``daemon_url`` becomes the default ``OLLAMA_HOST`` when the environment does not set one.
    """
    bin_dir = Path(bin_dir)
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "ollama"
    lines = [
        f"#!{sys.executable}",
        "# Fake `ollama` CLI written by tests.fake_ollama_cli.install_fake_ollama_cli",
        "import os",
        "import sys",
        "",
        f"sys.path.insert(0, {str(PROJECT_ROOT)!r})",
    ]
    if daemon_url is not None:
        lines.append(f"os.environ.setdefault('OLLAMA_HOST', {daemon_url!r})")
    lines += [
        "from tests.fake_ollama_cli import main",
        "",
        "sys.exit(main())",
        "",
    ]
    script.write_text("\n".join(lines), encoding="utf-8")
    mode = script.stat().st_mode
    script.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


# ---------------------------------------------------------------------------------------------
# Go-compatible helpers (shared with tests.fake_ollama)
# ---------------------------------------------------------------------------------------------


class GoDurationError(ValueError):
    """Raised by `parse_go_duration` with Go's ``time.ParseDuration`` message."""


_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(text: str) -> float:
    """Parse a Go duration string into seconds.

    >>> parse_go_duration("1h30m"), parse_go_duration("-1m"), parse_go_duration("0")
    (5400.0, -60.0, 0.0)
    >>> parse_go_duration("10")
    Traceback (most recent call last):
    ...
    tests.fake_ollama_cli.GoDurationError: time: missing unit in duration "10"
    """
    original = text
    quoted = json.dumps(original, ensure_ascii=False)
    negative = False
    if text[:1] in ("-", "+"):
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        raise GoDurationError(f"time: invalid duration {quoted}")
    total = 0.0
    while text:
        match = re.match(r"(\d*)(?:\.(\d*))?", text)
        assert match is not None
        whole, frac = match.group(1), match.group(2)
        if not whole and not frac:
            raise GoDurationError(f"time: invalid duration {quoted}")
        number = float(f"{whole or '0'}.{frac or '0'}")
        text = text[match.end() :]
        unit_match = re.match(r"[^\d.]*", text)
        unit = unit_match.group(0) if unit_match else ""
        if not unit:
            raise GoDurationError(f"time: missing unit in duration {quoted}")
        if unit not in _DURATION_UNITS:
            raise GoDurationError(
                f"time: unknown unit {json.dumps(unit, ensure_ascii=False)} in duration {quoted}"
            )
        total += number * _DURATION_UNITS[unit]
        text = text[len(unit) :]
    return -total if negative else total


def go_duration_string(ns: int) -> str:
    """Go's ``time.Duration.String``.

    >>> [go_duration_string(n) for n in (0, 500, 1_500_000, 300_000_000_000, 3_723_500_000_000)]
    ['0s', '500ns', '1.5ms', '5m0s', '1h2m3.5s']
    """
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    value = abs(ns)

    def frac(v: int, unit: int, digits: int) -> str:
        whole, rest = divmod(v, unit)
        if rest == 0:
            return str(whole)
        return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")

    if value < 1_000:
        return f"{sign}{value}ns"
    if value < 1_000_000:
        return f"{sign}{frac(value, 1_000, 3)}µs"
    if value < 1_000_000_000:
        return f"{sign}{frac(value, 1_000_000, 6)}ms"
    hours, rest = divmod(value, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = frac(rest, 1_000_000_000, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return f"{sign}{seconds}"


def _split_host_port(hostport: str) -> tuple[str, str] | None:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or not hostport[end + 1 :].startswith(":"):
            return None
        return hostport[1:end], hostport[end + 2 :]
    if hostport.count(":") != 1:
        return None
    host, port = hostport.split(":")
    return host, port


def _parse_host_parts(raw: str | None) -> tuple[str, str, int, str]:
    text = (raw or "").strip().strip("\"'")
    scheme, hostport, default_port = "http", text, 11434
    if "://" in text:
        scheme, hostport = text.split("://", 1)
        default_port = {"http": 80, "https": 443}.get(scheme, 11434)
    elif text == "ollama.com":
        scheme, hostport, default_port = "https", "ollama.com:443", 443
    path = ""
    if "/" in hostport:
        hostport, path = hostport.split("/", 1)
        path = "/" + path
    split = _split_host_port(hostport)
    if split is None:
        host = hostport.strip("[]") if hostport else "127.0.0.1"
        port = default_port
    else:
        host, port_text = split
        try:
            port = int(port_text)
            if not 0 <= port <= 65535:
                raise ValueError(port_text)
        except ValueError:
            port = default_port
    return scheme, host, port, path.rstrip("/")


def parse_ollama_host(raw: str | None, *, listen: bool = False) -> tuple[str, int]:
    """``OLLAMA_HOST`` → (host, port) like Ollama's ``envconfig.Host``.

    An empty host means all interfaces for ``serve`` (``listen=True``) and loopback otherwise.

    >>> parse_ollama_host(None), parse_ollama_host("0.0.0.0"), parse_ollama_host(":8080")
    (('127.0.0.1', 11434), ('0.0.0.0', 11434), ('127.0.0.1', 8080))
    >>> parse_ollama_host("http://localhost"), parse_ollama_host("[::1]:11434")
    (('localhost', 80), ('::1', 11434))
    >>> parse_ollama_host(' "127.0.0.1:9999" '), parse_ollama_host("localhost:99999")
    (('127.0.0.1', 9999), ('localhost', 11434))
    """
    _scheme, host, port, _path = _parse_host_parts(raw)
    if not host:
        host = "0.0.0.0" if listen else "127.0.0.1"
    return host, port


def ollama_base_url(raw: str | None) -> str:
    """The base URL the CLI talks to.

    >>> ollama_base_url("127.0.0.1:5000"), ollama_base_url("https://example.com/ollama/")
    ('http://127.0.0.1:5000', 'https://example.com:443/ollama')
    """
    scheme, host, port, path = _parse_host_parts(raw)
    host = host or "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}{path}"


def human_bytes(size: int) -> str:
    """Ollama's ``format.HumanBytes`` (decimal units).

    >>> [human_bytes(n) for n in (1321098329, 397821319, 274302450, 1429, 12, 2_000_000_000)]
    ['1.3 GB', '397 MB', '274 MB', '1.4 KB', '12 B', '2 GB']
    """
    units = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB"))
    threshold, unit = next(((t, u) for t, u in units if size >= t), (0.0, "B"))
    if not threshold:
        return f"{size} B"
    value = size / threshold
    if value >= 10:
        return f"{int(value)} {unit}"
    if value != int(value):
        return f"{value:.1f} {unit}"
    return f"{int(value)} {unit}"


def _human_duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600 / 24 / 365)} years"


def human_time(
    moment: dt.datetime | None, zero_value: str = "Never", *, now: float | None = None
) -> str:
    """Ollama's ``format.HumanTime``.

    >>> base = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
    >>> human_time(base - dt.timedelta(days=2, hours=3), now=base.timestamp())
    '2 days ago'
    >>> human_time(base + dt.timedelta(minutes=4, seconds=30), now=base.timestamp())
    '4 minutes from now'
    """
    if moment is None:
        return zero_value
    current = time.time() if now is None else now
    delta = current - moment.timestamp()
    if int(delta / 3600) // 24 // 365 < -20:
        return "Forever"
    if delta < 0:
        return _human_duration(-delta) + " from now"
    return _human_duration(delta) + " ago"


def parse_go_time(text: str) -> dt.datetime | None:
    """Parse RFC3339(Nano) as Go writes it (nanoseconds are truncated to microseconds)."""
    match = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})", text or ""
    )
    if match is None:
        return None
    base, fraction, zone = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    iso = f"{base}.{micro}{'+00:00' if zone == 'Z' else zone}"
    try:
        return dt.datetime.fromisoformat(iso)
    except ValueError:
        return None


def _wrap_cell(cell: str, limit: int) -> list[str]:
    if len(cell) <= limit or " " not in cell:
        return cell.split("\n") if cell else [""]
    lines: list[str] = []
    current = ""
    for word in cell.split():
        if current and len(current) + 1 + len(word) > limit:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return lines


def render_table(
    rows: Sequence[Sequence[str]],
    header: Sequence[str] | None = None,
    *,
    padding: str = "    ",
    col_width: int = 30,
) -> str:
    """tablewriter v0.0.5 as Ollama configures it (no borders, no header line, left aligned).

    >>> print(render_table([["a", "bb"]], ["NAME", "ID"]).replace(" ", "."))
    NAME....ID.
    a.......bb....
    <BLANKLINE>
    """
    ncols = max([len(header or [])] + [len(r) for r in rows])
    cells = [
        [_wrap_cell(row[i] if i < len(row) else "", col_width) for i in range(ncols)]
        for row in rows
    ]
    widths = [0] * ncols
    if header:
        for i, title in enumerate(header):
            widths[i] = max(widths[i], len(title))
    for row_cells in cells:
        for i, lines in enumerate(row_cells):
            widths[i] = max([widths[i]] + [len(line) for line in lines])
    out: list[str] = []
    if header:
        out.append(
            "".join(
                title.upper().ljust(widths[i]) + (padding if i < ncols - 1 else " ")
                for i, title in enumerate(header)
            )
        )
    for row_cells in cells:
        height = max(len(lines) for lines in row_cells) if row_cells else 1
        out.extend(
            "".join(
                (lines[k] if k < len(lines) else "").ljust(widths[i]) + padding
                for i, lines in enumerate(row_cells)
            )
            for k in range(height)
        )
    return "".join(line + "\n" for line in out)


# ---------------------------------------------------------------------------------------------
# HTTP client (stdlib, no proxies: Go never proxies loopback)
# ---------------------------------------------------------------------------------------------


class CliError(Exception):
    """Printed as ``Error: <message>``; exit status 1."""


class _ConnectError(CliError):
    pass


class _StatusError(CliError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class _Client:
    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.headers = {
            "Content-Type": "application/json",
            "Accept": "application/x-ndjson",
            "User-Agent": (
                f"ollama/{CLIENT_VERSION} ({platform.machine()} {sys.platform}) Go/go1.24.0"
            ),
        }

    def _open(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=self.headers
        )
        try:
            return self.opener.open(request)
        except urllib.error.HTTPError as exc:
            return exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            host = self.base.split("://", 1)[-1].split("/", 1)[0]
            op = method[:1] + method[1:].lower()
            if isinstance(reason, ConnectionRefusedError):
                raise _ConnectError(
                    f'{op} "{self.base}{path}": dial tcp {host}: connect: connection refused'
                ) from None
            raise CliError(f'{op} "{self.base}{path}": {reason}') from None
        except (ConnectionError, OSError) as exc:
            raise CliError(str(exc)) from None

    def do(self, method: str, path: str, body: Any = None) -> Any:
        """Non-streaming call: errors are the server's message alone."""
        response = self._open(method, path, body)
        with response:
            status = response.status if hasattr(response, "status") else response.code
            raw = response.read()
        if status >= 400:
            try:
                message = json.loads(raw).get("error") or raw.decode()
            except (ValueError, AttributeError):
                message = raw.decode("utf-8", "replace")
            raise _StatusError(status, message)
        if not raw.strip():
            return None
        return json.loads(raw)

    def stream(self, path: str, body: Any) -> Iterator[dict[str, Any]]:
        """Streaming call: HTTP errors are prefixed by the status line; error lines alone."""
        response = self._open("POST", path, body)
        with response:
            status = response.status if hasattr(response, "status") else response.code
            if status >= 400:
                raw = response.read()
                try:
                    message = json.loads(raw).get("error") or ""
                except (ValueError, AttributeError):
                    message = raw.decode("utf-8", "replace").strip()
                reason = _REASONS.get(status) or getattr(response, "reason", "") or ""
                raise _StatusError(status, f"{status} {reason}: {message}")
            try:
                for line in response:
                    text = line.decode("utf-8", "replace").strip()
                    if not text:
                        continue
                    try:
                        item = json.loads(text)
                    except ValueError:
                        raise CliError(text) from None
                    if isinstance(item, dict) and item.get("error"):
                        raise CliError(str(item["error"]))
                    yield item
            except (ConnectionError, OSError, http.client.IncompleteRead):
                raise CliError("unexpected EOF") from None

    def heartbeat(self) -> None:
        try:
            self.do("HEAD", "/")
        except _ConnectError:
            raise CliError(CONNECT_ERROR) from None


# ---------------------------------------------------------------------------------------------
# Terminal rendering (progress bars, spinner, word wrap)
# ---------------------------------------------------------------------------------------------


class _Spinner:
    def __init__(self, message: str = "") -> None:
        self.message = message
        self.started = time.monotonic()
        self.stopped = False

    def render(self) -> str:
        parts = []
        if self.message:
            parts.append(self.message.strip() + " ")
        if not self.stopped:
            frame = int((time.monotonic() - self.started) * 10) % len(SPINNER_FRAMES)
            parts.append(SPINNER_FRAMES[frame] + " ")
        return "".join(parts)


class _Bar:
    def __init__(self, message: str, total: int, completed: int) -> None:
        self.message = message
        self.total = total
        self.completed = completed

    def render(self) -> str:
        percent = 100.0 * self.completed / self.total if self.total else 100.0
        width = 18
        filled = int(width * percent / 100)
        bar = "█" * filled + " " * (width - filled)
        if self.completed >= self.total:
            suffix = human_bytes(self.total)
        else:
            suffix = f"{human_bytes(self.completed)}/{human_bytes(self.total)}"
        return f"{self.message}: {percent:3.0f}% ▕{bar}▏ {suffix}"


class _Progress:
    """Ollama's progress renderer: redraws all states with ANSI cursor movement, 10 Hz."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.states: list[_Spinner | _Bar] = []
        self.pos = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.out.write("\x1b[?25l")
        self.out.flush()
        self.thread = threading.Thread(target=self._tick, daemon=True)
        self.thread.start()

    def _tick(self) -> None:
        while not self.done.wait(0.1):
            self.render()

    def add(self, state: _Spinner | _Bar) -> None:
        with self.lock:
            self.states.append(state)
        self.render()

    def render(self) -> None:
        with self.lock:
            if not self.states:
                return
            buf = ["\x1b[?2026h", "\x1b[A" * self.pos, "\x1b[1G"]
            for i, state in enumerate(self.states):
                buf.append(state.render())
                buf.append("\x1b[K")
                if i < len(self.states) - 1:
                    buf.append("\n")
            buf.append("\x1b[?2026l")
            self.pos = len(self.states) - 1
            self.out.write("".join(buf))
            self.out.flush()

    def _halt(self) -> bool:
        if self.done.is_set():
            return False
        self.done.set()
        self.thread.join(1)
        for state in self.states:
            if isinstance(state, _Spinner):
                state.stopped = True
        return True

    def stop(self) -> None:
        if self._halt():
            self.render()
            self.out.write("\x1b[?25h\n" if self.states else "\x1b[?25h")
            self.out.flush()

    def stop_and_clear(self) -> None:
        if self._halt():
            with self.lock:
                buf = ["\x1b[?2026h", "\x1b[A" * self.pos, "\x1b[1G", "\x1b[2K"]
                buf.extend("\x1b[B\x1b[2K" for _ in range(self.pos))
                buf.append("\x1b[A" * self.pos + "\x1b[1G\x1b[?2026l\x1b[?25h")
                self.out.write("".join(buf))
                self.out.flush()


class _WrapState:
    def __init__(self) -> None:
        self.line_length = 0
        self.word_buffer = ""


def _display(text: str, word_wrap: bool, state: _WrapState, out: IO[str]) -> None:
    """cmd.displayResponse: wrap at terminal width - 5 by backtracking with ANSI escapes."""
    width = 80
    if out.isatty():
        try:
            width = os.get_terminal_size(out.fileno()).columns
        except OSError:
            width = 80
    if not (word_wrap and width >= 10):
        out.write(state.word_buffer + text)
        state.word_buffer = ""
        out.flush()
        return
    for ch in text:
        if state.line_length + 1 > width - 5:
            if len(state.word_buffer) > width - 10:
                out.write(f"{state.word_buffer}{ch}")
                state.word_buffer = ""
                state.line_length = 0
                continue
            backtrack = len(state.word_buffer)
            if backtrack > 0:
                out.write(f"\x1b[{backtrack}D")
            out.write("\x1b[K\n")
            out.write(f"{state.word_buffer}{ch}")
            state.line_length = len(state.word_buffer) + 1
        else:
            out.write(ch)
            state.line_length += 1
            if ch in " \t":
                state.word_buffer = ""
            elif ch in "\n\r":
                state.line_length = 0
                state.word_buffer = ""
            else:
                state.word_buffer += ch
    out.flush()


# ---------------------------------------------------------------------------------------------
# Argument parsing (cobra/pflag subset)
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def _client() -> _Client:
    return _Client(ollama_base_url(os.environ.get("OLLAMA_HOST")))


def _cmd_version() -> int:
    client = _client()
    server_version = ""
    try:
        data = client.do("GET", "/api/version")
        server_version = str((data or {}).get("version", ""))
    except CliError:
        print("Warning: could not connect to a running Ollama instance")
    if server_version:
        print(f"ollama version is {server_version}")
    if server_version != CLIENT_VERSION:
        print(f"Warning: client version is {CLIENT_VERSION}")
    return 0


def _cmd_list(client: _Client, args: Sequence[str]) -> int:
    data = client.do("GET", "/api/tags") or {}
    rows = []
    prefix = args[0].lower() if args else ""
    for model in data.get("models") or []:
        name = str(model.get("name", ""))
        if prefix and not name.lower().startswith(prefix):
            continue
        rows.append(
            [
                name,
                str(model.get("digest", ""))[:12],
                human_bytes(int(model.get("size", 0))) if model.get("size") else "-",
                human_time(parse_go_time(str(model.get("modified_at", "")))),
            ]
        )
    sys.stdout.write(render_table(rows, ["NAME", "ID", "SIZE", "MODIFIED"]))
    return 0


def _cmd_ps(client: _Client, args: Sequence[str]) -> int:
    data = client.do("GET", "/api/ps") or {}
    rows = []
    now = time.time()
    for model in data.get("models") or []:
        name = str(model.get("name", ""))
        if args and not name.startswith(args[0]):
            continue
        size = int(model.get("size", 0))
        vram = int(model.get("size_vram", 0))
        if vram == 0:
            processor = "100% CPU"
        elif vram == size:
            processor = "100% GPU"
        elif vram > size or size == 0:
            processor = "Unknown"
        else:
            cpu = round((size - vram) / size * 100)
            processor = f"{cpu}%/{100 - cpu}% CPU/GPU"
        expires = parse_go_time(str(model.get("expires_at", "")))
        if expires is not None and now - expires.timestamp() > 0:
            until = "Stopping..."
        else:
            until = human_time(expires, "Never", now=now)
        rows.append(
            [
                name,
                str(model.get("digest", ""))[:12],
                human_bytes(size),
                processor,
                str(model.get("context_length", "")),
                until,
            ]
        )
    header = ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    sys.stdout.write(render_table(rows, header))
    return 0


def _show_info(resp: dict[str, Any]) -> str:
    out: list[str] = []

    def section(title: str, rows: list[list[str]], col_width: int = 30) -> None:
        out.append(f"  {title}\n")
        out.append(render_table(rows, col_width=col_width))
        out.append("\n")

    info = resp.get("model_info") or {}
    details = resp.get("details") or {}
    rows: list[list[str]] = []
    if info:
        arch = str(info.get("general.architecture", ""))
        rows.append(["", "architecture", arch])
        rows.append(["", "parameters", str(details.get("parameter_size", ""))])
        for key, label in (
            ("context_length", "context length"),
            ("embedding_length", "embedding length"),
        ):
            value = info.get(f"{arch}.{key}")
            if isinstance(value, int | float):
                rows.append(["", label, str(int(value)) if value == int(value) else str(value)])
    else:
        rows.append(["", "architecture", str(details.get("family", ""))])
        rows.append(["", "parameters", str(details.get("parameter_size", ""))])
    rows.append(["", "quantization", str(details.get("quantization_level", ""))])
    section("Model", rows)

    capabilities = resp.get("capabilities") or []
    if capabilities:
        section("Capabilities", [["", str(c)] for c in capabilities])

    parameters = str(resp.get("parameters") or "")
    if parameters:
        section(
            "Parameters",
            [["", *line.split()] for line in parameters.splitlines() if line.strip()],
        )

    def head(text: str, limit: int) -> list[list[str]]:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        rows = [["", line] for line in lines[:limit]]
        if len(lines) > limit:
            rows.append(["", "..."])
        return rows

    if resp.get("system"):
        section("System", head(str(resp["system"]), 2), col_width=100)
    if resp.get("license"):
        section("License", head(str(resp["license"]), 2), col_width=100)
    return "".join(out)


def _cmd_show(client: _Client, args: Sequence[str], flags: dict[str, Any]) -> int:
    _require_args(args, exact=1)
    chosen = [
        f for f in ("license", "modelfile", "parameters", "system", "template") if flags.get(f)
    ]
    if len(chosen) > 1:
        raise CliError(
            "only one of '--license', '--modelfile', '--parameters', '--system', or "
            "'--template' can be specified"
        )
    resp = client.do("POST", "/api/show", {"model": args[0]}) or {}
    if chosen:
        print(resp.get(chosen[0], ""))
        return 0
    sys.stdout.write(_show_info(resp))
    return 0


def _pull(client: _Client, name: str, insecure: bool = False) -> None:
    progress = _Progress(sys.stderr)
    status = "pulling manifest"
    spinner = _Spinner(status)
    progress.add(spinner)
    bars: dict[str, _Bar] = {}
    body: dict[str, Any] = {"model": name}
    if insecure:
        body["insecure"] = True
    try:
        for item in client.stream("/api/pull", body):
            digest = str(item.get("digest") or "")
            if digest:
                spinner.stopped = True
                bar = bars.get(digest)
                if bar is None:
                    bar = _Bar(f"pulling {digest[7:19]}", int(item.get("total") or 0), 0)
                    bars[digest] = bar
                    progress.add(bar)
                bar.completed = int(item.get("completed") or 0)
            elif item.get("status") and item["status"] != status:
                spinner.stopped = True
                status = str(item["status"])
                spinner = _Spinner(status)
                progress.add(spinner)
    finally:
        progress.stop()


def _cmd_pull(client: _Client, args: Sequence[str], flags: dict[str, Any]) -> int:
    _require_args(args, exact=1)
    _pull(client, args[0], bool(flags.get("insecure")))
    return 0


def _unload(client: _Client, name: str) -> None:
    body = {
        "model": name,
        "prompt": "",
        "suffix": "",
        "system": "",
        "template": "",
        "keep_alive": "0s",
        "options": None,
    }
    for _ in client.stream("/api/generate", body):
        pass


def _cmd_stop(client: _Client, args: Sequence[str]) -> int:
    _require_args(args, exact=1)
    try:
        _unload(client, args[0])
    except CliError as exc:
        if "not found" in str(exc):
            raise CliError(f'couldn\'t find model "{args[0]}" to stop') from None
        raise
    return 0


def _cmd_rm(client: _Client, args: Sequence[str]) -> int:
    _require_args(args, minimum=1)
    for name in args:
        try:
            _unload(client, name)
        except CliError as exc:
            if "not found" not in str(exc):
                print(f"Warning: unable to stop model '{name}'", file=sys.stderr)
        client.do("DELETE", "/api/delete", {"model": name})
        print(f"deleted '{name}'")
    return 0


def _cmd_cp(client: _Client, args: Sequence[str]) -> int:
    _require_args(args, exact=2)
    client.do("POST", "/api/copy", {"source": args[0], "destination": args[1]})
    print(f"copied '{args[0]}' to '{args[1]}'")
    return 0


def _go_duration_json(seconds: float) -> Any:
    if seconds < 0:
        return -1
    return go_duration_string(round(seconds * 1e9))


def _cmd_run(client: _Client, args: Sequence[str], flags: dict[str, Any]) -> int:
    _require_args(args, minimum=1)
    name = args[0]
    think: bool | str | None = None
    if "think" in flags:
        value = str(flags["think"]).lower()
        if value in ("true", "false"):
            think = value == "true"
        elif value in ("high", "medium", "low", "max"):
            think = value
        else:
            raise CliError(
                f'invalid value for --think: "{flags["think"]}" '
                "(must be true, false, high, medium, low, or max)"
            )
    keep_alive: Any = None
    if flags.get("keepalive"):
        try:
            keep_alive = _go_duration_json(parse_go_duration(str(flags["keepalive"])))
        except GoDurationError as exc:
            raise CliError(str(exc)) from None
    fmt: Any = None
    if flags.get("format"):
        raw_format = str(flags["format"])
        if raw_format == "json":
            fmt = "json"
        else:
            try:
                fmt = json.loads(raw_format)
            except ValueError:
                raise CliError(f'invalid format: "{raw_format}"') from None

    prompts = list(args[1:])
    if not sys.stdin.isatty():
        prompts.insert(0, sys.stdin.read())
    prompt = " ".join(prompts)
    word_wrap = not flags.get("nowordwrap", False)

    try:
        info = client.do("POST", "/api/show", {"model": name}) or {}
    except _StatusError as exc:
        if exc.status != 404:
            raise
        _pull(client, name, bool(flags.get("insecure")))
        info = client.do("POST", "/api/show", {"model": name}) or {}
    capabilities = info.get("capabilities") or []
    if think is None and "thinking" in capabilities:
        think = True

    if "embedding" in capabilities and "completion" not in capabilities:
        if not prompt.strip():
            raise CliError(
                f'embedding models require input text. Usage: ollama run {name} "your text here"'
            )
        body: dict[str, Any] = {"model": name, "input": prompt}
        if flags.get("dimensions"):
            body["dimensions"] = int(flags["dimensions"])
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        data = client.do("POST", "/api/embed", body) or {}
        embeddings = data.get("embeddings") or [[]]
        print(json.dumps(embeddings[0], separators=(",", ":")))
        return 0

    request: dict[str, Any] = {
        "model": name,
        "prompt": prompt,
        "suffix": "",
        "system": "",
        "template": "",
    }
    if fmt is not None:
        request["format"] = fmt
    if keep_alive is not None:
        request["keep_alive"] = keep_alive
    request["options"] = {}
    if think is not None:
        request["think"] = think

    out = sys.stdout
    plain = not out.isatty()
    opening = "Thinking...\n" if plain else "\x1b[90mThinking...\x1b[0m\n"
    closing = "...done thinking.\n\n" if plain else "\x1b[90m...done thinking.\x1b[0m\n\n"
    hide_thinking = bool(flags.get("hidethinking"))
    progress = _Progress(sys.stderr)
    progress.add(_Spinner())
    state = _WrapState()
    thinking_open = False
    thinking_text = ""
    final: dict[str, Any] = {}
    try:
        for chunk in client.stream("/api/generate", request):
            progress.stop_and_clear()
            thinking = str(chunk.get("thinking") or "")
            if thinking and not hide_thinking:
                if not thinking_open:
                    out.write(opening)
                    thinking_open = True
                thinking_text += thinking
                _display(thinking, word_wrap, state, out)
            content = str(chunk.get("response") or "")
            if thinking_open and (content or chunk.get("tool_calls")):
                if not thinking_text.endswith("\n"):
                    out.write("\n")
                out.write(closing)
                thinking_open = False
                state = _WrapState()
            if content:
                _display(content, word_wrap, state, out)
            for call in chunk.get("tool_calls") or []:
                function = call.get("function") or {}
                out.write(
                    f"  Model called a non-existent function '{function.get('name', '')}()' "
                    f"with arguments: {json.dumps(function.get('arguments', {}))}\n"
                )
            if chunk.get("done"):
                final = chunk
    finally:
        progress.stop_and_clear()
    if prompt:
        out.write("\n\n")
    out.flush()
    if flags.get("verbose"):
        _summary(final)
    return 0


def _summary(metrics: dict[str, Any]) -> None:
    err = sys.stderr
    total = int(metrics.get("total_duration") or 0)
    load = int(metrics.get("load_duration") or 0)
    prompt_count = int(metrics.get("prompt_eval_count") or 0)
    prompt_duration = int(metrics.get("prompt_eval_duration") or 0)
    eval_count = int(metrics.get("eval_count") or 0)
    eval_duration = int(metrics.get("eval_duration") or 0)
    if total:
        err.write(f"total duration:       {go_duration_string(total)}\n")
    if load:
        err.write(f"load duration:        {go_duration_string(load)}\n")
    if prompt_count:
        err.write(f"prompt eval count:    {prompt_count} token(s)\n")
    if prompt_duration:
        err.write(f"prompt eval duration: {go_duration_string(prompt_duration)}\n")
        err.write(f"prompt eval rate:     {prompt_count / (prompt_duration / 1e9):.2f} tokens/s\n")
    if eval_count:
        err.write(f"eval count:           {eval_count} token(s)\n")
    if eval_duration:
        err.write(f"eval duration:        {go_duration_string(eval_duration)}\n")
        err.write(f"eval rate:            {eval_count / (eval_duration / 1e9):.2f} tokens/s\n")
    err.flush()


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


if __name__ == "__main__":
    sys.exit(main())
