"""The generate, chat and embed endpoints: `_GenerationHandlers`, the `_Dispatcher` mixin that
binds each request, checks it as Ollama does and streams (or returns) its answer.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import AsyncGenerator
from typing import Any

from tests.fake_daemon.answers import _Answering
from tests.fake_daemon.binding import _bind, _check_options
from tests.fake_daemon.fields import CHAT_FIELDS, EMBED_FIELDS, EMBEDDINGS_FIELDS, GENERATE_FIELDS
from tests.fake_daemon.goformat import (
    _as_f32,
    _created_at,
    _ns,
    _words,
    go_float32,
    go_float64,
    go_json,
    go_quote,
)
from tests.fake_daemon.streaming import _Ctx, _Json, _Result, _Stream, _StreamError
from tests.fake_daemon.text import _context_tokens, _embedding, _normalise
from tests.fake_daemon.wire import JSON_PLAIN_CT, _ApiError


class _GenerationHandlers(_Answering):
    """``/api/generate``, ``/api/chat``, ``/api/embed`` and ``/api/embeddings``."""

    async def _handle_generate(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        t0 = time.monotonic()
        req = _bind(body, "GenerateRequest", GENERATE_FIELDS)
        self._check_top_logprobs(req)
        sent_name: str = req.get("model", "")
        model = self._resolve(
            sent_name,
            empty=(404, "model '' not found"),
            missing=lambda n: f"model '{n}' not found",
        )
        keep_alive = self._keep_alive(req)
        prompt: str = req.get("prompt", "")
        if not prompt and req.get("_keep_alive_set") and keep_alive == 0:
            fake._unload(model)
            return _Json(200, self._done_shortcut(sent_name, "unload", chat=False))
        if req.get("raw") and (req.get("template") or req.get("system") or req.get("context")):
            raise _ApiError(400, "raw mode does not support template, system, or context")
        thinking = self._thinking_enabled(model, req, sent_name)
        if "completion" not in model.capabilities:
            raise _ApiError(400, f"{go_quote(sent_name)} does not support generate")
        if req.get("suffix") and "insert" not in model.capabilities:
            raise _ApiError(400, f"{model.ref.full} does not support insert")
        options = _check_options(req.get("options") or {})
        num_ctx = options.get("num_ctx")
        await self._load(ctx, model, keep_alive, num_ctx)
        t_ready = time.monotonic()
        if not prompt:
            fake._release(model, keep_alive)
            return _Json(200, self._done_shortcut(sent_name, "load", chat=False))
        streaming = req.get("stream", True) is not False
        format_error = self._check_format(req.get("format"))
        if format_error is not None:
            fake._release(model, keep_alive)
            if streaming:
                return _Json(500, {"error": format_error}, JSON_PLAIN_CT)
            raise _ApiError(500, format_error)
        seed = f"{req.get('system', '')}\n{prompt}"
        plan = self._plan(
            model,
            seed_text=seed,
            thinking=thinking,
            fmt=req.get("format"),
            options=options,
            tools=None,
            user_text=prompt,
        )
        prompt_count = max(1, _words(f"{req.get('system', '')} {prompt} {req.get('suffix', '')}"))
        with_context = not req.get("raw")

        async def chunks() -> AsyncGenerator[dict[str, Any] | _StreamError, None]:
            emitted: list[str] = []
            try:
                async for kind, value in self._emit(ctx, model, plan, t0, t_ready):
                    if kind == "thinking":
                        yield {
                            "model": sent_name,
                            "created_at": _created_at(),
                            "response": "",
                            "thinking": value,
                            "done": False,
                        }
                    elif kind == "content":
                        emitted.append(value)
                        yield {
                            "model": sent_name,
                            "created_at": _created_at(),
                            "response": value,
                            "done": False,
                        }
                    elif kind == "tool_calls":
                        yield {
                            "model": sent_name,
                            "created_at": _created_at(),
                            "response": "",
                            "done": False,
                            "tool_calls": value,
                        }
                    elif kind == "error":
                        yield _StreamError(value)
                    else:
                        final: dict[str, Any] = {
                            "model": sent_name,
                            "created_at": _created_at(),
                            "response": "",
                            "done": True,
                            "done_reason": plan.done_reason,
                        }
                        if with_context:
                            final["context"] = _context_tokens(prompt, "".join(emitted))
                        final.update(self._metrics(value, prompt_count))
                        yield final
            finally:
                fake._release(model, keep_alive)

        if streaming:
            return _Stream(chunks())
        return await self._collect(chunks(), chat=False)

    async def _handle_chat(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        t0 = time.monotonic()
        req = _bind(body, "ChatRequest", CHAT_FIELDS)
        self._check_top_logprobs(req)
        sent_name: str = req.get("model", "")
        model = self._resolve(
            sent_name,
            empty=(400, "model is required"),
            missing=lambda n: f"model '{n}' not found",
        )
        keep_alive = self._keep_alive(req)
        messages: list[dict[str, Any]] = req.get("messages", [])
        if not messages and req.get("_keep_alive_set") and keep_alive == 0:
            fake._unload(model)
            return _Json(200, self._done_shortcut(sent_name, "unload", chat=True))
        thinking = self._thinking_enabled(model, req, sent_name)
        if "completion" not in model.capabilities:
            raise _ApiError(400, f"{go_quote(sent_name)} does not support chat")
        tools: list[dict[str, Any]] = req.get("tools") or []
        if tools and "tools" not in model.capabilities:
            raise _ApiError(400, f"{model.ref.full} does not support tools")
        options = _check_options(req.get("options") or {})
        await self._load(ctx, model, keep_alive, options.get("num_ctx"))
        t_ready = time.monotonic()
        if not messages:
            fake._release(model, keep_alive)
            return _Json(200, self._done_shortcut(sent_name, "load", chat=True))
        streaming = req.get("stream", True) is not False
        format_error = self._check_format(req.get("format"))
        if format_error is not None:
            fake._release(model, keep_alive)
            if streaming:
                return _Json(500, {"error": format_error}, JSON_PLAIN_CT)
            raise _ApiError(500, format_error)
        user_text = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        all_text = " ".join(str(m.get("content", "")) for m in messages)
        if model.system and not (messages and messages[0].get("role") == "system"):
            all_text = f"{model.system} {all_text}"
        plan = self._plan(
            model,
            seed_text=user_text or all_text,
            thinking=thinking,
            fmt=req.get("format"),
            options=options,
            tools=tools,
            user_text=user_text,
        )
        prompt_count = max(1, _words(all_text))

        async def chunks() -> AsyncGenerator[dict[str, Any] | _StreamError, None]:
            try:
                async for kind, value in self._emit(ctx, model, plan, t0, t_ready):
                    if kind == "error":
                        yield _StreamError(value)
                        continue
                    message: dict[str, Any] = {"role": "assistant", "content": ""}
                    if kind == "content":
                        message["content"] = value
                    elif kind == "thinking":
                        message["thinking"] = value
                    elif kind == "tool_calls":
                        message["tool_calls"] = value
                    item: dict[str, Any] = {
                        "model": sent_name,
                        "created_at": _created_at(),
                        "message": message,
                    }
                    if kind == "done":
                        item["done"] = True
                        item["done_reason"] = plan.done_reason
                        item.update(self._metrics(value, prompt_count))
                    else:
                        item["done"] = False
                    yield item
            finally:
                fake._release(model, keep_alive)

        if streaming:
            return _Stream(chunks())
        return await self._collect(chunks(), chat=True)

    async def _handle_embed(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        t0 = time.monotonic()
        req = _bind(body, "EmbedRequest", EMBED_FIELDS)
        raw_input = req.get("input")
        inputs: list[str] = []
        if isinstance(raw_input, str):
            if raw_input:
                inputs.append(raw_input)
        elif isinstance(raw_input, list):
            for item in raw_input:
                if not isinstance(item, str):
                    raise _ApiError(400, "invalid input type")
                inputs.append(item)
        elif raw_input is not None:
            raise _ApiError(400, "invalid input type")
        sent_name: str = req.get("model", "")
        model = self._resolve(
            sent_name,
            empty=(404, "model '' not found"),
            missing=lambda n: f'model "{n}" not found, try pulling it first',
        )
        keep_alive = self._keep_alive(req)
        options = _check_options(req.get("options") or {})
        await self._load(ctx, model, keep_alive, options.get("num_ctx"))
        t_ready = time.monotonic()
        try:
            if not inputs:
                return _Json(200, {"model": sent_name, "embeddings": []})
            if req.get("truncate") is False and any(
                _words(text) > model.context_length for text in inputs
            ):
                raise _ApiError(400, "the input length exceeds the context length")
            await ctx.sleep(fake.ttft)
            dims = model.embedding_length
            wanted = req.get("dimensions") or 0
            rows: list[str] = []
            for text in inputs:
                vector = _embedding(model.key, text, dims)
                if 0 < wanted < dims:
                    vector = _normalise(vector[:wanted])
                rows.append("[" + ",".join(go_float32(x) for x in vector) + "]")
            t_end = time.monotonic()
            prompt_count = sum(max(1, _words(text)) for text in inputs)
            tail = {
                "total_duration": _ns(t_end - t0),
                "load_duration": max(1, _ns(t_ready - t0)),
                "prompt_eval_count": prompt_count,
            }
            raw = (
                '{"model":'
                + go_json(sent_name)
                + ',"embeddings":['
                + ",".join(rows)
                + "],"
                + go_json(tail)[1:]
            )
            return _Json(200, None, raw=raw)
        finally:
            fake._release(model, keep_alive)

    async def _handle_embeddings(self, ctx: _Ctx, body: bytes) -> _Result:
        fake = self.fake
        req = _bind(body, "EmbeddingRequest", EMBEDDINGS_FIELDS)
        sent_name: str = req.get("model", "")
        model = self._resolve(
            sent_name,
            empty=(404, "model '' not found"),
            missing=lambda n: f'model "{n}" not found, try pulling it first',
        )
        keep_alive = self._keep_alive(req)
        await self._load(ctx, model, keep_alive, None)
        try:
            prompt: str = req.get("prompt", "")
            if not prompt:
                return _Json(200, {"embedding": []})
            vector = _embedding(model.key, prompt, model.embedding_length)
            scale = 1.0 + (zlib.crc32(prompt.encode()) % 1000) / 100.0
            values = ",".join(go_float64(_as_f32(x * scale)) for x in vector)
            return _Json(200, None, raw='{"embedding":[' + values + "]}")
        finally:
            fake._release(model, keep_alive)
