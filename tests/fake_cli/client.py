"""The CLI's HTTP client of the daemon (standard library only, no proxies: Go never proxies
loopback), with the real CLI's error texts: `CliError` is printed as ``Error: <message>``.
"""

from __future__ import annotations

import http.client
import json
import platform
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

CLIENT_VERSION = "0.12.3"
CONNECT_ERROR = "could not connect to ollama server, run 'ollama serve' to start it"


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
