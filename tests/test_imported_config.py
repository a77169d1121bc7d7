"""`import_config` without persist: bounded, kept in the data directory for every server on it,
never replacing a built-in preset or the config file; `export_config` copies are pruned."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.generation.imported_config import IMPORTED_FILE, MAX_PRESETS
from mcp_ollama.generation.options import BUILTIN_PRESETS
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import block_text, error_text, ok

pytestmark = pytest.mark.anyio

MODEL = "llama3.2:1b"


@asynccontextmanager
async def server(settings: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode="legacy") as client:
        yield client


def presets_toml(names: list[str]) -> str:
    return "".join(f"[presets.{name}]\ntemperature = 0.5\n\n" for name in names)


async def sent_options(client: Client, fake: FakeOllama, **arguments: object) -> dict[str, object]:
    ok(await client.call_tool("generate_text", {"model": MODEL, "prompt": "hi", **arguments}))
    options = fake.requests_to("/api/generate")[-1].body.get("options") or {}
    return dict(options)


async def test_an_import_cannot_replace_a_built_in_preset(settings: Settings) -> None:
    async with server(settings) as client:
        refused = await client.call_tool(
            "import_config", {"content": "[presets.fast]\ntemperature = 2.0\n"}
        )
        fast = json.loads(block_text((await client.read_resource("presets://fast")).contents[0]))
    assert "built-in" in error_text(refused)
    assert fast["options"] == BUILTIN_PRESETS["fast"].options


async def test_imports_are_bounded_and_one_past_the_limit_changes_nothing(
    settings: Settings,
) -> None:
    first = [f"p{number}" for number in range(MAX_PRESETS - 4)]
    second = [f"q{number}" for number in range(8)]
    flood = [f"f{number}" for number in range(1200)]
    async with server(settings) as client:
        ok(await client.call_tool("import_config", {"content": presets_toml(first)}))
        over = await client.call_tool("import_config", {"content": presets_toml(second)})
        flooded = await client.call_tool("import_config", {"content": presets_toml(flood)})
        again = ok(await client.call_tool("import_config", {"content": presets_toml(first[:4])}))
        listed = ok(await client.call_tool("list_presets", {}))
    assert "over the limit of 64" in error_text(over)
    assert "over the limit" in error_text(flooded)
    assert again["presets"] == first[:4]  # replacing imported names stays within the limit
    assert [preset["name"] for preset in listed["presets"]] == [*BUILTIN_PRESETS, *first]


async def test_imports_are_kept_per_data_directory_for_every_server_on_it(
    settings: Settings, fake: FakeOllama, tmp_path: Path
) -> None:
    elsewhere = settings.model_copy(update={"data_dir": tmp_path / "other-data"})
    content = '[presets.terse]\nnum_predict = 16\n\n[models."llama3.2:1b"]\nnum_ctx = 2048\n'
    async with server(settings) as importer, server(settings) as neighbour:
        ok(await importer.call_tool("import_config", {"content": content}))
        assert await sent_options(neighbour, fake, preset="terse") == {
            "num_predict": 16,
            "num_ctx": 2048,
        }
    async with server(settings) as restarted:
        assert await sent_options(restarted, fake) == {"num_ctx": 2048}
    async with server(elsewhere) as other:
        assert await sent_options(other, fake) == {}
        assert "terse" in error_text(
            await other.call_tool(
                "generate_text", {"model": MODEL, "prompt": "hi", "preset": "terse"}
            )
        )
    assert (settings.data_dir / IMPORTED_FILE).is_file()


async def test_an_imported_model_option_is_undone_by_importing_an_empty_table(
    settings: Settings, fake: FakeOllama
) -> None:
    async with server(settings) as client:
        harmful = f'[models."{MODEL}"]\nnum_predict = 1\n'
        ok(await client.call_tool("import_config", {"content": harmful}))
        assert await sent_options(client, fake) == {"num_predict": 1}
        ok(await client.call_tool("import_config", {"content": f'[models."{MODEL}"]\n'}))
        assert await sent_options(client, fake) == {}


async def test_an_import_does_not_override_the_config_file(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"presets": {"review": {"temperature": 0.1}}, "models": {"qwen3": {"num_ctx": 8192}}}
    )
    async with server(configured) as client:
        preset = await client.call_tool(
            "import_config", {"content": "[presets.review]\ntemperature = 1.5\n"}
        )
        model = await client.call_tool(
            "import_config", {"content": '[models."qwen3:latest"]\nnum_ctx = 512\n'}
        )
    assert "persist=true" in error_text(preset)
    assert "config file" in error_text(model)


async def test_an_unusable_imported_file_is_ignored_and_generation_still_works(
    settings: Settings, fake: FakeOllama
) -> None:
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / IMPORTED_FILE).write_text("[presets.broken]\ntemperature = 9\n")
    async with server(settings) as client:
        assert await sent_options(client, fake) == {}
        ok(await client.call_tool("import_config", {"content": presets_toml(["fine"])}))
        listed = ok(await client.call_tool("list_presets", {}))
    assert "fine" in [preset["name"] for preset in listed["presets"]]


async def test_exported_copies_are_pruned_like_reports(settings: Settings) -> None:
    keep_three = settings.model_copy(update={"report_retention": 3})
    async with server(keep_three) as client:
        exported = [ok(await client.call_tool("export_config", {})) for _ in range(5)]
    kept = sorted(p.name for p in (settings.data_dir / "configs").iterdir())
    assert kept == sorted(Path(e["path"]).name for e in exported[-3:])
