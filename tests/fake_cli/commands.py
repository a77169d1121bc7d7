"""The commands that manage models: ``--version``, ``list``, ``ps``, ``show``, ``pull``,
``stop``, ``rm`` and ``cp``, each printing what the real CLI prints.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from tests.fake_cli.client import CLIENT_VERSION, CliError, _Client
from tests.fake_cli.flags import _require_args
from tests.fake_cli.formats import human_bytes, human_time, parse_go_time, render_table
from tests.fake_cli.goparse import ollama_base_url
from tests.fake_cli.terminal import _Bar, _Progress, _Spinner


def _client() -> _Client:
    return _Client(ollama_base_url(os.environ.get("OLLAMA_HOST")))


def _cmd_version() -> int:
    client = _client()
    server_version = ""
    try:
        data = client.do("GET", "/api/version")
        server_version = str((data or {}).get("version", ""))
    except CliError:
        print("Warning: could not connect to a running Ollama instance")
    if server_version:
        print(f"ollama version is {server_version}")
    if server_version != CLIENT_VERSION:
        print(f"Warning: client version is {CLIENT_VERSION}")
    return 0


def _cmd_list(client: _Client, args: Sequence[str]) -> int:
    data = client.do("GET", "/api/tags") or {}
    rows = []
    prefix = args[0].lower() if args else ""
    for model in data.get("models") or []:
        name = str(model.get("name", ""))
        if prefix and not name.lower().startswith(prefix):
            continue
        rows.append(
            [
                name,
                str(model.get("digest", ""))[:12],
                human_bytes(int(model.get("size", 0))) if model.get("size") else "-",
                human_time(parse_go_time(str(model.get("modified_at", "")))),
            ]
        )
    sys.stdout.write(render_table(rows, ["NAME", "ID", "SIZE", "MODIFIED"]))
    return 0


def _cmd_ps(client: _Client, args: Sequence[str]) -> int:
    data = client.do("GET", "/api/ps") or {}
    rows = []
    now = time.time()
    for model in data.get("models") or []:
        name = str(model.get("name", ""))
        if args and not name.startswith(args[0]):
            continue
        size = int(model.get("size", 0))
        vram = int(model.get("size_vram", 0))
        if vram == 0:
            processor = "100% CPU"
        elif vram == size:
            processor = "100% GPU"
        elif vram > size or size == 0:
            processor = "Unknown"
        else:
            cpu = round((size - vram) / size * 100)
            processor = f"{cpu}%/{100 - cpu}% CPU/GPU"
        expires = parse_go_time(str(model.get("expires_at", "")))
        if expires is not None and now - expires.timestamp() > 0:
            until = "Stopping..."
        else:
            until = human_time(expires, "Never", now=now)
        rows.append(
            [
                name,
                str(model.get("digest", ""))[:12],
                human_bytes(size),
                processor,
                str(model.get("context_length", "")),
                until,
            ]
        )
    header = ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    sys.stdout.write(render_table(rows, header))
    return 0


def _show_info(resp: dict[str, Any]) -> str:
    out: list[str] = []

    def section(title: str, rows: list[list[str]], col_width: int = 30) -> None:
        out.append(f"  {title}\n")
        out.append(render_table(rows, col_width=col_width))
        out.append("\n")

    info = resp.get("model_info") or {}
    details = resp.get("details") or {}
    rows: list[list[str]] = []
    if info:
        arch = str(info.get("general.architecture", ""))
        rows.append(["", "architecture", arch])
        rows.append(["", "parameters", str(details.get("parameter_size", ""))])
        for key, label in (
            ("context_length", "context length"),
            ("embedding_length", "embedding length"),
        ):
            value = info.get(f"{arch}.{key}")
            if isinstance(value, int | float):
                rows.append(["", label, str(int(value)) if value == int(value) else str(value)])
    else:
        rows.append(["", "architecture", str(details.get("family", ""))])
        rows.append(["", "parameters", str(details.get("parameter_size", ""))])
    rows.append(["", "quantization", str(details.get("quantization_level", ""))])
    section("Model", rows)

    capabilities = resp.get("capabilities") or []
    if capabilities:
        section("Capabilities", [["", str(c)] for c in capabilities])

    parameters = str(resp.get("parameters") or "")
    if parameters:
        section(
            "Parameters",
            [["", *line.split()] for line in parameters.splitlines() if line.strip()],
        )

    def head(text: str, limit: int) -> list[list[str]]:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        rows = [["", line] for line in lines[:limit]]
        if len(lines) > limit:
            rows.append(["", "..."])
        return rows

    if resp.get("system"):
        section("System", head(str(resp["system"]), 2), col_width=100)
    if resp.get("license"):
        section("License", head(str(resp["license"]), 2), col_width=100)
    return "".join(out)


def _cmd_show(client: _Client, args: Sequence[str], flags: dict[str, Any]) -> int:
    _require_args(args, exact=1)
    chosen = [
        f for f in ("license", "modelfile", "parameters", "system", "template") if flags.get(f)
    ]
    if len(chosen) > 1:
        raise CliError(
            "only one of '--license', '--modelfile', '--parameters', '--system', or "
            "'--template' can be specified"
        )
    resp = client.do("POST", "/api/show", {"model": args[0]}) or {}
    if chosen:
        print(resp.get(chosen[0], ""))
        return 0
    sys.stdout.write(_show_info(resp))
    return 0


def _pull(client: _Client, name: str, insecure: bool = False) -> None:
    progress = _Progress(sys.stderr)
    status = "pulling manifest"
    spinner = _Spinner(status)
    progress.add(spinner)
    bars: dict[str, _Bar] = {}
    body: dict[str, Any] = {"model": name}
    if insecure:
        body["insecure"] = True
    try:
        for item in client.stream("/api/pull", body):
            digest = str(item.get("digest") or "")
            if digest:
                spinner.stopped = True
                bar = bars.get(digest)
                if bar is None:
                    bar = _Bar(f"pulling {digest[7:19]}", int(item.get("total") or 0), 0)
                    bars[digest] = bar
                    progress.add(bar)
                bar.completed = int(item.get("completed") or 0)
            elif item.get("status") and item["status"] != status:
                spinner.stopped = True
                status = str(item["status"])
                spinner = _Spinner(status)
                progress.add(spinner)
    finally:
        progress.stop()


def _cmd_pull(client: _Client, args: Sequence[str], flags: dict[str, Any]) -> int:
    _require_args(args, exact=1)
    _pull(client, args[0], bool(flags.get("insecure")))
    return 0


def _unload(client: _Client, name: str) -> None:
    body = {
        "model": name,
        "prompt": "",
        "suffix": "",
        "system": "",
        "template": "",
        "keep_alive": "0s",
        "options": None,
    }
    for _ in client.stream("/api/generate", body):
        pass


def _cmd_stop(client: _Client, args: Sequence[str]) -> int:
    _require_args(args, exact=1)
    try:
        _unload(client, args[0])
    except CliError as exc:
        if "not found" in str(exc):
            raise CliError(f'couldn\'t find model "{args[0]}" to stop') from None
        raise
    return 0


def _cmd_rm(client: _Client, args: Sequence[str]) -> int:
    _require_args(args, minimum=1)
    for name in args:
        try:
            _unload(client, name)
        except CliError as exc:
            if "not found" not in str(exc):
                print(f"Warning: unable to stop model '{name}'", file=sys.stderr)
        client.do("DELETE", "/api/delete", {"model": name})
        print(f"deleted '{name}'")
    return 0


def _cmd_cp(client: _Client, args: Sequence[str]) -> int:
    _require_args(args, exact=2)
    client.do("POST", "/api/copy", {"source": args[0], "destination": args[1]})
    print(f"copied '{args[0]}' to '{args[1]}'")
    return 0
