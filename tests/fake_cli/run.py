"""``ollama run``: one prompt to a model (pulled first when missing), its answer streamed with
thinking shown or hidden, embeddings for embedding models, and the ``--verbose`` summary.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from tests.fake_cli.client import CliError, _Client, _StatusError
from tests.fake_cli.commands import _pull
from tests.fake_cli.flags import _require_args
from tests.fake_cli.goparse import GoDurationError, go_duration_string, parse_go_duration
from tests.fake_cli.terminal import _display, _Progress, _Spinner, _WrapState


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
