"""`OllamaClient`: the async HTTP core. The only module that imports the HTTP library.

Every HTTP-library exception is translated once, in `_translate_errors()`, into the tree in
`mcp_ollama.errors`. Streams are bounded by a stall timeout (the read timeout: no bytes for N s),
never by a wall-clock cap; idempotent reads retry with exponential backoff and jitter.
"""

from __future__ import annotations

import json
import random
import socket
import ssl
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing, contextmanager
from types import TracebackType
from typing import Any, Self

import anyio
import httpx2

from mcp_ollama.deadline import pending
from mcp_ollama.errors import (
    MalformedResponseError,
    ModelNotFoundError,
    NotOllamaError,
    OllamaConnectionError,
    OllamaDisconnectedError,
    OllamaHostNotFoundError,
    OllamaResponseError,
    OllamaStallError,
    OllamaTimeoutError,
)
from mcp_ollama.hosts import HostConfig, is_loopback_url
from mcp_ollama.ollama.ndjson import iter_ndjson
from mcp_ollama.ollama.types import (
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResponse,
    GenerateChunk,
    GenerateRequest,
    ModelSummary,
    PullProgress,
    RunningModel,
    ShowResponse,
    VersionInfo,
    field_of,
    parse_response,
)
from mcp_ollama.settings import Settings

__all__ = ["OllamaClient"]

RETRY_STATUSES = frozenset({502, 503, 504})
RETRY_ADVICE = "Call check_health to see whether Ollama answers, or pass a larger `timeout`"
USER_AGENT = "mcp-ollama"


class OllamaClient:
    """An async client for the whole Ollama HTTP API, sharing one connection pool."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:11434",
        *,
        headers: dict[str, str] | None = None,
        connect_timeout: float = 5.0,
        request_timeout: float = 300.0,
        stall_timeout: float = 180.0,
        max_retries: int = 3,
        retry_backoff: float = 0.25,
        max_concurrent: int = 64,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self._request_timeout = httpx2.Timeout(request_timeout, connect=connect_timeout)
        self._stream_timeout = httpx2.Timeout(stall_timeout, connect=connect_timeout)
        self._stall_timeout = stall_timeout
        self._limiter = anyio.CapacityLimiter(max_concurrent)
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self._limits = httpx2.Limits(
            max_connections=max_concurrent + 4, max_keepalive_connections=max_concurrent
        )
        self._transport = transport
        self._pool: httpx2.AsyncClient | None = None

    @property
    def _http(self) -> httpx2.AsyncClient:
        """The one connection pool, made on first use: making it imports the HTTP core and
        reads proxy settings (25-100 ms), which a server start should not wait for."""
        if self._pool is None:
            self._pool = httpx2.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=self._request_timeout,
                limits=self._limits,
                transport=self._transport,
                # Like the Go CLI, never send loopback traffic through HTTP(S)_PROXY/ALL_PROXY.
                trust_env=not is_loopback_url(self.base_url),
                verify=_tls_context(self.base_url),
            )
        return self._pool

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        host: HostConfig | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> OllamaClient:
        """A client configured from `Settings`, for `host` (default: the first one)."""
        host = host or settings.host_configs()[0]
        return cls(
            host.base_url,
            headers=host.request_headers(),
            connect_timeout=settings.connect_timeout,
            request_timeout=settings.request_timeout,
            stall_timeout=settings.stall_timeout,
            max_retries=settings.max_retries,
            retry_backoff=settings.retry_backoff,
            max_concurrent=settings.max_concurrent_requests,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._pool is not None:
            await self._pool.aclose()

    # -- idempotent reads (retried) ---------------------------------------------------------

    async def version(self, *, retries: int | None = None) -> VersionInfo:
        """`GET /api/version`; `retries=0` makes it a one-shot liveness probe."""
        return parse_response(VersionInfo, await self._read("GET", "/api/version", retries=retries))

    async def list_models(self) -> list[ModelSummary]:
        """`GET /api/tags`: installed models, newest first."""
        data = await self._read("GET", "/api/tags")
        return [parse_response(ModelSummary, m) for m in field_of(data, "models", list)]

    async def show(self, model: str, *, verbose: bool = False) -> ShowResponse:
        """`POST /api/show`: a model's details, parameters and model_info.

        Raises:
            ModelNotFoundError: the model is not installed.
        """
        body = {"model": model, "verbose": verbose}
        return parse_response(
            ShowResponse, await self._read("POST", "/api/show", body, model=model)
        )

    async def running(self) -> list[RunningModel]:
        """`GET /api/ps`: models loaded in memory now."""
        data = await self._read("GET", "/api/ps")
        return [parse_response(RunningModel, m) for m in field_of(data, "models", list)]

    # -- generation -------------------------------------------------------------------------

    async def generate(self, request: GenerateRequest) -> GenerateChunk:
        """`POST /api/generate` without streaming: the whole answer at once."""
        data = await self._send("POST", "/api/generate", request.body(stream=False), request.model)
        return parse_response(GenerateChunk, data)

    async def stream_generate(
        self, request: GenerateRequest
    ) -> AsyncGenerator[GenerateChunk, None]:
        """`POST /api/generate`, one chunk per token; close it (aclosing) to stop the daemon."""
        stream = self._stream("/api/generate", request.body(stream=True), request.model)
        async with aclosing(stream) as lines:
            async for line in lines:
                yield parse_response(GenerateChunk, line)

    async def chat(self, request: ChatRequest) -> ChatChunk:
        """`POST /api/chat` without streaming."""
        data = await self._send("POST", "/api/chat", request.body(stream=False), request.model)
        return parse_response(ChatChunk, data)

    async def stream_chat(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        """`POST /api/chat`, one chunk per token."""
        stream = self._stream("/api/chat", request.body(stream=True), request.model)
        async with aclosing(stream) as lines:
            async for line in lines:
                yield parse_response(ChatChunk, line)

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        """`POST /api/embed`: L2-normalised embeddings of one or many texts."""
        data = await self._send("POST", "/api/embed", request.body(stream=False), request.model)
        return parse_response(EmbedResponse, data)

    async def unload(self, model: str) -> GenerateChunk:
        """Unload a model from memory now (`keep_alive: 0` with an empty prompt)."""
        return await self.generate(GenerateRequest(model=model, prompt="", keep_alive=0))

    # -- model management -------------------------------------------------------------------

    async def pull(
        self, model: str, *, insecure: bool = False
    ) -> AsyncGenerator[PullProgress, None]:
        """`POST /api/pull`, one progress line at a time; the stream ends with `success`."""
        body = {"model": model, "insecure": insecure, "stream": True}
        async with aclosing(self._stream("/api/pull", body, None)) as lines:
            async for line in lines:
                yield parse_response(PullProgress, line)

    async def create(
        self,
        model: str,
        source: str,
        *,
        system: str | None = None,
        template: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> AsyncGenerator[PullProgress, None]:
        """`POST /api/create`: `model` derived from the installed `source` (the Modelfile's
        FROM, SYSTEM, TEMPLATE and PARAMETER), one status line at a time, ending with `success`.
        """
        body: dict[str, Any] = {"model": model, "from": source, "stream": True}
        extras = {"system": system, "template": template, "parameters": parameters or None}
        body |= {key: value for key, value in extras.items() if value is not None}
        async for line in self._stream("/api/create", body, None):
            yield parse_response(PullProgress, line)

    async def delete(self, model: str) -> None:
        """`DELETE /api/delete`.

        Raises:
            ModelNotFoundError: the model is not installed.
        """
        await self._send("DELETE", "/api/delete", {"model": model}, model, expect_json=False)

    async def copy(self, source: str, destination: str) -> None:
        """`POST /api/copy`; an existing destination is overwritten by Ollama."""
        body = {"source": source, "destination": destination}
        await self._send("POST", "/api/copy", body, source, expect_json=False)

    # -- plumbing ---------------------------------------------------------------------------

    async def _read(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        model: str | None = None,
        retries: int | None = None,
    ) -> Any:
        """An idempotent request, retried on connection errors and 502/503/504."""
        max_retries = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            try:
                return await self._send(method, path, body, model)
            except (OllamaConnectionError, OllamaResponseError) as exc:
                # A name that does not resolve will not resolve a moment later either.
                retryable = isinstance(exc, OllamaConnectionError) and not isinstance(
                    exc, OllamaHostNotFoundError
                )
                retryable = retryable or (
                    isinstance(exc, OllamaResponseError) and exc.status_code in RETRY_STATUSES
                )
                if not retryable or attempt >= max_retries:
                    raise
                failed = exc.what
            delay = self.retry_backoff * (2**attempt)
            with pending(f"retrying a request Ollama failed ({failed})", RETRY_ADVICE):
                await anyio.sleep(delay * (0.5 + random.random()))  # full jitter, never zero
            attempt += 1

    async def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        model: str | None,
        *,
        expect_json: bool = True,
    ) -> Any:
        async with self._limiter:
            with self._translate_errors(model, streaming=False):
                response = await self._http.request(method, path, json=body)
                await response.aread()
        _raise_for_status(response, model, self.base_url)
        if not expect_json:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise MalformedResponseError(f"{path} did not return JSON") from exc

    async def _stream(
        self, path: str, body: dict[str, Any], model: str | None
    ) -> AsyncGenerator[dict[str, Any], None]:
        async with self._limiter:
            with self._translate_errors(model, streaming=True):
                async with self._http.stream(
                    "POST", path, json=body, timeout=self._stream_timeout
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        _raise_for_status(response, model, self.base_url)
                    async for line in iter_ndjson(response.aiter_raw()):
                        yield line

    @contextmanager
    def _translate_errors(self, model: str | None, *, streaming: bool) -> Iterator[None]:
        """The one place where HTTP-library errors become mcp-ollama errors."""
        try:
            yield
        except httpx2.ConnectTimeout as exc:
            raise OllamaConnectionError(self.base_url, "connect timed out") from exc
        except httpx2.ReadTimeout as exc:
            if streaming:
                raise OllamaStallError(self._stall_timeout) from exc
            raise OllamaTimeoutError(
                f"Ollama did not answer within {self._request_timeout.read:g} s; the model may "
                "still be loading. Retry, or raise MCP_OLLAMA_REQUEST_TIMEOUT."
            ) from exc
        except httpx2.TimeoutException as exc:
            raise OllamaTimeoutError(f"request to Ollama timed out ({exc})") from exc
        except httpx2.ConnectError as exc:
            raise _connect_failure(self.base_url, exc) from exc
        except (httpx2.RemoteProtocolError, httpx2.ReadError) as exc:
            raise OllamaDisconnectedError(self.base_url) from exc
        except httpx2.TransportError as exc:
            raise OllamaConnectionError(self.base_url, type(exc).__name__) from exc


def _connect_failure(base_url: str, exc: BaseException) -> OllamaConnectionError:
    """What stopped the connection, from the OS error under the HTTP library's: a host name
    that does not resolve is not "connection refused", and neither is an unreachable network."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            host = base_url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
            return OllamaHostNotFoundError(base_url, host)
        if isinstance(cause, ConnectionRefusedError):
            return OllamaConnectionError(base_url, "connection refused")
        if isinstance(cause, OSError) and cause.strerror:
            return OllamaConnectionError(base_url, cause.strerror.lower())
        cause = cause.__cause__ or cause.__context__
    return OllamaConnectionError(base_url, str(exc) or type(exc).__name__)


def _tls_context(base_url: str) -> ssl.SSLContext | bool:
    """Default verification, except for a plain-http loopback daemon: a context with no CA.

    Loading the CA bundle costs 40-80 ms of every start, and a plain-http loopback daemon never
    needs it (every request goes to `base_url`, and no proxy is used for loopback). That context
    still requires a verified certificate, so it fails closed if TLS were ever attempted.
    """
    if base_url.lower().startswith("http://") and is_loopback_url(base_url):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True


def _raise_for_status(response: httpx2.Response, model: str | None, base_url: str) -> None:
    if response.status_code < 400:
        return
    text = response.text
    try:
        payload = json.loads(text)
        message = str(payload["error"])
    except (ValueError, KeyError, TypeError):
        # Not Ollama's {"error": ...} body: a route this Ollama lacks, or OLLAMA_HOST points
        # at another server (a 404 or 405 there means the address, not the request, is wrong).
        message = " ".join(text.split())[:200]
        if not message or message.startswith("<"):  # an HTML error page says no more than this
            message = response.reason_phrase
        if response.status_code in (404, 405):
            raise NotOllamaError(
                base_url, response.request.url.path, response.status_code, message
            ) from None
        raise OllamaResponseError(message, response.status_code) from None
    if response.status_code == 404 and model is not None:
        raise ModelNotFoundError(model, message)
    raise OllamaResponseError(message, response.status_code)
