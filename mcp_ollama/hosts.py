"""Where Ollama is: reading OLLAMA_HOST, the `hosts` of a fleet, and telling whether an address
is this machine.

Owns the host and address helpers shared by the settings and the client: `parse_host` (every
OLLAMA_HOST spelling the Ollama CLI accepts, normalised to `scheme://host:port[/path]`),
`is_loopback_url`, the daemon's `DEFAULT_PORT`, `HostConfig` (one daemon of the fleet: its name,
URL, headers, key and weight), `parse_hosts` (the `MCP_OLLAMA_HOSTS` spelling) and which headers
hold secrets.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = [
    "ALL_HOSTS",
    "DEFAULT_PORT",
    "HostConfig",
    "InvalidHostError",
    "check_hosts",
    "default_host_name",
    "is_loopback_url",
    "is_secret_header",
    "parse_host",
    "parse_hosts",
]

DEFAULT_PORT = 11434
ALL_HOSTS = "all"
"""The `host` value that means every host (pull_model); no host may be called that."""
HOST_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,63}$")
# A DNS name or an IPv4 address: labels of letters, digits, '-' and '_' joined by dots.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
FORMS = "use host, host:port, [IPv6]:port or a URL such as http://host:port"
SECRET_HEADER_NAMES = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
# A header whose name holds one of these is treated as a secret too (X-Auth-Token, Api-Key, ...).
SECRET_HEADER_WORDS = ("auth", "token", "key", "secret", "password", "cookie", "session")


class InvalidHostError(ValueError):
    """An OLLAMA_HOST value the Ollama CLI would not connect to; `reason` says why."""

    def __init__(self, value: str | None, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"OLLAMA_HOST {value!r}: {reason}")


def is_secret_header(name: str) -> bool:
    """Whether a header's value must never be shown (logs, `doctor`, `check_health`).

    >>> [is_secret_header(h) for h in ("Authorization", "X-Auth-Token", "Api-Key", "X-Team")]
    [True, True, True, False]
    """
    lowered = name.lower()
    return lowered in SECRET_HEADER_NAMES or any(word in lowered for word in SECRET_HEADER_WORDS)


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


def default_host_name(base_url: str) -> str:
    """The name a host gets when none is given: its address, with the port unless it is 11434.

    >>> default_host_name('http://10.0.0.5:11434'), default_host_name('http://127.0.0.1:5001')
    ('10.0.0.5', '127.0.0.1:5001')
    >>> default_host_name('https://[::1]:11434/ollama')
    '::1'
    """
    authority = base_url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = authority.rpartition(":")
    host = host.strip("[]")
    return host if port == str(DEFAULT_PORT) else f"{host}:{port}"


class HostConfig(BaseModel):
    """One Ollama daemon of the fleet: a `[hosts.NAME]` table, or the `OLLAMA_HOST` one."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: str = Field("", description="How tools and reports name it (the table's name)")
    url: str = Field(description="Where it listens, in any OLLAMA_HOST form")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers")
    api_key: SecretStr | None = Field(None, description="Bearer token for it")
    weight: float = Field(1.0, gt=0, le=1000, description="Its share of the calls")

    @field_validator("url")
    @classmethod
    def _normalised(cls, value: str) -> str:
        return parse_host(value)

    @property
    def base_url(self) -> str:
        """The daemon's base URL, normalised."""
        return self.url

    @property
    def is_local(self) -> bool:
        """Whether the daemon is on this machine (auto-start and the CLI fallback apply)."""
        return is_loopback_url(self.url)

    def request_headers(self) -> dict[str, str]:
        """Headers sent with every request to this daemon, secrets included."""
        headers = dict(self.headers)
        if self.api_key is not None and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers

    @property
    def sends_secrets_in_clear(self) -> bool:
        """Whether credentials go to a daemon on another machine over plain http."""
        return (
            self.url.startswith("http://")
            and not self.is_local
            and any(is_secret_header(name) for name in self.request_headers())
        )

    def redacted(self) -> dict[str, Any]:
        """This host as JSON-ready data, every secret replaced by `***`."""
        return {
            "url": self.url,
            "weight": self.weight,
            "api_key": None if self.api_key is None else "***",
            "headers": {k: "***" if is_secret_header(k) else v for k, v in self.headers.items()},
        }


def parse_hosts(value: Any) -> Any:
    """The `hosts` setting from the environment: `name=url,url,...` (names optional) or a JSON
    object of tables; a dict (a TOML config) passes through. Unnamed hosts are named by
    `default_host_name`.

    >>> parse_hosts('gpu=http://10.0.0.5:11434, 127.0.0.1:5001')
    {'gpu': {'url': 'http://10.0.0.5:11434'}, '127.0.0.1:5001': {'url': '127.0.0.1:5001'}}
    >>> parse_hosts('{"gpu": {"url": "10.0.0.5", "weight": 2}}')
    {'gpu': {'url': '10.0.0.5', 'weight': 2}}
    >>> parse_hosts('a=1.2.3.4,a=5.6.7.8')
    Traceback (most recent call last):
    ...
    ValueError: the name 'a' is used twice; give each host its own name
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("{"):
        return json.loads(text)
    tables: dict[str, dict[str, Any]] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, url = item.partition("=")
        if not sep or "/" in name:
            name, url = default_host_name(parse_host(item)), item
        name, url = name.strip(), url.strip()
        if name in tables:
            raise ValueError(f"the name {name!r} is used twice; give each host its own name")
        tables[name] = {"url": url}
    return tables


def check_hosts(hosts: dict[str, HostConfig]) -> dict[str, HostConfig]:
    """Each host named by its table, names well formed, no daemon listed twice.

    Raises:
        ValueError: a bad or reserved name, or two names for one URL.
    """
    seen: dict[str, str] = {}
    named: dict[str, HostConfig] = {}
    for name, host in hosts.items():
        if not HOST_NAME.fullmatch(name) or name.lower() == ALL_HOSTS:
            raise ValueError(
                f"{name!r} is not a usable host name: use letters, digits, '_', '.', "
                f"'-' or ':' (at most 64), and not {ALL_HOSTS!r}, which means every host"
            )
        if host.url in seen:
            raise ValueError(f"{seen[host.url]!r} and {name!r} are both {host.url}")
        seen[host.url] = name
        named[name] = host.model_copy(update={"name": name})
    return named
