"""The fake daemon's fault modes fail the way a real daemon does (HTTP errors, dropped and
stalled streams, bad and error lines, limited by count and path), and its server stops,
restarts and runs as a process within bounded time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import httpx2
import ollama
import pytest

from tests.fake_fidelity.helpers import BOUND, ROOT, LineReader, read_lines, version_at
from tests.fake_ollama import (
    BUSY_MESSAGE,
    RUNNER_DIED_MESSAGE,
    FakeOllama,
    serve_fake_ollama,
)


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [("http_500", 500, RUNNER_DIED_MESSAGE), ("http_503", 503, BUSY_MESSAGE)],
)
def test_http_faults_fail_before_streaming_but_spare_liveness(
    client: ollama.Client,
    http: httpx2.Client,
    daemon: FakeOllama,
    fault: str,
    status: int,
    message: str,
) -> None:
    daemon.fault = fault
    with pytest.raises(ollama.ResponseError) as info:
        list(client.generate(model="llama3.2:1b", prompt="hi", stream=True))
    assert info.value.status_code == status
    assert info.value.error == message
    assert http.get("/api/version").status_code == 200
    assert http.get("/api/tags").status_code == status


def test_drop_mid_stream_cuts_the_chunked_body(http: httpx2.Client, daemon: FakeOllama) -> None:
    daemon.fault = "drop_mid_stream"
    received: list[str] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        read_lines(http, "/api/generate", {"model": "llama3.2:1b", "prompt": "x"}, received)
    assert len(received) == daemon.fault_after_chunks
    with pytest.raises(httpx2.RemoteProtocolError):
        http.get("/api/tags")


def test_malformed_line_breaks_json_decoding(client: ollama.Client, daemon: FakeOllama) -> None:
    daemon.fault = "malformed_line"
    with pytest.raises(json.JSONDecodeError):
        list(client.generate(model="llama3.2:1b", prompt="hi", stream=True))


def test_error_line_arrives_inside_a_200_stream(
    client: ollama.Client, http: httpx2.Client, daemon: FakeOllama
) -> None:
    daemon.set_fault("error_line", count=1)
    with http.stream("POST", "/api/pull", json={"model": "gemma3:270m"}) as response:
        assert response.status_code == 200
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert lines[-1] == {"error": RUNNER_DIED_MESSAGE}
    assert len(lines) == daemon.fault_after_chunks + 1
    assert daemon.fault is None

    daemon.fault = "error_line"
    with pytest.raises(ollama.ResponseError) as info:
        list(
            client.chat(
                model="llama3.2:1b", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )
    assert info.value.status_code == -1
    assert info.value.error == RUNNER_DIED_MESSAGE


def test_fault_count_and_paths_limit_the_fault(client: ollama.Client, daemon: FakeOllama) -> None:
    daemon.set_fault("http_500", count=2, paths={"/api/generate"})
    assert client.list().models
    for _ in range(2):
        with pytest.raises(ollama.ResponseError):
            client.generate(model="llama3.2:1b", prompt="hi")
    assert client.generate(model="llama3.2:1b", prompt="hi").done
    assert daemon.fault is None


def test_slow_fault_stalls_after_the_first_chunk_and_shutdown_stays_bounded() -> None:
    fake = FakeOllama()
    fake.fault = "slow"
    body = {"model": "llama3.2:1b", "prompt": "x"}
    with serve_fake_ollama(fake) as handle:
        timeout = httpx2.Timeout(BOUND, read=0.3)
        with httpx2.Client(base_url=handle.url, timeout=timeout) as http:
            received: list[str] = []
            with pytest.raises(httpx2.ReadTimeout):
                read_lines(http, "/api/generate", body, received)
            assert len(received) == 1
            assert fake.disconnected.wait(BOUND)

            with http.stream("POST", "/api/generate", json=body) as stalled:
                lines = stalled.iter_lines()
                assert json.loads(next(lines))["done"] is False
                handle.stop(timeout=BOUND)  # raises if a stalled stream kept it alive
                with pytest.raises(httpx2.RemoteProtocolError):
                    list(lines)
    assert not handle.running


def test_pull_hang_never_finishes_until_the_client_leaves(
    http: httpx2.Client, daemon: FakeOllama
) -> None:
    daemon.pull_hang = True
    with http.stream("POST", "/api/pull", json={"model": "gemma3:270m"}) as response:
        lines = response.iter_lines()
        statuses = [json.loads(next(lines))["status"] for _ in range(3)]
    assert statuses[0] == "pulling manifest"
    assert statuses[1].startswith("pulling ")
    assert daemon.disconnected.wait(BOUND)
    assert daemon.get_model("gemma3:270m") is None


def test_stopped_server_refuses_connections_and_restarts_on_the_same_port() -> None:
    with serve_fake_ollama() as handle, httpx2.Client(timeout=BOUND) as http:
        port = handle.port
        handle.stop()
        with pytest.raises(httpx2.ConnectError):
            http.get(f"{handle.url}/api/version")
        handle.start()
        assert handle.port == port
        assert http.get(f"{handle.url}/api/version").json() == {"version": "0.12.3"}


def test_module_runs_as_a_process_until_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.fake_ollama", "--host", "127.0.0.1", "--port", "0"]
    with subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        assert proc.stdout is not None
        reader = LineReader(proc.stderr)
        try:
            match = reader.wait_for(r'msg="Listening on 127\.0\.0\.1:(\d+) \(version 0\.12\.3\)"')
            assert version_at(int(match.group(1))) == "0.12.3"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(BOUND) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(BOUND)
            reader.join()
        assert proc.stdout.read() == ""
    assert re.match(r"time=\S+ level=INFO source=routes\.go:\d+ msg=", reader.seen[0])
