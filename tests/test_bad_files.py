"""One odd file in the data directory breaks nothing: reports and skills are read one by one,
a bad one skipped and named; no symbolic link inside the data directory is followed, for reading
or writing; what writers killed mid-save left behind is swept at start."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from mcp_ollama.storage import TEMP_SUFFIX
from tests.fake_ollama import FakeServerHandle
from tests.mcp_helpers import block_text, error_text, ok, poll

pytestmark = pytest.mark.anyio

MODEL = "llama3.2:1b"
BENCHMARK = {"model": MODEL, "prompts": ["Count to three"], "runs": 1, "warmup": 0}
ODD_REPORTS: dict[str, bytes] = {
    "compare-20200101-000000-aaaaaa.json": b'{"models": 5}',
    "bench-20200101-000000-bbbbbb.json": b'{"model": "x", "created_at": "\xff\xfe"}',
    "bench-20200101-000000-cccccc.json": b"[1, 2]",
    "compare-20200101-000000-dddddd.json": b'{"models": [{"model": 5}]}',
    "bench-20200101-000000-eeeeee.json": b'{"model": "x"',
}


@pytest.fixture
async def client(settings: Settings) -> Any:
    async with Client(build_server(settings), mode="legacy") as connected:
        yield connected


def write_odd_reports(reports: Path) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    for name, content in ODD_REPORTS.items():
        (reports / name).write_bytes(content)


async def test_odd_report_files_are_skipped_and_named_while_the_rest_lists(
    settings: Settings,
) -> None:
    write_odd_reports(settings.data_dir / "reports")
    async with Client(build_server(settings), mode="legacy") as client:
        saved = ok(await client.call_tool("benchmark_model", BENCHMARK))
        listed = ok(await client.call_tool("list_reports", {}))
        resource = await client.read_resource("reports://list")
    assert [r["id"] for r in listed["reports"]] == [saved["report_id"]]
    skipped = dict(entry.split(": ", 1) for entry in listed["skipped"])
    assert set(skipped) == set(ODD_REPORTS)
    assert "not a comparison report (models" in skipped["compare-20200101-000000-aaaaaa.json"]
    assert skipped["bench-20200101-000000-bbbbbb.json"] == "not UTF-8 text"
    assert "not valid JSON" in skipped["bench-20200101-000000-eeeeee.json"]
    assert saved["report_id"] in block_text(resource.contents[0])
    for name, content in ODD_REPORTS.items():  # left where they are, untouched
        assert (settings.data_dir / "reports" / name).read_bytes() == content


async def test_benchmarks_still_answer_and_prune_beside_an_odd_report_file(
    settings: Settings,
) -> None:
    keep_one = settings.model_copy(update={"report_retention": 1})
    write_odd_reports(keep_one.data_dir / "reports")
    async with Client(build_server(keep_one), mode="legacy") as client:
        first = ok(await client.call_tool("benchmark_model", BENCHMARK))
        second = ok(await client.call_tool("benchmark_model", BENCHMARK))
        listed = ok(await client.call_tool("list_reports", {}))
    assert first["report_id"] != second["report_id"]
    assert [r["id"] for r in listed["reports"]] == [second["report_id"]]  # the first was pruned
    assert not list((keep_one.data_dir / "reports").glob(f"{first['report_id']}.*"))


def as_an_ordinary_user() -> list[str]:
    """A command prefix under which file permissions apply: nothing for an ordinary user, and
    for root (whom they do not stop) root without the capabilities that override them."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, without setpriv to drop the permission override")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


async def test_an_unreadable_reports_folder_is_named_and_benchmarks_still_answer(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    reports = data_dir / "reports"
    reports.mkdir(parents=True)
    reports.chmod(0o300)  # files can be made and opened in it, but it cannot be listed
    command = [*as_an_ordinary_user(), sys.executable, "-m", "mcp_ollama"]
    params = StdioServerParameters(
        command=command[0],
        args=command[1:],
        env={
            "OLLAMA_HOST": fake_ollama.ollama_host,
            "MCP_OLLAMA_DATA_DIR": str(data_dir),
            "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
            "MCP_OLLAMA_AUTO_START": "false",
            "MCP_OLLAMA_TOOLS": "core,bench",
        },
    )
    try:
        with (tmp_path / "stderr.log").open("w", encoding="utf-8") as errlog, anyio.fail_after(60):
            async with Client(stdio_client(params, errlog=errlog)) as client:
                listed = await client.call_tool("list_reports", {})
                saved = ok(await client.call_tool("benchmark_model", BENCHMARK))
                report = ok(await client.call_tool("get_report", {"report_id": saved["report_id"]}))
    finally:
        reports.chmod(0o700)
    assert f"cannot list {reports}" in error_text(listed)
    assert "readable" in error_text(listed)
    assert saved["report_id"] in report["content"]
    assert (reports / f"{saved['report_id']}.json").is_file()  # saved once, no duplicates
    assert len(list(reports.glob("*.json"))) == 1


async def test_a_skill_file_that_is_not_utf8_or_is_a_link_is_skipped_and_named(
    settings: Settings, tmp_path: Path
) -> None:
    skills = settings.effective_skills_dir
    skills.mkdir(parents=True)
    (skills / "terse.md").write_text("# Terse\n\nOne sentence.\n", encoding="utf-8")
    (skills / "latin.md").write_bytes("# Caf\xe9\n".encode("latin-1"))
    secret = tmp_path / "secret.md"
    secret.write_text("a secret outside the data directory", encoding="utf-8")
    (skills / "outside.md").symlink_to(secret)
    async with Client(build_server(settings), mode="legacy") as client:
        listed = ok(await client.call_tool("list_skills", {}))
        linked = await client.call_tool(
            "generate_text", {"model": MODEL, "prompt": "hi", "skills": ["outside"]}
        )
    assert [s["name"] for s in listed["skills"] if not s["builtin"]] == ["terse"]
    skipped = dict(entry.split(": ", 1) for entry in listed["skipped"])
    assert set(skipped) == {"latin.md", "outside.md"}
    assert "not UTF-8" in skipped["latin.md"]
    assert "symbolic link" in skipped["outside.md"]
    assert "symbolic link" in error_text(linked)
    assert "a secret" not in json.dumps(listed) + error_text(linked)


async def test_no_link_inside_the_data_directory_is_followed_to_read_or_write(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    saved = ok(await client.call_tool("benchmark_model", BENCHMARK))
    reports = settings.data_dir / "reports"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside_report = elsewhere / "bench-20200101-000000-ffffff.json"
    shutil.copy(reports / f"{saved['report_id']}.json", outside_report)
    (reports / outside_report.name).symlink_to(outside_report)
    (settings.data_dir / "outputs").symlink_to(elsewhere, target_is_directory=True)

    listed = ok(await client.call_tool("list_reports", {}))
    read = await client.call_tool("get_report", {"report_id": outside_report.stem})
    written = await client.call_tool(
        "generate_text", {"model": MODEL, "prompt": "hi", "save_output": True}
    )
    assert [r["id"] for r in listed["reports"]] == [saved["report_id"]]
    assert "symbolic link" in listed["skipped"][0]
    assert "symbolic link" in error_text(read)
    assert "symbolic link" in error_text(written)
    assert sorted(p.name for p in elsewhere.iterdir()) == [outside_report.name]  # nothing new


async def test_what_killed_writers_left_behind_is_swept_at_start(settings: Settings) -> None:
    async with Client(build_server(settings), mode="legacy") as client:
        saved = ok(await client.call_tool("benchmark_model", BENCHMARK))
        ok(await client.call_tool("generate_text", {"model": MODEL, "prompt": "hi"}))
    reports = settings.data_dir / "reports"
    outputs = settings.data_dir / "outputs"
    outputs.mkdir(exist_ok=True)
    complete = sorted(p.name for p in reports.iterdir())
    hour_ago = time.time() - 2 * 3600
    stale = [
        reports / f".{saved['report_id']}.json.x1y2z3{TEMP_SUFFIX}",
        reports / "bench-20200101-000000-999999.md",
        reports / "compare-20200101-000000-999999.svg",
        reports / "compare-20200101-000000-999999.html",
        outputs / "output-20200101-000000-999999.md",
        settings.data_dir / f".sessions-export.json.a1b2c3{TEMP_SUFFIX}",
    ]
    for path in stale:
        path.write_text("left behind", encoding="utf-8")
        os.utime(path, (hour_ago, hour_ago))
    fresh = reports / f".bench-being-written.json.q9w8e7{TEMP_SUFFIX}"  # another server's
    fresh.write_text("being written", encoding="utf-8")

    async with Client(build_server(settings), mode="legacy"):
        await poll(lambda: not any(path.exists() for path in stale))
    assert fresh.exists()
    assert sorted(p.name for p in reports.iterdir()) == sorted([*complete, fresh.name])


async def test_a_conversation_database_that_is_a_link_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    elsewhere.write_bytes(b"")
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / "sessions.db").symlink_to(elsewhere)
    async with Client(build_server(settings), mode="legacy") as client:
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "session_id": "s"}
        refused = await client.call_tool("chat", chat)
    assert "symbolic link" in error_text(refused)
    assert elsewhere.read_bytes() == b""
