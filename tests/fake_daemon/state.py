"""`FakeOllama`: the state of a pretend ``ollama serve`` (installed and loaded models, speed,
scripted answers, faults, the request log), the methods tests use to change it, its ASGI app."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from tests.fake_daemon.catalog import (
    GENERIC_TEMPLATE,
    FakeModel,
    _catalog_models,
    _default_models,
    _parameter_size,
)
from tests.fake_daemon.dispatch import _Dispatcher
from tests.fake_daemon.goformat import _digest_of, _now_ns, _ns, go_time
from tests.fake_daemon.names import ModelName, parse_model_name
from tests.fake_daemon.records import NameSet, RecordedRequest, ScriptedResponse, _Loaded
from tests.fake_daemon.views import _ModelViews
from tests.fake_daemon.wire import _FOREVER_NS, FAULT_MODES, OLLAMA_VERSION


class FakeOllama(_ModelViews):
    """State of a pretend Ollama daemon plus its HTTP API (`app`).

    Plain attributes may be changed from tests at any time, also while a server is running.
    """

    def __init__(
        self,
        *,
        tokens_per_second: float = 2000.0,
        ttft: float = 0.0,
        with_default_models: bool = True,
    ) -> None:
        self._lock = threading.RLock()
        self._with_default_models = with_default_models
        self._init_tokens_per_second = tokens_per_second
        self._init_ttft = ttft
        self.reset()

    def reset(self) -> None:
        """Restore the initial state (models, settings, faults, logs)."""
        with self._lock:
            now = _now_ns()
            #: Global generation speed (tokens per second; ``<= 0`` = as fast as possible).
            self.tokens_per_second: float = self._init_tokens_per_second
            #: Seconds between "model ready" and the first generated token (prompt eval).
            self.ttft: float = self._init_ttft
            #: Seconds a generate/chat/embed request sleeps when its model is not loaded yet.
            self.load_duration: float = 0.0
            #: Default number of answer tokens when nothing is scripted.
            self.response_tokens: int = 12
            #: When set, made-up answers end ("stop") after this many tokens whatever
            #: num_predict asks for, as a model does when it reaches its end of text.
            self.max_answer_tokens: int | None = None
            #: Fixed answer text for every generate/chat (``None`` = derived from the prompt).
            self.response_text: str | None = None
            #: Thinking text for thinking models (``None`` = a fixed sentence).
            self.thinking_text: str | None = None
            self.default_keep_alive: float = 300.0
            self.default_num_ctx: int = 4096
            #: Fraction of a loaded model's size reported as VRAM in /api/ps (0 = 100% CPU).
            self.size_vram_fraction: float = 0.0
            self.version: str = OLLAMA_VERSION
            #: Reject Host headers that are not loopback/private (Ollama's DNS-rebinding check).
            self.check_host: bool = False

            self.pull_step_delay: float = 0.005
            self.pull_steps: int = 4
            self.pull_total_bytes: int | None = None
            self.pull_hang: bool = False
            #: Names that /api/pull can fetch (matched like model names: case, ":latest").
            #: Iteration order is insertion order: models that are not installed come first.
            self.pullable: NameSet = NameSet(
                [
                    "tinyllama:latest",
                    "gemma3:270m",
                    "llama3.2:1b",
                    "qwen3:0.6b",
                    "nomic-embed-text:latest",
                ]
            )

            self.fault: str | None = None
            self.fault_count: int | None = None
            self.fault_paths: set[str] | None = None
            self.fault_message: str | None = None
            #: How many chunks drop/malformed/error faults let through first.
            self.fault_after_chunks: int = 2
            self.stall_seconds: float = 30.0

            self.requests: list[RecordedRequest] = []
            self.disconnects: int = 0
            self.disconnected = threading.Event()
            self.disconnect_paths: list[str] = []
            self.log_requests: bool = False

            self._models: dict[str, FakeModel] = {}
            self._catalog: dict[str, FakeModel] = {}
            self._loaded: dict[str, _Loaded] = {}
            self._scripts: deque[ScriptedResponse] = deque()
            self._blobs: set[str] = set()
            # Requests still in flight from the previous test finish after the reset, so the
            # live count carries over; only the high-water mark starts again.
            self.active_requests: int = getattr(self, "active_requests", 0)
            #: The most requests ever in flight at once (a high-water mark of active_requests).
            self.peak_active_requests: int = self.active_requests
            #: When an Event, generate/chat hold their first token until it is set, so tests
            #: can see how many generations run at once without timing anything.
            self.generation_gate: threading.Event | None = None
            for model in _catalog_models(now):
                self._catalog[model.key] = model
            if self._with_default_models:
                for model in _default_models(now):
                    self._install(model)

    # -- models ---------------------------------------------------------------------------

    def _install(self, model: FakeModel) -> None:
        with self._lock:
            self._models[model.key] = model
            self._catalog[model.key] = dataclasses.replace(model)
            self._blobs.update(digest for digest, _ in model.layers())

    def add_model(
        self,
        name: str,
        *,
        family: str = "llama",
        context_length: int = 4096,
        embedding_length: int | None = None,
        capabilities: Iterable[str] = ("completion",),
        tokens_per_second: float | None = None,
        ttft: float | None = None,
        size: int | None = None,
        parameter_size: str | None = None,
        parameter_count: int | None = None,
        quantization_level: str = "Q4_K_M",
        digest: str | None = None,
        modified_at: dt.datetime | float | None = None,
        license: str = "",
        template: str = GENERIC_TEMPLATE,
        system: str = "",
        parameters: Sequence[tuple[str, Any]] = (),
    ) -> FakeModel:
        """Install a model (replacing one with the same name) and return it."""
        parsed = parse_model_name(name)
        if parsed is None:
            raise ValueError(f"invalid model name: {name!r}")
        count = parameter_count or 1_000_000_000
        if isinstance(modified_at, dt.datetime):
            modified_ns = int(modified_at.timestamp() * 1e9)
        elif modified_at is not None:
            modified_ns = int(modified_at * 1e9)
        else:
            modified_ns = _now_ns()
        model = FakeModel(
            name=parsed.display,
            family=family,
            parameter_size=parameter_size or _parameter_size(count),
            quantization_level=quantization_level,
            size=size if size is not None else int(count * 0.6),
            digest=digest or _digest_of("manifest", parsed.key),
            modified_at_ns=modified_ns,
            context_length=context_length,
            embedding_length=embedding_length or (768 if "embedding" in capabilities else 2048),
            parameter_count=count,
            capabilities=list(capabilities),
            tokens_per_second=tokens_per_second,
            ttft=ttft,
            license=license,
            template=template,
            system=system,
            parameters=list(parameters),
        )
        self._install(model)
        return model

    def remove_model(self, name: str) -> bool:
        parsed = parse_model_name(name)
        if parsed is None:
            return False
        with self._lock:
            self._loaded.pop(parsed.key, None)
            return self._models.pop(parsed.key, None) is not None

    def get_model(self, name: str) -> FakeModel | None:
        parsed = parse_model_name(name)
        if parsed is None:
            return None
        with self._lock:
            return self._models.get(parsed.key)

    @property
    def models(self) -> list[FakeModel]:
        """Installed models, newest first (the order of /api/tags)."""
        with self._lock:
            return sorted(self._models.values(), key=lambda m: m.modified_at_ns, reverse=True)

    def loaded_models(self) -> list[str]:
        """Display names of the models /api/ps would report now."""
        with self._lock:
            self._purge_expired()
            return [entry.model.name for entry in self._loaded.values()]

    def load_model(self, name: str, keep_alive: float | None = 300.0) -> None:
        """Mark a model as loaded (as if a request had used it)."""
        model = self.get_model(name)
        if model is None:
            raise KeyError(name)
        with self._lock:
            self._loaded[model.key] = _Loaded(model, self._expiry(keep_alive), self.default_num_ctx)

    def script_response(
        self,
        text: str | None = None,
        *,
        thinking: str | None = None,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        error: str | None = None,
        done_reason: str | None = None,
        model: str | None = None,
    ) -> None:
        """Queue the answer of a future generate/chat call (FIFO; ``model`` restricts it).

        ``tool_calls`` items are ``{"name": ..., "arguments": {...}}`` or the full wire form.
        ``error`` is sent after the text as an in-stream error line (500 when not streaming).
        """
        with self._lock:
            self._scripts.append(
                ScriptedResponse(
                    text=text,
                    thinking=thinking,
                    tool_calls=[dict(c) for c in tool_calls] if tool_calls is not None else None,
                    error=error,
                    done_reason=done_reason,
                    model=model,
                )
            )

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in list(self.requests)
            if r.path == path and (method is None or r.method == method.upper())
        ]

    def clear_requests(self) -> None:
        self.requests.clear()

    def set_fault(
        self, fault: str | None, *, count: int | None = None, paths: Iterable[str] | None = None
    ) -> None:
        if fault is not None and fault not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {fault!r}; expected one of {FAULT_MODES}")
        with self._lock:
            self.fault = fault
            self.fault_count = count
            self.fault_paths = set(paths) if paths is not None else None

    def clear_fault(self) -> None:
        self.set_fault(None)

    # -- ASGI -----------------------------------------------------------------------------

    def app(self, *, stop_event: threading.Event | None = None) -> Starlette:
        """A Starlette app serving the Ollama API from this state.

        ``stop_event`` (set by `FakeServerHandle.stop`) makes stalls, hangs and streams end
        promptly so that a server shutdown never waits on them.
        """
        dispatcher = _Dispatcher(self, stop_event or threading.Event())
        return Starlette(routes=[Route("/{path:path}", dispatcher)])

    # -- internal state helpers -------------------------------------------------------------

    def _find(self, name: ModelName) -> FakeModel | None:
        with self._lock:
            return self._models.get(name.key)

    def _expiry(self, keep_alive: float | None) -> int:
        if keep_alive is None:
            return _now_ns() + _FOREVER_NS
        return _now_ns() + _ns(keep_alive)

    def _purge_expired(self) -> None:
        now = _now_ns()
        with self._lock:
            for key, entry in list(self._loaded.items()):
                if entry.active <= 0 and entry.expires_ns <= now:
                    del self._loaded[key]

    def _acquire(self, model: FakeModel, keep_alive: float | None, num_ctx: int | None) -> bool:
        """Mark the model busy; returns True when it had to be loaded."""
        with self._lock:
            self._purge_expired()
            entry = self._loaded.get(model.key)
            ctx = num_ctx or self.default_num_ctx
            was_loaded = entry is not None and entry.context_length == ctx
            if entry is None:
                entry = _Loaded(model, self._expiry(keep_alive), ctx)
                self._loaded[model.key] = entry
            entry.model = model
            entry.context_length = ctx
            entry.active += 1
            entry.expires_ns = self._expiry(keep_alive)
            return not was_loaded

    def _release(self, model: FakeModel, keep_alive: float | None) -> None:
        with self._lock:
            entry = self._loaded.get(model.key)
            if entry is None:
                return
            entry.active = max(0, entry.active - 1)
            entry.expires_ns = self._expiry(keep_alive)
            if keep_alive == 0 and entry.active == 0:
                del self._loaded[model.key]

    def _unload(self, model: FakeModel) -> None:
        with self._lock:
            self._loaded.pop(model.key, None)

    def _take_script(self, model: FakeModel) -> ScriptedResponse | None:
        with self._lock:
            for index, script in enumerate(self._scripts):
                if script.model is None:
                    del self._scripts[index]
                    return script
                parsed = parse_model_name(script.model)
                if parsed is not None and parsed.key == model.key:
                    del self._scripts[index]
                    return script
        return None

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            fault = self.fault
            if fault is None:
                return None
            if self.fault_paths is not None:
                if path not in self.fault_paths:
                    return None
            elif path in ("/", "/api/version"):
                return None
            if self.fault_count is not None:
                if self.fault_count <= 0:
                    self.fault = None
                    self.fault_count = None
                    return None
                self.fault_count -= 1
                if self.fault_count == 0:
                    self.fault = None
                    self.fault_count = None
            return fault

    def _is_pullable(self, name: ModelName) -> bool:
        for entry in list(self.pullable):
            parsed = parse_model_name(entry)
            if parsed is not None and parsed.key == name.key:
                return True
        return False

    def _record_disconnect(self, path: str) -> None:
        with self._lock:
            self.disconnects += 1
            self.disconnect_paths.append(path)
        self.disconnected.set()

    # -- JSON shapes --------------------------------------------------------------------------

    def _ps(self) -> dict[str, Any]:
        with self._lock:
            self._purge_expired()
            entries = sorted(self._loaded.values(), key=lambda e: e.expires_ns, reverse=True)
            models = []
            for entry in entries:
                model = entry.model
                size = int(model.size * 1.25) + entry.context_length * 32_768
                item: dict[str, Any] = {
                    "name": model.name,
                    "model": model.name,
                    "size": size,
                    "digest": model.digest,
                    "details": model.details,
                    "expires_at": go_time(min(entry.expires_ns, _now_ns() + _FOREVER_NS)),
                    "size_vram": int(size * self.size_vram_fraction),
                    "context_length": entry.context_length,
                }
                models.append(item)
        return {"models": models}
