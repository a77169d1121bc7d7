"""The model-management endpoints: `_ModelHandlers`, the `_Dispatcher` mixin for show, pull,
create, copy, delete and blobs, and the helper that answers pull and create with their
progress stream or, with ``stream: false``, only its last line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import AsyncGenerator
from typing import Any

from tests.fake_daemon.binding import _bind
from tests.fake_daemon.catalog import FakeModel
from tests.fake_daemon.fields import (
    COPY_FIELDS,
    CREATE_FIELDS,
    DELETE_FIELDS,
    PULL_FIELDS,
    SHOW_FIELDS,
)
from tests.fake_daemon.goformat import _digest_of, _now_ns, go_quote
from tests.fake_daemon.names import parse_model_name
from tests.fake_daemon.streaming import (
    _Ctx,
    _HandlerBase,
    _Json,
    _Plain,
    _Result,
    _Stream,
    _StreamError,
)
from tests.fake_daemon.wire import JSON_PLAIN_CT, PULL_MISSING_MESSAGE, _ApiError


async def _progress_result(
    items: AsyncGenerator[dict[str, Any] | _StreamError, None], *, streaming: bool
) -> _Result:
    """Pull and create: the progress stream, or with `stream: false` only its last line."""
    if streaming:
        return _Stream(items)
    latest: dict[str, Any] = {}
    try:
        async for item in items:
            if isinstance(item, _StreamError):
                return _Json(item.status, {"error": item.message}, JSON_PLAIN_CT)
            latest = item
    finally:
        await items.aclose()
    return _Json(200, latest, JSON_PLAIN_CT)


class _ModelHandlers(_HandlerBase):
    """``/api/show``, ``/api/pull``, ``/api/create``, ``/api/copy``, ``/api/delete`` and
    ``/api/blobs/:digest``."""

    def _handle_show(self, body: bytes) -> _Result:
        req = _bind(body, "ShowRequest", SHOW_FIELDS)
        raw = (req.get("model") or req.get("name") or "").strip()
        if not raw:
            raise _ApiError(400, "model is required")
        name = parse_model_name(raw)
        if name is None:
            raise _ApiError(400, "invalid model name")
        model = self.fake._find(name)
        if model is None:
            raise _ApiError(404, f"model '{name.display}' not found")
        return _Json(200, self.fake._show(model, bool(req.get("verbose"))))

    async def _handle_pull(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        req = _bind(body, "PullRequest", PULL_FIELDS)
        raw = (req.get("model") or req.get("name") or "").strip()
        name = parse_model_name(raw) if raw else None
        if name is None:
            raise _ApiError(400, "invalid model name")
        streaming = req.get("stream", True) is not False

        async def progress() -> AsyncGenerator[dict[str, Any] | _StreamError, None]:
            yield {"status": "pulling manifest"}
            await ctx.sleep(fake.pull_step_delay)
            if not fake._is_pullable(name):
                yield _StreamError(PULL_MISSING_MESSAGE)
                return
            with fake._lock:
                spec = fake._catalog.get(name.key)
                installed = fake._models.get(name.key)
            if spec is None:
                spec = FakeModel(
                    name=name.display,
                    family="llama",
                    parameter_size="1B",
                    quantization_level="Q4_K_M",
                    size=fake.pull_total_bytes or 734_003_200,
                    digest=_digest_of("manifest", name.key),
                    modified_at_ns=_now_ns(),
                    context_length=4096,
                    embedding_length=2048,
                    parameter_count=1_000_000_000,
                    capabilities=["completion"],
                )
            spec = dataclasses.replace(spec, name=name.display)
            if fake.pull_total_bytes is not None:
                spec.size = fake.pull_total_bytes
            present = {d for d, _ in installed.layers()} if installed is not None else set()
            for index, (digest, total) in enumerate(spec.layers()):
                status = f"pulling {digest[:12]}"
                line: dict[str, Any] = {
                    "status": status,
                    "digest": f"sha256:{digest}",
                    "total": total,
                }
                if digest in present:
                    yield {**line, "completed": total}
                    continue
                yield line
                if fake.pull_hang and index == 0:
                    yield {**line, "completed": max(1, total // 100)}
                    await ctx.hang()
                steps = max(1, fake.pull_steps) if total >= 1_000_000 else 1
                for step in range(1, steps + 1):
                    await ctx.sleep(fake.pull_step_delay)
                    yield {**line, "completed": total * step // steps}
            await ctx.sleep(fake.pull_step_delay)
            yield {"status": "verifying sha256 digest"}
            await ctx.sleep(fake.pull_step_delay)
            yield {"status": "writing manifest"}
            spec.modified_at_ns = _now_ns()
            fake._install(spec)
            yield {"status": "success"}

        return await _progress_result(progress(), streaming=streaming)

    async def _handle_create(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        req = _bind(body, "CreateRequest", CREATE_FIELDS)
        raw = (req.get("model") or req.get("name") or "").strip()
        name = parse_model_name(raw) if raw else None
        if name is None:
            raise _ApiError(400, "invalid model name")
        source_raw: str = req.get("from", "")
        if not source_raw and not req.get("files"):
            raise _ApiError(400, "neither 'from' or 'files' was specified")
        streaming = req.get("stream", True) is not False

        async def progress() -> AsyncGenerator[dict[str, Any] | _StreamError, None]:
            base: FakeModel | None = None
            if source_raw:
                source = parse_model_name(source_raw)
                base = fake._find(source) if source is not None else None
                if base is None:
                    yield {"status": "pulling manifest"}
                    yield _StreamError(PULL_MISSING_MESSAGE)
                    return
            if base is None:
                base = FakeModel(
                    name=name.display,
                    family="llama",
                    parameter_size="1B",
                    quantization_level="Q4_K_M",
                    size=734_003_200,
                    digest="",
                    modified_at_ns=_now_ns(),
                    context_length=4096,
                    embedding_length=2048,
                    parameter_count=1_000_000_000,
                    capabilities=["completion"],
                )
            created = dataclasses.replace(base, name=name.display, modified_at_ns=_now_ns())
            if req.get("system") is not None:
                created.system = req["system"]
            if req.get("template") is not None:
                created.template = req["template"]
            if isinstance(req.get("license"), str):
                created.license = req["license"]
            params = req.get("parameters")
            if isinstance(params, dict):
                created.parameters = [
                    (k, item)
                    for k, v in params.items()
                    for item in (v if isinstance(v, list) else [v])
                ]
            created.digest = _digest_of("created", name.key, str(created.modified_at_ns))
            changed = {_digest_of("template", created.template), created.blob_digest}
            for digest, _size in created.layers():
                verb = (
                    "using existing"
                    if digest in changed or digest in fake._blobs
                    else "creating new"
                )
                yield {"status": f"{verb} layer sha256:{digest}"}
                await ctx.sleep(fake.pull_step_delay)
            yield {"status": "writing manifest"}
            fake._install(created)
            yield {"status": "success"}

        return await _progress_result(progress(), streaming=streaming)

    def _handle_copy(self, body: bytes) -> _Result:
        fake = self.fake
        req = _bind(body, "CopyRequest", COPY_FIELDS)
        source_raw: str = req.get("source", "")
        dest_raw: str = req.get("destination", "")
        source = parse_model_name(source_raw) if source_raw.strip() else None
        if source is None:
            raise _ApiError(400, f"source {go_quote(source_raw)} is invalid")
        dest = parse_model_name(dest_raw) if dest_raw.strip() else None
        if dest is None:
            raise _ApiError(400, f"destination {go_quote(dest_raw)} is invalid")
        model = fake._find(source)
        if model is None:
            raise _ApiError(404, f"model {go_quote(source_raw)} not found")
        copied = dataclasses.replace(model, name=dest.display, modified_at_ns=_now_ns())
        fake._install(copied)
        return _Plain(200, b"", None)

    def _handle_delete(self, body: bytes) -> _Result:
        fake = self.fake
        req = _bind(body, "DeleteRequest", DELETE_FIELDS)
        raw: str = req.get("model") or req.get("name") or ""
        if not raw.strip():
            raise _ApiError(400, "model is required")
        name = parse_model_name(raw)
        if name is None:
            raise _ApiError(400, f"name {go_quote(raw)} is invalid")
        with fake._lock:
            if fake._models.pop(name.key, None) is None:
                raise _ApiError(404, f"model '{raw}' not found")
        return _Plain(200, b"", None)

    def _handle_blob(self, method: str, path: str, body: bytes) -> _Result:
        fake = self.fake
        digest = path.removeprefix("/api/blobs/")
        match = re.fullmatch(r"sha256[:-]([0-9a-f]{64})", digest)
        if match is None:
            raise _ApiError(400, "invalid digest format")
        hex_digest = match.group(1)
        if method == "HEAD":
            if hex_digest in fake._blobs:
                return _Plain(200, b"", None)
            raise _ApiError(404, f'blob "sha256:{hex_digest}" not found')
        actual = hashlib.sha256(body).hexdigest()
        if actual != hex_digest:
            raise _ApiError(
                400, f'digest mismatch, expected "sha256:{hex_digest}", got "sha256:{actual}"'
            )
        if hex_digest in fake._blobs:
            return _Plain(200, b"", None)
        fake._blobs.add(hex_digest)
        return _Plain(201, b"", None)
