"""Delegation through real MCP clients: `files` read by the server from inside the client's roots
(or `file_roots`), put into the prompt under headers, images as images, every refusal made
before anything reaches the daemon, and the answer saying which files were read."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.server import MCPServer
from mcp.types import ListRootsResult, Root

from mcp_ollama.server import build_server
from tests.fake_ollama import FakeOllama, FakeServerHandle, serve_fake_ollama
from tests.mcp_helpers import error_text, isolated_settings, ok, text_of

pytestmark = pytest.mark.anyio

MODEL = "llama3.2:1b"
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
SOURCES = {
    "src/app.py": "def main():\n    return 'app'\n",
    "src/util.py": "X = 1\n",
    "src/pkg/deep.py": "DEEP = True\n",
    "README.md": "# Project\n",
}


@dataclass
class Delegation:
    """One fake daemon, a project directory, and two servers: one relying on the client's
    roots, one configured with `file_roots` (for clients that declare none)."""

    handle: FakeServerHandle
    project: Path
    outside: Path
    roots_server: MCPServer[Any]
    configured_server: MCPServer[Any]


def make_project(project: Path, outside: Path) -> None:
    for name, text in SOURCES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    (project / "src" / ".hidden.py").write_text("HIDDEN = 1\n", encoding="utf-8")
    (project / "diagram.png").write_bytes(PNG)
    (project / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (project / "long.txt").write_text("word " * 4_000, encoding="utf-8")
    (project / ".env").write_text("API_KEY=secret\n", encoding="utf-8")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    (outside / "secret.txt").write_text("not yours\n", encoding="utf-8")
    (project / "escape.txt").symlink_to(outside / "secret.txt")
    (project / "zero").symlink_to("/dev/zero")
    os.mkfifo(project / "pipe")


@pytest.fixture(scope="module")
def delegation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delegation]:
    base = tmp_path_factory.mktemp("delegation")
    project, outside = base / "project", base / "outside"
    for directory in (project, outside, base / "a", base / "b"):
        directory.mkdir()
    make_project(project, outside)
    with serve_fake_ollama(FakeOllama()) as handle:
        common: dict[str, Any] = {
            "host": handle.url,
            "auto_start": False,
            "cli_fallback": False,
            "max_file_bytes": 50_000,
        }
        roots = isolated_settings(base / "a", **common)
        configured = isolated_settings(base / "b", file_roots=[str(project)], **common)
        yield Delegation(handle, project, outside, build_server(roots), build_server(configured))


@pytest.fixture
def fake(delegation: Delegation) -> FakeOllama:
    delegation.handle.fake.reset()
    return delegation.handle.fake


def roots_callback(*directories: Path) -> Any:
    async def list_roots(context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=d.as_uri(), name=d.name) for d in directories])

    return list_roots


@pytest.fixture(params=["auto", "legacy", "file_roots"])
async def client(
    request: pytest.FixtureRequest, delegation: Delegation, fake: FakeOllama
) -> AsyncIterator[Client]:
    """A client in either protocol era whose root is the project directory, or one declaring no
    roots to a server whose `file_roots` is the project directory."""
    if request.param == "file_roots":
        async with Client(delegation.configured_server) as connected:
            yield connected
        return
    callback = roots_callback(delegation.project)
    async with Client(
        delegation.roots_server, mode=request.param, list_roots_callback=callback
    ) as connected:
        yield connected


async def generate(client: Client, **arguments: Any) -> Any:
    return await client.call_tool("generate_text", {"model": MODEL, **arguments})


def sent_prompt(fake: FakeOllama) -> str:
    (request,) = fake.requests_to("/api/generate")
    prompt: str = request.body["prompt"]
    return prompt


async def test_summarising_a_glob_sends_every_matching_file_under_its_header(
    client: Client, fake: FakeOllama
) -> None:
    result = await generate(client, prompt="Summarise", files=["src/*.py"], skills=["summarize"])
    data = ok(result)
    prompt = sent_prompt(fake)
    assert prompt == (
        "File: src/app.py\n```py\ndef main():\n    return 'app'\n```\n\n"
        "File: src/util.py\n```py\nX = 1\n```\n\n"
        "Summarise"
    )
    system = fake.requests_to("/api/generate")[0].body["system"]
    assert system.startswith("# A faithful, structured summary of the material")
    assert data["files"] == [
        {"path": "src/app.py", "bytes": 29, "image": False},
        {"path": "src/util.py", "bytes": 6, "image": False},
    ]
    assert data["text"]
    # The text stays the answer plus one short line.
    footer = text_of(result).removeprefix(data["text"] + "\n")
    assert "\n" not in footer
    assert "read 2 files (35 B)" in footer
    assert f"{data['usage']['prompt_tokens']:,} prompt tokens" in footer


async def test_globs_expand_in_a_stable_order_each_file_once_without_hidden_ones(
    client: Client, fake: FakeOllama
) -> None:
    files = ["src/**/*.py", "README.md", "src/app.py"]
    first = ok(await generate(client, prompt="x", files=files))["files"]
    second = ok(await generate(client, prompt="x", files=files))["files"]
    assert [f["path"] for f in first] == [
        "src/app.py",
        "src/pkg/deep.py",
        "src/util.py",
        "README.md",
    ]
    assert first == second


async def test_an_image_by_path_goes_to_the_model_as_an_image(
    client: Client, fake: FakeOllama
) -> None:
    data = ok(await generate(client, prompt="What is this?", files=["diagram.png"]))
    (request,) = fake.requests_to("/api/generate")
    assert request.body["images"] == [base64.b64encode(PNG).decode()]
    assert request.body["prompt"] == "File: diagram.png (attached as image 1)\n\nWhat is this?"
    assert data["files"] == [{"path": "diagram.png", "bytes": len(PNG), "image": True}]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("../outside/secret.txt", "'..' is not allowed"),
        ("<outside>/secret.txt", "is outside the client's roots"),
        ("escape.txt", "is outside the client's roots"),
        ("/dev/zero", "is outside the client's roots"),
        ("zero", "is outside the client's roots"),
        ("pipe", "is not a regular file"),
        (".env", "matches '.env' in file_deny"),
        (".git/config", "matches '.git/' in file_deny"),
        ("src", "is a directory"),
        ("blob.bin", "is binary"),
        ("missing.py", "does not exist"),
    ],
)
async def test_a_file_that_may_not_be_read_is_refused_and_nothing_reaches_the_daemon(
    client: Client,
    fake: FakeOllama,
    delegation: Delegation,
    path: str,
    expected: str,
    request: pytest.FixtureRequest,
) -> None:
    path = path.replace("<outside>", str(delegation.outside))
    text = error_text(await generate(client, prompt="Summarise", files=["src/app.py", path]))
    if request.node.callspec.params["client"] == "file_roots":
        expected = expected.replace("the client's roots", "file_roots")
    assert expected in text
    assert fake.requests == []


async def test_files_too_big_for_the_window_are_refused_before_any_generation(
    client: Client, fake: FakeOllama
) -> None:
    text = error_text(await generate(client, prompt="Summarise", files=["long.txt"]))
    assert "the prompt with its file comes to about 5,018 tokens" in text
    assert "more than the 3,276 that llama3.2:1b's context window of 4,096 tokens" in text
    assert "fewer or smaller files" in text
    assert "options.num_ctx (this model takes up to 131,072)" in text
    assert fake.requests_to("/api/generate") == []
    ok(await generate(client, prompt="Summarise", files=["long.txt"], options={"num_ctx": 8192}))


async def test_chat_puts_the_files_into_the_newest_user_message(
    client: Client, fake: FakeOllama
) -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "What does this do?"},
    ]
    result = await client.call_tool(
        "chat",
        {"model": MODEL, "messages": messages, "files": ["src/util.py", "diagram.png"]},
    )
    assert ok(result)["files"][1]["image"] is True
    sent = fake.requests_to("/api/chat")[0].body["messages"]
    assert sent[:2] == messages[:2]
    assert sent[2]["content"] == (
        "File: src/util.py\n```py\nX = 1\n```\n\n"
        "File: diagram.png (attached as image 1)\n\nWhat does this do?"
    )
    assert sent[2]["images"] == [base64.b64encode(PNG).decode()]


async def test_a_batch_reads_the_files_once_and_puts_them_before_every_prompt(
    client: Client, fake: FakeOllama
) -> None:
    result = await client.call_tool(
        "generate_batch",
        {"model": MODEL, "prompts": ["One?", "Two?"], "files": ["src/util.py"]},
    )
    data = ok(result)
    assert data["files"] == [{"path": "src/util.py", "bytes": 6, "image": False}]
    prompts = sorted(r.body["prompt"] for r in fake.requests_to("/api/generate"))
    assert prompts == [f"File: src/util.py\n```py\nX = 1\n```\n\n{q}" for q in ("One?", "Two?")]
    assert "read 1 file (6 B)" in text_of(result).splitlines()[0]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_without_roots_is_told_how_to_allow_a_directory(
    delegation: Delegation, fake: FakeOllama, mode: str
) -> None:
    async with Client(delegation.roots_server, mode=mode) as client:
        text = error_text(await generate(client, prompt="x", files=["README.md"]))
    assert "this client declares no roots" in text
    assert "MCP_OLLAMA_FILE_ROOTS" in text
    assert "file_roots = [" in text
    assert fake.requests == []


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_without_roots_reads_inside_file_roots_only(
    delegation: Delegation, fake: FakeOllama, mode: str
) -> None:
    async with Client(delegation.configured_server, mode=mode) as client:
        data = ok(await generate(client, prompt="x", files=["README.md"]))
        outside = str(delegation.outside / "secret.txt")
        refused = error_text(await generate(client, prompt="x", files=[outside]))
    assert data["files"] == [{"path": "README.md", "bytes": 10, "image": False}]
    assert "is outside file_roots" in refused


async def test_the_client_roots_win_over_file_roots(
    delegation: Delegation, fake: FakeOllama
) -> None:
    callback = roots_callback(delegation.outside)
    async with Client(delegation.configured_server, list_roots_callback=callback) as client:
        data = ok(await generate(client, prompt="x", files=["secret.txt"]))
        refused = error_text(await generate(client, prompt="x", files=["README.md"]))
    assert data["files"] == [{"path": "secret.txt", "bytes": 10, "image": False}]
    assert "does not exist in the client's roots" in refused


async def test_a_call_without_files_never_asks_for_roots(delegation: Delegation) -> None:
    asked = []

    async def list_roots(context: ClientRequestContext) -> ListRootsResult:
        asked.append(context)
        return ListRootsResult(roots=[])

    async with Client(delegation.roots_server, list_roots_callback=list_roots) as client:
        ok(await generate(client, prompt="x"))
    assert asked == []


async def test_an_http_server_reads_only_inside_file_roots(
    delegation: Delegation, fake: FakeOllama, tmp_path: Path
) -> None:
    network = isolated_settings(tmp_path, host=delegation.handle.url, transport="http")
    callback = roots_callback(delegation.project)
    async with Client(build_server(network), list_roots_callback=callback) as client:
        text = error_text(await generate(client, prompt="x", files=["README.md"]))
    assert "reads files only inside the file_roots setting" in text
    assert fake.requests == []
