"""Several hosts from the human CLI: `doctor` reports each host, `compare --host` and `bench --host`
rank machines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet_helpers import FakeFleet, fake_fleet


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    with fake_fleet(tmp_path, ("gpu", "laptop")) as value:
        yield value


def run_cli(fleet: FakeFleet, *args: str) -> subprocess.CompletedProcess[str]:
    hosts = ",".join(f"{name}={handle.url}" for name, handle in fleet.handles.items())
    env = {
        **os.environ,
        "MCP_OLLAMA_HOSTS": hosts,
        "MCP_OLLAMA_AUTO_START": "false",
        "MCP_OLLAMA_LOG_LEVEL": "WARNING",
        "MCP_OLLAMA_DATA_DIR": str(fleet.settings.data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "mcp_ollama", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_doctor_reports_each_host_and_a_silent_one_as_a_warning(fleet: FakeFleet) -> None:
    fleet.handles["laptop"].stop()

    done = run_cli(fleet, "doctor")

    assert done.returncode == 0, done.stdout
    gpu, laptop = fleet.handles["gpu"].url, fleet.handles["laptop"].url
    assert f"[  ok] host gpu        {gpu} answers" in done.stdout
    assert "[FAIL] host laptop" in done.stdout
    assert f"warning: laptop: Ollama does not answer at {laptop}" in done.stdout
    assert "meanwhile calls go to the other hosts" in done.stdout
    listed = re.search(r"^MCP tools \((\d+)\): generate_text, chat, embed,", done.stdout, re.M)
    assert listed is not None
    assert int(listed[1]) > 0

    report = json.loads(run_cli(fleet, "doctor", "--json").stdout)
    assert [(h["name"], h["reachable"]) for h in report["hosts"]] == [
        ("gpu", True),
        ("laptop", False),
    ]


def test_compare_with_two_hosts_ranks_the_machines(fleet: FakeFleet) -> None:
    fleet.fake("gpu").tokens_per_second = 400.0
    fleet.fake("laptop").tokens_per_second = 100.0

    done = run_cli(
        fleet, "compare", "llama3.2:1b", "--host", "gpu", "--host", "laptop",
        "--runs", "1", "--warmup", "0", "--max-tokens", "8", "--prompt", "Name a river.",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    ranking = next(line for line in done.stdout.splitlines() if line.startswith("gen tok/s"))
    assert ranking.index("llama3.2:1b@gpu") < ranking.index("llama3.2:1b@laptop")
    assert "Report compare-" in done.stdout


def test_bench_with_two_hosts_ranks_the_machines(fleet: FakeFleet) -> None:
    fleet.fake("gpu").tokens_per_second = 100.0
    fleet.fake("laptop").tokens_per_second = 400.0

    done = run_cli(
        fleet, "bench", "llama3.2:1b", "--host", "gpu", "--host", "laptop",
        "--runs", "1", "--warmup", "0", "--max-tokens", "8", "--prompt", "Name a river.",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Benchmark of llama3.2:1b on 2 hosts: 1 prompt(s) x 1 run(s)")
    ranking = next(line for line in done.stdout.splitlines() if line.startswith("gen tok/s"))
    assert ranking.index("llama3.2:1b@laptop") < ranking.index("llama3.2:1b@gpu")
    assert "Report compare-" in done.stdout
