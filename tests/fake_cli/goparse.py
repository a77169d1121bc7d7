"""Go-compatible parsing shared with the fake daemon: ``time.ParseDuration`` (with its error
messages), ``time.Duration.String``, and ``OLLAMA_HOST`` as ``envconfig.Host`` reads it.
"""

from __future__ import annotations

import json
import re


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
    tests.fake_cli.goparse.GoDurationError: time: missing unit in duration "10"
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
