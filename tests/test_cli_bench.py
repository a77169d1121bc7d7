"""`mcp-ollama bench` and `mcp-ollama compare` as a person runs them, against the fake daemon."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from mcp_ollama.cli.bench import ProgressBar
from tests.fake_ollama import FakeOllama, FakeServerHandle


def run_cli(
    *args: str, url: str, tmp_path: Path, log_level: str | None = "WARNING"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OLLAMA_HOST": url,
        "MCP_OLLAMA_AUTO_START": "false",
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
    }
    if log_level is not None:
        env["MCP_OLLAMA_LOG_LEVEL"] = log_level
    return subprocess.run(
        [sys.executable, "-m", "mcp_ollama", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_bench_prints_a_progress_bar_and_a_table_and_leaves_a_report(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    done = run_cli(
        "bench", "llama3.2:1b", "--runs", "2", "--warmup", "1", "--prompt", "Name a river.",
        "--option", "seed=7", url=fake_ollama.url, tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    bars = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert [line.split("] ")[1].split()[0] for line in bars] == ["1/3", "2/3", "3/3"]
    assert bars[-1].startswith("[" + "#" * 24 + "]")
    assert "metric" in done.stdout
    assert "gen tok/s" in done.stdout
    assert "TTFT ms" in done.stdout
    reports = list((tmp_path / "data" / "reports").glob("bench-*.json"))
    assert len(reports) == 1
    assert reports[0].stem in done.stdout
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    assert report["model"] == "llama3.2:1b"
    assert report["options"] == {"seed": 7, "num_predict": 256}
    assert len(report["metrics"]) == 2
    assert reports[0].with_suffix(".md").is_file()
    sent = [r.body["options"] for r in fake_ollama.fake.requests_to("/api/generate")]
    assert sent == [{"seed": 7, "num_predict": 256}] * 3


def test_compare_prints_models_side_by_side_and_saves_a_chart_even_when_one_fails(
    fake: FakeOllama, fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    fake.add_model("slow:1b", tokens_per_second=100)
    fake.add_model("quick:1b", tokens_per_second=400)
    done = run_cli(
        "compare", "slow:1b", "quick:1b", "ghost:1b", "--runs", "1", "--warmup", "0",
        "--max-tokens", "10", "--prompt", "Name a river.", url=fake_ollama.url, tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # a model failed; the others were still measured
    table = done.stdout.split("\n\n")[1].splitlines()
    rows = {line.split()[0]: line.split()[1] for line in table[2:]}
    assert rows == {"slow:1b": "ok", "quick:1b": "ok", "ghost:1b": "FAILED"}
    assert re.search(r"gen tok/s, best first: quick:1b \([\d.,]+\), slow:1b \(", done.stdout)
    assert "TTFT ms, best first: " in done.stdout
    assert " > " not in done.stdout
    assert "ghost:1b failed: model 'ghost:1b' is not installed" in done.stdout
    assert "`ollama pull ghost:1b`" in done.stdout
    assert "pull_model" not in done.stdout + done.stderr  # agent wording, not for a person
    charts = list((tmp_path / "data" / "reports").glob("compare-*.svg"))
    assert len(charts) == 1
    assert str(charts[0]) in done.stdout
    assert charts[0].with_suffix(".md").read_text(encoding="utf-8").count(charts[0].name) == 1


def test_a_bench_that_cannot_start_says_why_without_a_traceback(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    done = run_cli("bench", "llama3.2:1b", "--runs", "0", url=fake_ollama.url, tmp_path=tmp_path)
    assert done.returncode == 1
    assert "mcp-ollama bench: runs must be from 1 to 20, not 0" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data" / "reports").exists()


@pytest.mark.anyio
async def test_the_progress_bar_fills_in_proportion_to_the_runs_done() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10)
    await bar(1, 4, "warmup")
    await bar(4, 4, None)
    assert stream.getvalue().splitlines() == ["[##--------] 1/4 warmup", "[##########] 4/4"]
    with anyio.fail_after(1):  # a zero total (nothing planned) draws a full bar, not a crash
        await bar(0, 0, None)
    assert stream.getvalue().splitlines()[-1] == "[##########] 0/0"
