"""Helpers shared by the tests of the fakes (this folder): the bound on every wait, running the fake
``ollama`` executable, free ports, reading streamed lines, and `LineReader`, which reads a
subprocess pipe on a thread so that waits on its output stay bounded.
"""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

import httpx2

ROOT = Path(__file__).resolve().parents[2]
BOUND = 10.0  # upper bound for every wait in these tests
JSON_CT = "application/json; charset=utf-8"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_cli(
    cli: Path, *args: str, host: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OLLAMA_HOST": host, **(extra_env or {})}
    return subprocess.run(
        [str(cli), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def version_at(port: int) -> str | None:
    try:
        response = httpx2.get(f"http://127.0.0.1:{port}/api/version", timeout=1.0)
    except httpx2.HTTPError:
        return None
    version: str = response.json()["version"]
    return version


def eval_rate(response: Any) -> float:
    rate: float = response.eval_count / response.eval_duration * 1e9
    return rate


def read_lines(http: httpx2.Client, path: str, body: Any, sink: list[str]) -> None:
    """Stream a POST and collect its non-empty lines into ``sink`` (kept if it fails)."""
    with http.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        sink.extend(line for line in response.iter_lines() if line)


class LineReader:
    """Reads a subprocess pipe on a thread so that waits on its output stay bounded."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, pattern: str, timeout: float = BOUND) -> re.Match[str]:
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                try:
                    line = self._lines.get(timeout=0.05)
                except queue.Empty:
                    continue
                if line is None:
                    break
                self.seen.append(line)
                if match := re.search(pattern, line):
                    return match
        finally:
            timer.cancel()
        raise AssertionError(f"{pattern!r} not seen; got {self.seen!r}")

    def join(self) -> None:
        self._thread.join(BOUND)
