"""The fake `ollama` executable prints what the real CLI prints: list, run, pull, show,
version, serve and its failure modes, the argv log, and the model-management commands.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.fake_fidelity.helpers import ANSI, BOUND, LineReader, free_port, run_cli, version_at
from tests.fake_ollama import FakeServerHandle, wait_until
from tests.fake_ollama_cli import install_fake_ollama_cli


@pytest.fixture
def cli(tmp_path: Path) -> Path:
    return install_fake_ollama_cli(tmp_path / "bin")


def test_cli_list_prints_the_tablewriter_table(cli: Path, served: FakeServerHandle) -> None:
    listing = run_cli(cli, "list", host=served.ollama_host)
    assert listing.returncode == 0
    assert listing.stderr == ""
    assert listing.stdout == (
        "NAME                       ID              SIZE      MODIFIED    \n"
        "qwen3:0.6b                 7df6b6e09427    522 MB    5 hours ago    \n"
        "llama3.2:1b                baf6a787fdff    1.3 GB    2 days ago     \n"
        "nomic-embed-text:latest    0a109f422b47    274 MB    3 weeks ago    \n"
    )


def test_cli_run_prints_the_answer_then_a_blank_line(cli: Path, served: FakeServerHandle) -> None:
    served.fake.response_text = "Paris is the capital of France."
    answer = run_cli(
        cli,
        "run",
        "llama3.2:1b",
        "Capital",
        "of",
        "France?",
        "--nowordwrap",
        host=served.ollama_host,
    )
    assert answer.returncode == 0
    assert answer.stdout == "Paris is the capital of France.\n\n"
    assert "\x1b[" in answer.stderr  # the spinner: callers must strip ANSI from stderr
    [request] = served.fake.requests_to("/api/generate")
    assert request.body == {
        "model": "llama3.2:1b",
        "prompt": " Capital of France?",  # stdin (DEVNULL, empty) is prepended with a space
        "suffix": "",
        "system": "",
        "template": "",
        "options": {},
    }

    thinking = run_cli(cli, "run", "qwen3:0.6b", "hi", "--nowordwrap", host=served.ollama_host)
    assert thinking.stdout.startswith("Thinking...\n")
    assert "\n...done thinking.\n\nParis is the capital of France.\n\n" in thinking.stdout
    hidden = run_cli(
        cli, "run", "qwen3:0.6b", "hi", "--hidethinking", "--nowordwrap", host=served.ollama_host
    )
    assert hidden.stdout == "Paris is the capital of France.\n\n"
    assert served.fake.requests_to("/api/generate")[-1].body["think"] is True


def test_cli_pull_show_and_missing_models(cli: Path, served: FakeServerHandle) -> None:
    pulled = run_cli(cli, "pull", "gemma3:270m", host=served.ollama_host)
    assert pulled.returncode == 0
    assert pulled.stdout == ""
    assert ANSI.sub("", pulled.stderr).rstrip().endswith("success")
    assert served.fake.get_model("gemma3:270m") is not None

    missing = run_cli(cli, "run", "no-such-model", "hi", "--nowordwrap", host=served.ollama_host)
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert missing.stderr.endswith("Error: pull model manifest: file does not exist\n")

    show = run_cli(cli, "show", "llama3.2:1b", host=served.ollama_host)
    assert show.stdout.startswith(
        "  Model\n"
        "    architecture        llama     \n"
        "    parameters          1.2B      \n"
        "    context length      131072    \n"
    )
    assert "  Capabilities\n    completion    \n    tools         \n\n" in show.stdout


def test_cli_version_and_an_unreachable_daemon(cli: Path, served: FakeServerHandle) -> None:
    version = run_cli(cli, "--version", host=served.ollama_host)
    assert (version.returncode, version.stdout) == (0, "ollama version is 0.12.3\n")

    nobody = f"127.0.0.1:{free_port()}"
    offline = run_cli(cli, "-v", host=nobody)
    assert offline.returncode == 0
    assert offline.stdout == (
        "Warning: could not connect to a running Ollama instance\n"
        "Warning: client version is 0.12.3\n"
    )
    listing = run_cli(cli, "list", host=nobody)
    assert listing.returncode == 1
    assert listing.stdout == ""
    assert listing.stderr == (
        "Error: could not connect to ollama server, run 'ollama serve' to start it\n"
    )


def test_cli_serve_starts_a_daemon_and_reports_a_busy_port(
    cli: Path, served: FakeServerHandle
) -> None:
    port = free_port()
    env = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{port}"}
    with subprocess.Popen(
        [str(cli), "serve"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        assert proc.stdout is not None
        reader = LineReader(proc.stderr)
        try:
            wait_until(
                lambda: proc.poll() is not None or version_at(port) is not None,
                timeout=BOUND,
                interval=0.05,
            )
            assert version_at(port) == "0.12.3"
            proc.terminate()
            assert proc.wait(BOUND) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(BOUND)
            reader.join()
        reader.wait_for(rf'msg="Listening on 127\.0\.0\.1:{port} \(version 0\.12\.3\)"')
        assert proc.stdout.read() == ""

    busy = run_cli(cli, "serve", host=served.ollama_host)
    assert busy.returncode == 1
    assert busy.stderr == (
        f"Error: listen tcp 127.0.0.1:{served.port}: bind: address already in use\n"
    )


def test_cli_serve_failure_modes(cli: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    failed = run_cli(cli, "serve", host=host, extra_env={"FAKE_OLLAMA_MODE": "fail_serve"})
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error: ")

    env = {**os.environ, "OLLAMA_HOST": host, "FAKE_OLLAMA_MODE": "never_ready"}
    with subprocess.Popen(
        [str(cli), "serve"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        reader = LineReader(proc.stderr)
        try:
            reader.wait_for("server config")
            assert version_at(int(host.rsplit(":", 1)[1])) is None
            proc.terminate()
            assert proc.wait(BOUND) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(BOUND)
            reader.join()


def test_cli_logs_argv_and_rejects_unknown_commands(
    cli: Path, served: FakeServerHandle, tmp_path: Path
) -> None:
    log = tmp_path / "argv.jsonl"
    extra = {"FAKE_OLLAMA_CLI_LOG": str(log)}
    assert run_cli(cli, "ls", host=served.ollama_host, extra_env=extra).returncode == 0
    unknown = run_cli(cli, "frobnicate", "--x", host=served.ollama_host, extra_env=extra)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith('Error: unknown command "frobnicate" for "ollama"\n')
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert logged == [["ls"], ["frobnicate", "--x"]]


def test_cli_model_management_commands(cli: Path, served: FakeServerHandle) -> None:
    host = served.ollama_host
    assert run_cli(cli, "cp", "llama3.2:1b", "mine", host=host).stdout == (
        "copied 'llama3.2:1b' to 'mine'\n"
    )
    assert run_cli(cli, "rm", "mine", host=host).stdout == "deleted 'mine'\n"
    gone = run_cli(cli, "rm", "mine", host=host)
    assert (gone.returncode, gone.stderr) == (1, "Error: model 'mine' not found\n")

    served.fake.load_model("llama3.2:1b")
    ps = run_cli(cli, "ps", host=host)
    assert ps.stdout.splitlines()[0].split() == [
        "NAME",
        "ID",
        "SIZE",
        "PROCESSOR",
        "CONTEXT",
        "UNTIL",
    ]
    assert "100% CPU     4096       4 minutes from now" in ps.stdout
    assert run_cli(cli, "stop", "llama3.2:1b", host=host).returncode == 0
    assert served.fake.loaded_models() == []
    missing = run_cli(cli, "stop", "nope", host=host)
    assert missing.stderr == 'Error: couldn\'t find model "nope" to stop\n'
