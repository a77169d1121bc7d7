"""The report store: round trips, newest first, safe ids, atomic saves, retention, outputs."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mcp_ollama import storage
from mcp_ollama.bench.metrics import (
    BenchmarkResult,
    ComparisonResult,
    ModelOutcome,
    PromptResponse,
    RunMetrics,
    rank_models,
    summarize,
)
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.bench.suite import BenchmarkPrompt
from mcp_ollama.errors import InvalidInputError, ReportNotFoundError, StorageError
from mcp_ollama.results import GenerationResult

PROMPTS = [BenchmarkPrompt(name="short", prompt="Why is the sky blue?")]


def run(tokens_per_second: float, ttft_ms: float) -> RunMetrics:
    return RunMetrics(
        prompt="short",
        run=1,
        load_ms=1.0,
        ttft_ms=ttft_ms,
        prompt_tokens_per_second=900.0,
        tokens_per_second=tokens_per_second,
        total_ms=250.0,
        output_tokens=12,
        prompt_tokens=9,
        wall_ms=260.0,
    )


def benchmark(model: str = "llama3.2:1b", created_at: str = "2026-01-01T10:00:00+00:00"):
    runs = [run(50.0, 120.0), run(54.0, 110.0)]
    return BenchmarkResult(
        created_at=created_at,
        model=model,
        options={"num_predict": 256},
        prompts=PROMPTS,
        runs=2,
        warmup=1,
        summary=summarize(runs),
        metrics=runs,
        responses=[PromptResponse(prompt="short", response="Rayleigh scattering.")],
    )


def comparison(created_at: str = "2026-01-01T11:00:00+00:00") -> ComparisonResult:
    outcomes = [
        ModelOutcome(model="quick:1b", summary=summarize([run(400.0, 20.0)]),
                     metrics=[run(400.0, 20.0)],
                     responses=[PromptResponse(prompt="short", response="Because ```air```.")]),
        ModelOutcome(model="slow:1b", summary=summarize([run(100.0, 80.0)]),
                     metrics=[run(100.0, 80.0)]),
        ModelOutcome(model="gone:1b", ok=False, error="model 'gone:1b' is not pulled"),
    ]  # fmt: skip
    return ComparisonResult(
        created_at=created_at,
        models=outcomes,
        rankings=rank_models([o for o in outcomes if o.ok]),
        failed=["gone:1b"],
        prompts=PROMPTS,
        runs=1,
        warmup=0,
    )


@pytest.fixture
def store(tmp_path: Path) -> ReportStore:
    return ReportStore(tmp_path / "data", retention=50)


def test_a_benchmark_round_trips_as_json_and_markdown(store: ReportStore) -> None:
    saved = store.save_benchmark(benchmark())
    assert saved.report_id is not None
    assert saved.report_id.startswith("bench-")
    assert BenchmarkResult.model_validate(store.get_json(saved.report_id)) == saved
    assert json.loads(store.get_json_text(saved.report_id))["model"] == "llama3.2:1b"
    markdown = store.get_markdown(saved.report_id)
    assert markdown.startswith("# Benchmark: llama3.2:1b")
    assert "| generation tokens/s | 52 | 52 | 53.8 | 50 | 54 |" in markdown
    assert "Rayleigh scattering." in markdown
    assert Path(saved.report_files["markdown"]).read_text(encoding="utf-8") == markdown


def test_a_comparison_saves_markdown_that_embeds_its_svg_chart(store: ReportStore) -> None:
    saved = store.save_comparison(comparison())
    assert saved.report_id is not None
    assert saved.report_id.startswith("compare-")
    markdown = store.get_markdown(saved.report_id)
    chart = Path(saved.report_files["chart"])
    assert f"]({chart.name})" in markdown
    assert chart.parent == Path(saved.report_files["markdown"]).parent
    assert "| quick:1b | ok | 400 |" in markdown
    assert "| gone:1b | failed |" in markdown
    assert "1. quick:1b (400), 2. slow:1b (100)" in markdown
    root = ET.fromstring(store.get_chart(saved.report_id).split("\n", 1)[1])
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert ComparisonResult.model_validate(store.get_json(saved.report_id)) == saved


def test_an_answer_with_backticks_cannot_break_out_of_its_code_fence(store: ReportStore) -> None:
    saved = store.save_comparison(comparison())
    assert saved.report_id is not None
    assert "````text\nBecause ```air```.\n````" in store.get_markdown(saved.report_id)


def test_reports_are_listed_newest_first_and_filtered_by_kind(store: ReportStore) -> None:
    old = store.save_benchmark(benchmark(created_at="2026-01-01T09:00:00+00:00"))
    new = store.save_benchmark(benchmark("qwen3:0.6b", "2026-01-01T12:00:00+00:00"))
    middle = store.save_comparison(comparison("2026-01-01T10:30:00+00:00"))
    listing = store.list_reports()
    assert [r.id for r in listing.reports] == [new.report_id, middle.report_id, old.report_id]
    assert listing.reports[0].models == ["qwen3:0.6b"]
    assert listing.reports[1].models == ["quick:1b", "slow:1b", "gone:1b"]
    assert listing.reports[1].uris["chart"] == f"reports://{middle.report_id}/chart"
    only = store.list_reports("comparison")
    assert [r.id for r in only.reports] == [middle.report_id]
    assert only.total == 1
    assert store.list_reports(limit=1).total == 3


@pytest.mark.parametrize(
    "bad_id", ["../../etc/passwd", "/etc/passwd", "bench/../../x", "..", ".hidden", "a\x00b", ""]
)
def test_an_id_that_is_a_path_is_refused_before_touching_the_disk(
    store: ReportStore, bad_id: str
) -> None:
    for read in (store.get_json, store.get_markdown, store.get_chart, store.get_config):
        with pytest.raises(InvalidInputError, match="invalid"):
            read(bad_id)


@pytest.mark.parametrize("unknown", ["bench-20200101-000000-abcdef", "notes-1", "compare-x"])
def test_an_unknown_report_says_how_to_find_the_saved_ones(
    store: ReportStore, unknown: str
) -> None:
    store.save_benchmark(benchmark())
    with pytest.raises(ReportNotFoundError, match="list_reports"):
        store.get_markdown(unknown)


def test_a_benchmark_has_no_chart(store: ReportStore) -> None:
    saved = store.save_benchmark(benchmark())
    assert saved.report_id is not None
    with pytest.raises(ReportNotFoundError, match="no chart"):
        store.get_chart(saved.report_id)


def test_a_crash_mid_save_never_leaves_a_half_written_report(
    store: ReportStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = store.save_benchmark(benchmark())
    assert kept.report_id is not None
    before = store.get_json_text(kept.report_id)
    real_replace = os.replace

    def crash_on_json(src: str, dst: str) -> None:
        if str(dst).endswith(".json"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(storage.os, "replace", crash_on_json)
    with pytest.raises(StorageError, match="No space left"):
        store.save_benchmark(benchmark("qwen3:0.6b"))
    monkeypatch.undo()

    assert [r.id for r in store.list_reports().reports] == [kept.report_id]
    assert store.get_json_text(kept.report_id) == before
    assert not list(store.reports_dir.glob("*.tmp"))
    # The Markdown written before the failure went with it: no orphan is left behind.
    assert {p.stem for p in store.reports_dir.glob("*.md")} == {kept.report_id}
    # One left by a process killed between the two files is not listed nor readable.
    orphan = store.reports_dir / "bench-20260101-000000-abcdef.md"
    orphan.write_text("# half a report", encoding="utf-8")
    with pytest.raises(ReportNotFoundError):
        store.get_markdown(orphan.stem)


def test_a_temporary_file_left_by_a_killed_process_is_not_a_report(store: ReportStore) -> None:
    kept = store.save_benchmark(benchmark())
    partial = store.reports_dir / ".bench-20260101-000000-abcdef.json.x1y2.tmp"
    partial.write_text('{"model": "half', encoding="utf-8")
    (store.reports_dir / "bench-20260101-000000-badbad.json").write_text("{", encoding="utf-8")
    assert [r.id for r in store.list_reports().reports] == [kept.report_id]
    with pytest.raises(ReportNotFoundError, match="damaged"):
        store.get_json("bench-20260101-000000-badbad")


def test_only_the_newest_reports_of_each_kind_are_kept(tmp_path: Path) -> None:
    store = ReportStore(tmp_path, retention=2)
    ids = [
        store.save_benchmark(benchmark(created_at=f"2026-01-0{day}T00:00:00+00:00")).report_id
        for day in (1, 2, 3)
    ]
    comparison_id = store.save_comparison(comparison()).report_id
    listing = [r.id for r in store.list_reports().reports]
    assert set(listing) == {ids[2], ids[1], comparison_id}
    assert not list(store.reports_dir.glob(f"{ids[0]}.*"))


def test_nothing_is_created_on_disk_until_something_is_saved(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "data")
    assert store.list_reports().total == 0
    assert store.report_ids() == []
    assert not (tmp_path / "data").exists()


def test_a_saved_output_keeps_the_request_and_the_answer(tmp_path: Path) -> None:
    store = ReportStore(tmp_path, retention=1)
    result = GenerationResult(model="llama3.2:1b", text="Blue light scatters more.")
    first = store.save_output("generate_text", "llama3.2:1b", {"prompt": "why?"}, result, "x")
    second = store.save_output("generate_text", "llama3.2:1b", {"prompt": "how?"}, result, "y")
    assert first.startswith("output-")
    assert second != first
    record = json.loads((store.outputs_dir / f"{second}.json").read_text(encoding="utf-8"))
    assert record["request"] == {"prompt": "how?"}
    assert record["result"]["text"] == "Blue light scatters more."
    assert record["result"]["saved_output"] == second
    assert (store.outputs_dir / f"{second}.md").read_text(encoding="utf-8").endswith("y\n")
    assert not (store.outputs_dir / f"{first}.json").exists()  # retention 1


def test_an_exported_configuration_is_read_back_by_its_id(store: ReportStore) -> None:
    path = store.save_config("[presets.terse]\ntemperature = 0.1\n")
    assert path.parent == store.configs_dir
    assert path.suffix == ".toml"
    assert store.get_config(path.stem) == "[presets.terse]\ntemperature = 0.1\n"
    with pytest.raises(ReportNotFoundError, match="export_config"):
        store.get_config("config-20200101-000000-abcdef")
