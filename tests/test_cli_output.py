"""The human CLI and the logs: the progress bar always ends on its own line, commands a person
runs log only warnings unless asked (-v), rankings say "best first", chart titles fit, NO_COLOR
is honoured, and every logger (ours, uvicorn's, the SDK's) writes one format, one JSON line per
event with the exception as a field."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mcp_ollama.bench.charts import TITLE_EM, TITLE_SIZE, ChartRow, comparison_chart
from mcp_ollama.cli.terminal import ProgressBar, Terminal
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.test_cli_bench import run_cli

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"


class FakeTTY(io.StringIO):
    """A terminal, as far as `isatty()` tells."""

    def isatty(self) -> bool:
        return True


def on_a_terminal(
    argv: list[str], env: dict[str, str], *, stdout: bool, timeout: float = 60
) -> tuple[int, str]:
    """Run `argv` with stderr (and `stdout`) on a pseudo-terminal; its exit code and all it
    wrote there, read until it closes the terminal (bounded by `timeout`)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=follower if stdout else subprocess.DEVNULL,
        stderr=follower, env=env,
    )  # fmt: skip
    os.close(follower)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    try:
        while select.select([leader], [], [], max(0.0, deadline - time.monotonic()))[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        else:
            process.kill()
            pytest.fail(f"{argv} still wrote to the terminal after {timeout:g} s")
        code = process.wait(timeout=timeout)
    finally:
        os.close(leader)
    return code, b"".join(chunks).decode().replace("\r\n", "\n")


def screen(text: str) -> list[str]:
    """The lines a terminal shows: a carriage return redraws the line it is on."""
    return [line.rsplit("\r", 1)[-1].replace("\x1b[2K", "") for line in text.split("\n")]


@pytest.mark.anyio
async def test_a_line_written_during_a_run_never_shares_the_bars_line() -> None:
    stream = FakeTTY()
    bar = ProgressBar(Terminal(stream), width=4)

    await bar(27, 36, "slow:1b")
    bar.terminal.write("a warning\n")
    await bar(28, 36, "slow:1b")
    bar.finish()
    bar.finish()  # ending twice is harmless

    shown = screen(stream.getvalue())
    assert shown == ["[###-] 27/36 slow:1b", "a warning", "[###-] 28/36 slow:1b", ""]


def test_the_bar_ends_on_its_own_line_when_the_last_model_fails(
    fake: FakeOllama, fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    env = {**os.environ, "OLLAMA_HOST": fake_ollama.url, "MCP_OLLAMA_AUTO_START": "false",
           "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    args = ["compare", "llama3.2:1b", "ghost:1b", "--runs", "1", "--warmup", "0", "--prompt", "x"]

    # stdout and stderr on one terminal, as a person sees them
    code, shown = on_a_terminal([sys.executable, "-m", "mcp_ollama", *args], env, stdout=True)

    assert code == 1
    lines = screen(shown)
    bar = next(line for line in lines if line.startswith("[#"))
    assert bar.endswith("llama3.2:1b: prompt1, run 1/1, 2000.0 tokens/s")
    assert any(line.startswith("Comparison: 1 prompt(s)") for line in lines)
    failed = "ghost:1b failed: model 'ghost:1b' is not installed"
    assert any(line.startswith(failed) for line in lines)


def test_commands_for_people_log_only_warnings_unless_asked(
    fake_ollama: FakeServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("bench", "llama3.2:1b", "--runs", "1", "--warmup", "0", "--prompt", "x")
    monkeypatch.setenv("MCP_OLLAMA_LOG_LEVEL", "INFO")  # the server's level, not a person's

    quiet = run_cli(*args, url=fake_ollama.url, tmp_path=tmp_path, log_level=None)
    verbose = run_cli(*args, "-v", url=fake_ollama.url, tmp_path=tmp_path, log_level=None)

    assert quiet.returncode == verbose.returncode == 0
    assert "report saved" not in quiet.stderr
    assert "report saved" in verbose.stderr
    assert "report saved" not in quiet.stdout + verbose.stdout


def test_rankings_say_best_first_and_never_use_greater_than_for_lower_is_better(
    fake: FakeOllama, fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    fake.add_model("slow:1b", tokens_per_second=100, ttft=0.05)
    done = run_cli(
        "compare", "slow:1b", "llama3.2:1b", "--runs", "1", "--warmup", "0", "--prompt", "x",
        url=fake_ollama.url, tmp_path=tmp_path,
    )  # fmt: skip

    rankings = [line for line in done.stdout.splitlines() if "best first" in line]
    assert rankings[0].startswith("gen tok/s, best first: llama3.2:1b (")
    assert any(line.startswith("TTFT ms, best first: llama3.2:1b (") for line in rankings)
    assert all(" > " not in line for line in rankings)


def test_bench_and_compare_label_the_same_metrics_the_same_way(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    common = ("--runs", "1", "--warmup", "0", "--prompt", "x", "--no-save")
    bench = run_cli("bench", "llama3.2:1b", *common, url=fake_ollama.url, tmp_path=tmp_path)
    compare = run_cli(
        "compare", "llama3.2:1b", "qwen3:0.6b", *common, url=fake_ollama.url, tmp_path=tmp_path
    )

    bench_rows = {re.split(r"\s{2,}", line)[0] for line in bench.stdout.splitlines()[4:]}
    header = compare.stdout.split("\n\n")[1].splitlines()[0]
    for label in ("gen tok/s", "prompt tok/s", "TTFT ms", "load ms", "total ms"):
        assert label in bench_rows
        assert label in header


def test_a_long_chart_title_wraps_within_the_canvas() -> None:
    names = [f"hf.co/bartowski/Llama-3.2-{n}B-Instruct-GGUF:Q4_K_M" for n in (1, 3, 8)]
    title = "Model comparison: " + " vs ".join(names)

    root = ET.fromstring(comparison_chart([ChartRow(n, 10, 5) for n in names], title=title)
                         .split("\n", 1)[1])  # fmt: skip

    width = float(root.attrib["width"])
    heading = [t for t in root.iter(f"{SVG}text") if t.attrib.get("font-size") == str(TITLE_SIZE)]
    assert len(heading) > 1
    assert " ".join(t.text or "" for t in heading) == title
    for line in heading:
        assert float(line.attrib["x"]) + len(line.text or "") * TITLE_SIZE * TITLE_EM <= width
    panel_titles = [t for t in root.iter(f"{SVG}text") if t.attrib.get("font-size") == "13"]
    assert min(float(t.attrib["y"]) for t in panel_titles) > max(
        float(t.attrib["y"]) for t in heading
    )


LOG_PROBE = """
import logging, structlog
from mcp_ollama.log import configure_logging
configure_logging("INFO", json={json})
structlog.get_logger().warning("ours", model="m")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("uvicorn.error").exception("theirs %s", "failed")
    structlog.get_logger().exception("ours failed")
logging.getLogger("mcp.server").info("sdk line")
"""


def run_probe(*, json_mode: bool, env: dict[str, str] | None = None) -> str:
    """stderr of a process that logs through our logging, stdlib and structlog alike."""
    code, shown = on_a_terminal(
        [sys.executable, "-c", LOG_PROBE.format(json=json_mode)],
        {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=False,
    )
    assert code == 0
    return shown


def test_json_logs_are_one_line_per_event_for_every_logger_with_exceptions_as_a_field() -> None:
    lines = run_probe(json_mode=True).strip().splitlines()

    events = [json.loads(line) for line in lines]  # every line is one JSON event
    assert [e["event"] for e in events] == ["ours", "theirs failed", "ours failed", "sdk line"]
    assert {e["level"] for e in events} == {"warning", "error", "info"}
    assert all("timestamp" in e for e in events)
    theirs = events[1]
    assert theirs["logger"] == "uvicorn.error"
    assert theirs["exception"][0]["exc_type"] == "ZeroDivisionError"
    assert events[2]["exception"][0]["exc_type"] == "ZeroDivisionError"


def test_no_color_turns_colours_off_on_a_terminal() -> None:
    assert "\x1b[" in run_probe(json_mode=False)
    plain = run_probe(json_mode=False, env={"NO_COLOR": "1"})
    assert "\x1b[" not in plain
    assert "theirs failed" in plain
    assert "sdk line" in plain
