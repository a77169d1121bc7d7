"""How the fake answers a generate or chat request: `_Plan` (the thinking, content and tool
calls it will emit) and `_Answering`, the `_Dispatcher` mixin that resolves and loads the
model, plans the answer, paces its tokens on absolute deadlines and collects it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import anyio

from tests.fake_daemon.catalog import FakeModel
from tests.fake_daemon.goformat import _created_at, _ns, _tokenize, go_json, go_quote
from tests.fake_daemon.names import parse_model_name
from tests.fake_daemon.streaming import _Ctx, _HandlerBase, _Json, _Result, _StreamError
from tests.fake_daemon.text import (
    _THINKING_TEXT,
    _default_text,
    _normalise_tool_call,
    _tool_arguments,
    _tool_call_id,
    _value_for_schema,
)
from tests.fake_daemon.wire import _AbortError, _ApiError


@dataclasses.dataclass
class _Plan:
    thinking: list[str]
    content: list[str]
    tool_calls: list[dict[str, Any]]
    tool_call_tokens: int
    done_reason: str
    error: str | None


class _Answering(_HandlerBase):
    """The steps the generation endpoints share: resolve and load the model, plan a generate
    or chat answer, pace its tokens, and collect it into one object when not streamed."""

    def _resolve(
        self, raw_model: str, *, empty: tuple[int, str], missing: Callable[[str], str]
    ) -> FakeModel:
        text = raw_model.strip()
        if not text:
            raise _ApiError(*empty)
        name = parse_model_name(text)
        if name is None:
            raise _ApiError(400, "invalid model name")
        model = self.fake._find(name)
        if model is None:
            raise _ApiError(404, missing(raw_model))
        return model

    def _keep_alive(self, req: Mapping[str, Any]) -> float | None:
        if req.get("_keep_alive_set"):
            value: float | None = req.get("keep_alive")
            return value
        return self.fake.default_keep_alive

    @staticmethod
    def _check_top_logprobs(req: Mapping[str, Any]) -> None:
        top = req.get("top_logprobs")
        if top is not None and not 0 <= top <= 20:
            raise _ApiError(400, "top_logprobs must be between 0 and 20")

    def _thinking_enabled(self, model: FakeModel, req: Mapping[str, Any], sent_name: str) -> bool:
        think = req.get("think")
        supports = "thinking" in model.capabilities
        if think is None:
            return supports
        if think is False:
            return False
        if not supports:
            raise _ApiError(400, f"{go_quote(sent_name)} does not support thinking")
        return True

    @staticmethod
    def _check_format(fmt: Any) -> str | None:
        if fmt is None or fmt == "" or fmt == "json" or isinstance(fmt, dict):
            return None
        raw = go_json(fmt)
        return f'invalid format: {go_quote(raw)}; expected "json" or a valid JSON Schema object'

    async def _load(
        self, ctx: _Ctx, model: FakeModel, keep_alive: float | None, num_ctx: int | None
    ) -> None:
        fake = self.fake
        needs_load = fake._acquire(model, keep_alive, num_ctx)
        if needs_load and fake.load_duration > 0:
            try:
                await ctx.sleep(fake.load_duration)
            except BaseException:
                fake._release(model, keep_alive)
                raise

    def _plan(
        self,
        model: FakeModel,
        *,
        seed_text: str,
        thinking: bool,
        fmt: Any,
        options: Mapping[str, Any],
        tools: Sequence[Mapping[str, Any]] | None,
        user_text: str,
    ) -> _Plan:
        fake = self.fake
        script = fake._take_script(model)
        thinking_tokens: list[str] = []
        if thinking:
            if script is not None and script.thinking is not None:
                thinking_text = script.thinking
            else:
                thinking_text = (
                    fake.thinking_text if fake.thinking_text is not None else _THINKING_TEXT
                )
            thinking_tokens = _tokenize(thinking_text)

        tool_calls: list[dict[str, Any]] = []
        if script is not None and script.tool_calls is not None:
            tool_calls = [
                _normalise_tool_call(call, i, seed_text) for i, call in enumerate(script.tool_calls)
            ]
        elif tools and "call tool" in user_text.lower():
            chosen = next(
                (
                    t
                    for t in tools
                    if isinstance(t.get("function"), dict)
                    and str(t["function"].get("name", "")).lower() in user_text.lower()
                ),
                tools[0],
            )
            name, arguments = _tool_arguments(chosen)
            tool_calls = [
                {
                    "id": _tool_call_id(seed_text),
                    "function": {"index": 0, "name": name, "arguments": arguments},
                }
            ]

        if script is not None and script.text is not None:
            text = script.text
        elif tool_calls:
            text = ""
        elif fake.response_text is not None:
            text = fake.response_text
        elif fmt == "json":
            words = _default_text(seed_text, max(1, fake.response_tokens - 3)).rstrip(".")
            text = json.dumps({"response": words}, separators=(", ", ": "))
        elif isinstance(fmt, dict):
            value = _value_for_schema(fmt, _default_text(seed_text, 3).rstrip("."))
            text = json.dumps(value, separators=(", ", ": "))
        else:
            # The made-up answer is `response_tokens` long, or runs on until num_predict cuts
            # it (done_reason "length") when the request sets one.
            count = fake.response_tokens
            limit = options.get("num_predict")
            if isinstance(limit, int) and limit >= 0:
                count = max(count, limit + 1)
            if fake.max_answer_tokens is not None:  # the model reaches its end of text first
                count = min(count, fake.max_answer_tokens)
            text = _default_text(seed_text, count)
        content_tokens = _tokenize(text)
        done_reason = "stop"

        stops = [s for s in options.get("stop", []) if s]
        if stops:
            joined = ""
            for index, token in enumerate(content_tokens):
                candidate = joined + token
                hits = [candidate.find(s) for s in stops if s in candidate]
                if hits:
                    cut = min(hits)
                    kept = candidate[len(joined) : cut] if cut > len(joined) else ""
                    content_tokens = [*content_tokens[:index], *([kept] if kept else [])]
                    if cut < len(joined):
                        content_tokens = _tokenize(candidate[:cut])
                    break
                joined = candidate

        tool_call_tokens = 8 * len(tool_calls)
        limit = options.get("num_predict")
        if isinstance(limit, int) and limit >= 0:
            total = len(thinking_tokens) + len(content_tokens) + tool_call_tokens
            if total > limit:
                done_reason = "length"
                thinking_tokens = thinking_tokens[:limit]
                remaining = limit - len(thinking_tokens)
                content_tokens = content_tokens[:remaining]
                remaining -= len(content_tokens)
                if remaining < tool_call_tokens:
                    tool_calls = []
                    tool_call_tokens = 0
        if script is not None and script.done_reason is not None:
            done_reason = script.done_reason
        return _Plan(
            thinking=thinking_tokens,
            content=content_tokens,
            tool_calls=tool_calls,
            tool_call_tokens=tool_call_tokens,
            done_reason=done_reason,
            error=script.error if script is not None else None,
        )

    async def _emit(
        self, ctx: _Ctx, model: FakeModel, plan: _Plan, t0: float, t_ready: float
    ) -> AsyncIterator[tuple[str, Any]]:
        """Yield ("thinking"|"content", text), ("tool_calls", list), then ("done", metrics) or
        ("error", message), paced by absolute deadlines."""
        fake = self.fake
        rate = (
            model.tokens_per_second
            if model.tokens_per_second is not None
            else fake.tokens_per_second
        )
        ttft = model.ttft if model.ttft is not None else fake.ttft
        interval = 1.0 / rate if rate and rate > 0 and math.isfinite(rate) else 0.0
        await ctx.sleep_until(t_ready + max(0.0, ttft))
        gate = fake.generation_gate
        while gate is not None and not gate.is_set():
            await ctx.sleep(0.005)
        t_eval = time.monotonic()
        count = 0

        async def tick() -> None:
            nonlocal count
            count += 1
            if interval:
                await ctx.sleep_until(t_eval + count * interval)
            elif count % 64 == 0:
                await anyio.sleep(0)
            if ctx.stop_event.is_set():
                raise _AbortError()

        for token in plan.thinking:
            await tick()
            yield ("thinking", token)
        for token in plan.content:
            await tick()
            yield ("content", token)
        if plan.tool_calls:
            for _ in range(plan.tool_call_tokens):
                await tick()
            yield ("tool_calls", plan.tool_calls)
        t_end = time.monotonic()
        if plan.error is not None:
            yield ("error", plan.error)
            return
        # Like the real daemon, report the model's own compute time: the paced schedule, not
        # the wall clock, so counters stay exact on a loaded machine.
        prompt_eval = ttft if ttft > 0 else t_eval - t_ready
        evaluation = count * interval if interval else t_end - t_eval
        metrics: dict[str, Any] = {
            "total_duration": _ns(t_end - t0),
            "load_duration": max(1, _ns(t_ready - t0)),
            "prompt_eval_duration": max(1, _ns(prompt_eval)),
            "eval_count": count,
            "eval_duration": max(1, _ns(evaluation)) if count else 0,
        }
        yield ("done", metrics)

    def _metrics(self, metrics: Mapping[str, Any], prompt_eval_count: int) -> dict[str, Any]:
        ordered = {
            "total_duration": metrics["total_duration"],
            "load_duration": metrics["load_duration"],
            "prompt_eval_count": prompt_eval_count,
            "prompt_eval_duration": metrics["prompt_eval_duration"],
            "eval_count": metrics["eval_count"],
            "eval_duration": metrics["eval_duration"],
        }
        return {k: v for k, v in ordered.items() if v}

    async def _collect(
        self, items: AsyncIterator[dict[str, Any] | _StreamError], *, chat: bool
    ) -> _Result:
        content: list[str] = []
        thinking: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        final: dict[str, Any] = {}
        try:
            async for item in items:
                if isinstance(item, _StreamError):
                    raise _ApiError(item.status, item.message)
                if chat:
                    message = item["message"]
                    content.append(message.get("content", ""))
                    thinking.append(message.get("thinking", ""))
                    tool_calls.extend(message.get("tool_calls", []))
                else:
                    content.append(item.get("response", ""))
                    thinking.append(item.get("thinking", ""))
                    tool_calls.extend(item.get("tool_calls", []))
                if item.get("done"):
                    final = dict(item)
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()
        if chat:
            message_out: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
            if "".join(thinking):
                message_out["thinking"] = "".join(thinking)
            if tool_calls:
                message_out["tool_calls"] = tool_calls
            final["message"] = message_out
            ordered = {"model": final.pop("model"), "created_at": final.pop("created_at")}
            ordered["message"] = final.pop("message")
            ordered.update(final)
            return _Json(200, ordered)
        out: dict[str, Any] = {
            "model": final.get("model"),
            "created_at": final.get("created_at"),
            "response": "".join(content),
        }
        if "".join(thinking):
            out["thinking"] = "".join(thinking)
        for key, value in final.items():
            if key not in out and key != "thinking":
                out[key] = value
        if tool_calls:
            out["tool_calls"] = tool_calls
        return _Json(200, out)

    @staticmethod
    def _done_shortcut(model: str, reason: str, *, chat: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "created_at": _created_at()}
        if chat:
            body["message"] = {"role": "assistant", "content": ""}
        else:
            body["response"] = ""
        body["done"] = True
        body["done_reason"] = reason
        return body
