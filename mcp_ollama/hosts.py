"""Where Ollama is: reading OLLAMA_HOST and telling whether an address is this machine.

Owns the host and address helpers shared by the settings and the client: `parse_host` (every
OLLAMA_HOST spelling the Ollama CLI accepts, normalised to `scheme://host:port[/path]`),
`is_loopback_url` and the daemon's `DEFAULT_PORT`.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["DEFAULT_PORT", "InvalidHostError", "is_loopback_url", "parse_host"]

DEFAULT_PORT = 11434
# A DNS name or an IPv4 address: labels of letters, digits, '-' and '_' joined by dots.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
FORMS = "use host, host:port, [IPv6]:port or a URL such as http://host:port"


class InvalidHostError(ValueError):
    """An OLLAMA_HOST value the Ollama CLI would not connect to; `reason` says why."""

    def __init__(self, value: str | None, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"OLLAMA_HOST {value!r}: {reason}")


def parse_host(value: str | None) -> str:
    """Turn any OLLAMA_HOST spelling the Ollama CLI accepts into `scheme://host:port[/path]`.

    >>> parse_host(None)
    'http://127.0.0.1:11434'
    >>> parse_host('')
    'http://127.0.0.1:11434'
    >>> parse_host('1.2.3.4')
    'http://1.2.3.4:11434'
    >>> parse_host('example.com')
    'http://example.com:11434'
    >>> parse_host(':56789')
    'http://127.0.0.1:56789'
    >>> parse_host('example.com:56789')
    'http://example.com:56789'
    >>> parse_host('http://example.com')
    'http://example.com:80'
    >>> parse_host('https://example.com')
    'https://example.com:443'
    >>> parse_host('example.com:56789/')
    'http://example.com:56789'
    >>> parse_host('example.com/path')
    'http://example.com:11434/path'
    >>> parse_host('https://example.com:56789/path/')
    'https://example.com:56789/path'
    >>> parse_host('[::1]')
    'http://[::1]:11434'
    >>> parse_host('[::1]:56789')
    'http://[::1]:56789'
    >>> parse_host('https://[::1]')
    'https://[::1]:443'
    >>> parse_host('::1')
    'http://[::1]:11434'
    >>> parse_host('"127.0.0.1:11434"')
    'http://127.0.0.1:11434'
    >>> parse_host(' 127.0.0.1 ')
    'http://127.0.0.1:11434'
    >>> parse_host('0.0.0.0')
    'http://127.0.0.1:11434'
    >>> parse_host('0.0.0.0:11434')
    'http://127.0.0.1:11434'
    >>> parse_host('[::]')
    'http://[::1]:11434'
    >>> parse_host('HTTP://Example.com')
    'http://example.com:80'
    >>> parse_host('example.com:99999')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.hosts.InvalidHostError: OLLAMA_HOST 'example.com:99999': port must be a number ...
    >>> parse_host('tcp://x')
    Traceback (most recent call last):
    ...
    mcp_ollama.hosts.InvalidHostError: OLLAMA_HOST 'tcp://x': scheme must be http or https
    >>> parse_host('https://user:pa55@example.com')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.hosts.InvalidHostError: OLLAMA_HOST 'https://***@example.com': credentials in ...
    >>> parse_host('127.0.0.1::11434')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.hosts.InvalidHostError: OLLAMA_HOST '127.0.0.1::11434': '127.0.0.1::11434' is ...
    >>> parse_host('my host:11434')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mcp_ollama.hosts.InvalidHostError: OLLAMA_HOST 'my host:11434': 'my host' is not a host ...
    """
    raw = (value or "").strip().strip("\"'").strip()
    authority = raw.split("://", 1)[-1].split("/", 1)[0]
    if "@" in authority:
        masked = raw.replace(authority, "***@" + authority.rsplit("@", 1)[1], 1)
        raise InvalidHostError(
            masked,
            "credentials in the URL are not supported; put a token in OLLAMA_API_KEY (sent as "
            "a bearer token) or headers in MCP_OLLAMA_HEADERS",
        )
    scheme, default_port = "http", DEFAULT_PORT
    rest = raw
    if "://" in raw:
        scheme, rest = raw.split("://", 1)
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise InvalidHostError(value, "scheme must be http or https")
        default_port = 80 if scheme == "http" else 443
    hostport, _, path = rest.partition("/")
    path = path.rstrip("/")
    host, port = _split_host_port(hostport, value)
    if port is None:
        port = default_port
    host = host.lower() or "127.0.0.1"
    _check_host(host, value)
    if host == "0.0.0.0":  # a bind address for `ollama serve`; connect to this machine instead
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}" + (f"/{path}" if path else "")


def _split_host_port(hostport: str, original: str | None) -> tuple[str, int | None]:
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
    elif hostport.count(":") > 1:  # a bare IPv6 address, which the daemon accepts
        return hostport, None
    else:
        host, _, port_text = hostport.partition(":")
    if not port_text:
        return host, None
    if not port_text.isdigit() or int(port_text) > 65535:
        raise InvalidHostError(original, "port must be a number from 0 to 65535")
    return host, int(port_text)


def _check_host(host: str, original: str | None) -> None:
    """Refuse what no daemon could listen on (`127.0.0.1::11434`, `my host`) at start, rather
    than on every call."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidHostError(original, f"{host!r} is not an IPv6 address; {FORMS}") from None
    elif not _HOST_NAME.fullmatch(host):
        raise InvalidHostError(original, f"{host!r} is not a host name or IP address; {FORMS}")


def is_loopback_url(url: str) -> bool:
    """Whether a base URL points at this machine (the only place auto-start makes sense).

    >>> is_loopback_url('http://127.0.0.1:11434'), is_loopback_url('http://[::1]:1')
    (True, True)
    >>> is_loopback_url('http://localhost:11434'), is_loopback_url('http://example.com:11434')
    (True, False)
    """
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
