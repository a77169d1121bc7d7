"""The benchmark, report and preset tools and resources, through real MCP clients (both eras)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS, ResourceTemplateReference

from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import block_text, effective_hints

pytestmark = pytest.mark.anyio


async def test_compare_models_ranks_then_the_report_reads_back_as_json_and_markdown(
    mcp_client: Client, fake: FakeOllama
) -> None:
    fake.add_model("slow:1b", tokens_per_second=100)
    fake.add_model("quick:1b", tokens_per_second=400)
    result = await mcp_client.call_tool(
        "compare_models",
        {
            "models": ["slow:1b", "quick:1b", "nope:1b"],
            "prompts": ["Name a river."],
            "runs": 1,
            "max_tokens": 10,
        },
    )
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None
    assert [e["model"] for e in data["rankings"]["tokens_per_second"]] == ["quick:1b", "slow:1b"]
    assert data["failed"] == ["nope:1b"]  # one missing model does not fail the comparison
    report_id = data["report_id"]

    as_json = await mcp_client.read_resource(f"reports://{report_id}")
    assert as_json.contents[0].mime_type == "application/json"
    report = json.loads(block_text(as_json.contents[0]))
    assert report["rankings"] == data["rankings"]
    assert [m["model"] for m in report["models"]] == ["slow:1b", "quick:1b", "nope:1b"]

    as_markdown = await mcp_client.read_resource(f"reports://{report_id}/markdown")
    assert as_markdown.contents[0].mime_type == "text/markdown"
    markdown = block_text(as_markdown.contents[0])
    assert markdown.startswith("# Model comparison: slow:1b vs quick:1b vs nope:1b")
    assert "1. quick:1b" in markdown

    chart = await mcp_client.read_resource(f"reports://{report_id}/chart")
    assert chart.contents[0].mime_type == "image/svg+xml"
    assert 'xmlns="http://www.w3.org/2000/svg"' in block_text(chart.contents[0])


async def test_benchmark_model_sends_one_progress_notification_per_run(
    mcp_client: Client,
) -> None:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    result = await mcp_client.call_tool(
        "benchmark_model",
        {"model": "llama3.2:1b", "prompts": ["a", "b"], "runs": 2, "warmup": 1, "max_tokens": 8},
        progress_callback=on_progress,
    )
    assert not result.is_error, result.content
    assert seen == [(i, 6) for i in range(1, 7)]
    data = result.structured_content
    assert data is not None
    assert len(data["metrics"]) == 4
    stats = set(data["summary"]["tokens_per_second"])
    assert stats == {"mean", "median", "p95", "min", "max", "count"}


async def test_a_benchmark_can_skip_saving_its_report(
    mcp_client: Client, settings: Settings
) -> None:
    result = await mcp_client.call_tool(
        "benchmark_model",
        {"model": "llama3.2:1b", "prompts": ["a"], "runs": 1, "warmup": 0, "save_report": False},
    )
    assert result.structured_content is not None
    assert "report_id" not in result.structured_content  # null fields are left out
    assert not (settings.data_dir / "reports").exists()


async def test_saved_reports_are_listed_newest_first_by_tool_and_resource(
    mcp_client: Client,
) -> None:
    ids = []
    for model in ("llama3.2:1b", "qwen3:0.6b"):
        result = await mcp_client.call_tool(
            "benchmark_model",
            {"model": model, "prompts": ["a"], "runs": 1, "warmup": 0, "max_tokens": 8},
        )
        assert result.structured_content is not None
        ids.append(result.structured_content["report_id"])
    listed = await mcp_client.call_tool("list_reports", {})
    assert listed.structured_content is not None
    assert [r["id"] for r in listed.structured_content["reports"]] == ids[::-1]
    resource = json.loads(
        block_text((await mcp_client.read_resource("reports://list")).contents[0])
    )
    assert [r["id"] for r in resource["reports"]] == ids[::-1]
    got = await mcp_client.call_tool("get_report", {"report_id": ids[0]})
    assert got.structured_content is not None
    assert got.structured_content["content"].startswith("# Benchmark: llama3.2:1b")
    template = ResourceTemplateReference(type="ref/resource", uri="reports://{report_id}/markdown")
    completion = await mcp_client.complete(template, {"name": "report_id", "value": "bench-"})
    assert sorted(completion.completion.values) == sorted(ids)
    presets = ResourceTemplateReference(type="ref/resource", uri="presets://{name}")
    completion = await mcp_client.complete(presets, {"name": "name", "value": "pre"})
    assert completion.completion.values == ["precise"]


BAD_CALLS = [
    ("compare_models", {"models": ["llama3.2:1b"]}, "needs at least two models; use benchmark"),
    ("compare_models", {"models": ["llama3.2:1b", "llama3.2:1b"]}, "listed twice"),
    ("benchmark_model", {"model": "llama3.2:1b", "preset": "turbo"}, "available presets"),
    ("benchmark_model", {"model": "llama3.2:1b", "options": {"temprature": 1}}, "Valid"),
    ("benchmark_model", {"model": "ghost:1b", "runs": 1}, "pull_model"),
    ("get_report", {"report_id": "../../etc/passwd"}, "invalid report id"),
    ("get_report", {"report_id": "bench-20200101-000000-abcdef"}, "list_reports"),
    ("import_config", {}, "either `content` or `config_id`"),
]


async def test_bad_calls_return_errors_an_agent_can_act_on(mcp_client: Client) -> None:
    for tool, arguments, fragment in BAD_CALLS:
        result = await mcp_client.call_tool(tool, arguments)
        assert result.is_error, tool
        assert fragment in block_text(result.content[0])


UNKNOWN_URIS = [
    "reports://bench-20200101-000000-abcdef",
    "reports://bench-20200101-000000-abcdef/markdown",
    "reports://bench-20200101-000000-abcdef/chart",
    "reports://..%2F..%2Fetc%2Fpasswd",
    "presets://turbo",
]


async def test_unknown_or_unsafe_resources_are_not_found(mcp_client: Client) -> None:
    for uri in UNKNOWN_URIS:
        with pytest.raises(MCPError) as excinfo:
            await mcp_client.read_resource(uri)
        assert excinfo.value.code == INVALID_PARAMS, uri


async def test_presets_are_resources_and_a_tool(mcp_client: Client) -> None:
    listing = json.loads(block_text((await mcp_client.read_resource("presets://all")).contents[0]))
    names = [p["name"] for p in listing["presets"]]
    assert names[:5] == ["fast", "creative", "balanced", "precise", "long_form"]
    fast = json.loads(block_text((await mcp_client.read_resource("presets://fast")).contents[0]))
    assert fast["options"] == {"temperature": 0.1, "top_p": 0.5, "num_predict": 512}
    assert fast["timeout"] == 60
    tool = await mcp_client.call_tool("list_presets", {})
    assert tool.structured_content is not None
    assert "explicit options > preset" in tool.structured_content["precedence"]


CONFIG = (
    '[presets.terse]\ntemperature = 0.15\nnum_predict = 32\n\n[models."qwen3"]\nnum_ctx = 2048\n'
)


async def test_an_imported_preset_is_used_by_generate_text_and_exported_again(
    mcp_client: Client, fake: FakeOllama
) -> None:
    imported = await mcp_client.call_tool(
        "import_config",
        {"content": CONFIG},
    )
    assert not imported.is_error, imported.content
    assert imported.structured_content is not None
    assert imported.structured_content["presets"] == ["terse"]

    await mcp_client.call_tool(
        "generate_text",
        {"model": "qwen3:0.6b", "prompt": "hi", "preset": "terse", "options": {"seed": 4}},
    )
    sent = fake.requests_to("/api/generate")[-1].body["options"]
    assert sent == {"temperature": 0.15, "num_predict": 32, "num_ctx": 2048, "seed": 4}

    preset = json.loads(block_text((await mcp_client.read_resource("presets://terse")).contents[0]))
    assert preset["options"] == {"temperature": 0.15, "num_predict": 32}

    exported = await mcp_client.call_tool("export_config", {})
    data = exported.structured_content
    assert data is not None
    assert "[presets.terse]" in data["toml"]
    assert "[models.qwen3]" in data["toml"]
    assert Path(data["path"]).read_text(encoding="utf-8") == data["toml"]
    again = await mcp_client.call_tool("import_config", {"config_id": data["config_id"]})
    assert not again.is_error, again.content


async def test_a_bad_import_changes_nothing_and_validation_explains_why(
    mcp_client: Client,
) -> None:
    content = "[presets.ok]\nseed = 1\n\n[presets.hot]\ntemperature = 9\n"
    result = await mcp_client.call_tool("import_config", {"content": content})
    assert result.is_error
    assert "preset 'hot'" in block_text(result.content[0])
    with pytest.raises(MCPError):
        await mcp_client.read_resource("presets://ok")
    check = await mcp_client.call_tool("validate_config", {"content": content})
    assert check.structured_content is not None
    assert check.structured_content["valid"] is False
    assert check.structured_content["presets"] == ["hot", "ok"]


async def test_generate_text_and_chat_can_save_their_output(
    mcp_client: Client, settings: Settings
) -> None:
    generated = await mcp_client.call_tool(
        "generate_text", {"model": "llama3.2:1b", "prompt": "hi", "save_output": True}
    )
    chatted = await mcp_client.call_tool(
        "chat",
        {
            "model": "llama3.2:1b",
            "messages": [{"role": "user", "content": "hello"}],
            "save_output": True,
        },
    )
    for result, tool in ((generated, "generate_text"), (chatted, "chat")):
        assert result.structured_content is not None, result.content
        output_id = result.structured_content["saved_output"]
        record = json.loads(
            (settings.data_dir / "outputs" / f"{output_id}.json").read_text(encoding="utf-8")
        )
        assert record["tool"] == tool
        assert record["result"]["saved_output"] == output_id
    plain = await mcp_client.call_tool("generate_text", {"model": "llama3.2:1b", "prompt": "hi"})
    assert plain.structured_content is not None
    assert "saved_output" not in plain.structured_content  # null fields are left out


async def test_the_report_tools_say_what_they_change(mcp_client: Client) -> None:
    tools = {t.name: t for t in (await mcp_client.list_tools()).tools}
    for name in ("benchmark_model", "compare_models", "export_config"):
        hints = effective_hints(tools[name].annotations)
        assert hints.read_only_hint is False
        assert hints.destructive_hint is False
    for name in ("list_reports", "get_report", "list_presets", "validate_config"):
        assert effective_hints(tools[name].annotations).read_only_hint is True
    assert tools["compare_models"].output_schema is not None
