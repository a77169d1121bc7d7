"""Benchmarks and comparisons against the fake daemon: the figures match the fake's timings."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from mcp_ollama.bench.benchmark import Target, compare_models, run_benchmark
from mcp_ollama.bench.measure import on_client
from mcp_ollama.bench.suite import BUILTIN_SUITE, BenchmarkPlan, BenchmarkPrompt, build_prompts
from mcp_ollama.errors import InvalidInputError, InvalidOptionError, PresetNotFoundError
from mcp_ollama.generation.options import PresetBook, ResolvedOptions
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama

pytestmark = pytest.mark.anyio

ONE_PROMPT = [BenchmarkPrompt(name="p", prompt="Tell me about rivers.")]


def capped(tokens: int) -> Callable[[str], ResolvedOptions]:
    """A resolver sending only num_predict: the fake answers exactly that many tokens."""
    return lambda _model: ResolvedOptions(options={"num_predict": tokens})


async def test_generation_tokens_per_second_is_within_5_percent_of_the_fakes_speed(
    fake: FakeOllama, ollama: OllamaClient
) -> None:
    fake.tokens_per_second = 200
    plan = BenchmarkPlan(prompts=ONE_PROMPT, runs=3, warmup=1)
    result = await run_benchmark(Target("llama3.2:1b", on_client(ollama)), plan, capped(40))
    assert result.summary["tokens_per_second"].count == 3
    assert result.summary["tokens_per_second"].median == pytest.approx(200, rel=0.05)
    assert all(run.output_tokens == 40 for run in result.metrics)


async def test_time_to_first_token_spans_the_fakes_delay_and_ends_before_the_run(
    fake: FakeOllama, ollama: OllamaClient
) -> None:
    fake.ttft = 0.15
    fake.tokens_per_second = 2000
    plan = BenchmarkPlan(prompts=ONE_PROMPT, runs=3, warmup=1)
    result = await run_benchmark(Target("llama3.2:1b", on_client(ollama)), plan, capped(8))
    # Measured from the request to the first token: never shorter than the fake's delay before
    # it (1 ms of timer slack), never past the end of its run. Bounds, not a wall-clock figure.
    for measured in result.metrics:
        assert measured.ttft_ms is not None
        assert 149 <= measured.ttft_ms <= measured.wall_ms
    # The fake spends the delay evaluating the prompt, so the prompt-eval rate is tokens / delay.
    run = result.metrics[0]
    assert run.prompt_tokens > 0
    assert run.prompt_tokens_per_second == pytest.approx(run.prompt_tokens / 0.15, rel=0.05)


async def test_warmup_runs_load_the_model_and_are_left_out_of_the_figures(
    fake: FakeOllama, ollama: OllamaClient
) -> None:
    fake.load_duration = 0.3
    plan = BenchmarkPlan(prompts=ONE_PROMPT, runs=2, warmup=2)
    result = await run_benchmark(Target("llama3.2:1b", on_client(ollama)), plan, capped(8))
    assert len(fake.requests_to("/api/generate")) == 4
    assert [run.run for run in result.metrics] == [1, 2]
    # Only the first (warmup) request paid the 300 ms load; the measured runs found it loaded.
    assert result.summary["load_ms"].max < 150


async def test_progress_is_reported_once_per_run_out_of_the_runs_planned(
    ollama: OllamaClient,
) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    plan = BenchmarkPlan(prompts=list(BUILTIN_SUITE[:2]), runs=2, warmup=1)
    await run_benchmark(
        Target("llama3.2:1b", on_client(ollama)), plan, capped(8), on_progress=on_progress
    )
    assert [(p, t) for p, t, _ in seen] == [(i, 6) for i in range(1, 7)]
    assert seen[0][2] is not None
    assert "warmup" in seen[0][2]
    assert seen[1][2] is not None
    assert "run 1/2" in seen[1][2]


async def test_each_prompt_keeps_the_models_answer_for_review(ollama: OllamaClient) -> None:
    plan = BenchmarkPlan(prompts=list(BUILTIN_SUITE), runs=1, warmup=0)
    result = await run_benchmark(Target("qwen3:0.6b", on_client(ollama)), plan, capped(64))
    assert [r.prompt for r in result.responses] == ["short", "long_context", "code"]
    assert all(r.response for r in result.responses)
    assert all(r.thinking for r in result.responses)  # qwen3 is a thinking model in the fake


async def test_compare_ranks_a_faster_model_above_a_slower_one(
    fake: FakeOllama, ollama: OllamaClient
) -> None:
    fake.add_model("slow:1b", tokens_per_second=100)
    fake.add_model("quick:1b", tokens_per_second=400)
    plan = BenchmarkPlan(prompts=ONE_PROMPT, runs=2, warmup=0)
    result = await compare_models(ollama, ["slow:1b", "quick:1b"], plan, capped(20))
    assert [e.model for e in result.rankings["tokens_per_second"]] == ["quick:1b", "slow:1b"]
    assert [e.rank for e in result.rankings["tokens_per_second"]] == [1, 2]
    assert [e.model for e in result.rankings["total_ms"]] == ["quick:1b", "slow:1b"]
    quick, slow = result.rankings["tokens_per_second"]
    assert quick.value == pytest.approx(400, rel=0.1)
    assert slow.value == pytest.approx(100, rel=0.05)
    assert "output_tokens" not in result.rankings  # neither more nor fewer tokens is "better"


async def test_a_failing_model_is_reported_as_failed_while_the_others_run(
    ollama: OllamaClient,
) -> None:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    plan = BenchmarkPlan(prompts=ONE_PROMPT, runs=1, warmup=1)
    models = ["llama3.2:1b", "missing:1b", "qwen3:0.6b"]
    result = await compare_models(ollama, models, plan, capped(8), on_progress=on_progress)
    assert result.failed == ["missing:1b"]
    missing = result.models[1]
    assert not missing.ok
    assert missing.error is not None
    assert "pull_model" in missing.error
    assert [o.ok for o in result.models] == [True, False, True]
    assert {e.model for e in result.rankings["tokens_per_second"]} == {"llama3.2:1b", "qwen3:0.6b"}
    assert seen == sorted(seen)
    assert seen[-1] == 6


@pytest.mark.parametrize(
    "models", [["llama3.2:1b"], ["llama3.2", "llama3.2:latest"], ["llama3.2:1b", "--help"]]
)
async def test_compare_refuses_fewer_than_two_distinct_valid_models(
    ollama: OllamaClient, fake: FakeOllama, models: list[str]
) -> None:
    plan = BenchmarkPlan(prompts=ONE_PROMPT, runs=1, warmup=0)
    with pytest.raises(InvalidInputError):
        await compare_models(ollama, models, plan, capped(8))
    assert fake.requests_to("/api/generate") == []


async def test_models_run_one_at_a_time_even_across_concurrent_benchmarks(
    fake: FakeOllama, service: OllamaService
) -> None:
    fake.tokens_per_second = 400
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: service.bench.compare(
                ["llama3.2:1b", "qwen3:0.6b"], runs=1, warmup=0, max_tokens=8
            )
        )
        tg.start_soon(
            lambda: service.bench.benchmark("llama3.2:1b", runs=1, warmup=0, max_tokens=8)
        )
    assert len(fake.requests_to("/api/generate")) == 9
    assert fake.peak_active_requests == 1


async def test_cancelling_a_benchmark_closes_the_stream_and_saves_nothing(
    fake: FakeOllama, service: OllamaService, settings: Settings
) -> None:
    fake.tokens_per_second = 2
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: service.bench.benchmark("llama3.2:1b", runs=1, warmup=0))
            while not fake.requests_to("/api/generate"):
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
        while fake.disconnects == 0:
            await anyio.sleep(0.01)
    assert service.reports.list_reports().total == 0


async def test_the_preset_options_and_max_tokens_reach_every_run(
    fake: FakeOllama, service: OllamaService
) -> None:
    await service.bench.benchmark(
        "llama3.2:1b",
        prompts=["a", "b"],
        runs=1,
        warmup=1,
        preset="fast",
        options={"temperature": 0.5, "num_predict": 99},
        max_tokens=7,
        save_report=False,
    )
    sent = [r.body["options"] for r in fake.requests_to("/api/generate")]
    assert len(sent) == 4
    assert all(o == {"temperature": 0.5, "top_p": 0.5, "num_predict": 7} for o in sent)


async def test_runs_are_capped_at_256_tokens_when_nothing_sets_num_predict(
    fake: FakeOllama, service: OllamaService
) -> None:
    await service.bench.benchmark("llama3.2:1b", prompts=["a"], runs=1, warmup=0, save_report=False)
    assert fake.requests_to("/api/generate")[0].body["options"] == {"num_predict": 256}


async def test_per_model_defaults_apply_to_each_compared_model(
    fake: FakeOllama, settings: Settings, ollama: OllamaClient
) -> None:
    presets = PresetBook(model_defaults={"qwen3": {"num_ctx": 8192}})
    service = OllamaService(settings, ollama, presets=presets)
    await service.bench.compare(
        ["llama3.2:1b", "qwen3:0.6b"],
        prompts=["a"],
        runs=1,
        warmup=0,
        max_tokens=8,
        save_report=False,
    )
    sent = {r.body["model"]: r.body["options"] for r in fake.requests_to("/api/generate")}
    assert sent["qwen3:0.6b"]["num_ctx"] == 8192
    assert "num_ctx" not in sent["llama3.2:1b"]
    await service.aclose()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"runs": 0}, InvalidInputError),
        ({"runs": 21}, InvalidInputError),
        ({"warmup": 6}, InvalidInputError),
        ({"max_tokens": 0}, InvalidInputError),
        ({"options": {"temprature": 1}}, InvalidOptionError),
        ({"preset": "turbo"}, PresetNotFoundError),
        ({"prompts": ["   "]}, InvalidInputError),
        ({"prompts": [f"p{i}" for i in range(11)]}, InvalidInputError),
    ],
)
async def test_bad_benchmark_arguments_are_refused_before_any_run(
    fake: FakeOllama, service: OllamaService, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await service.bench.benchmark("llama3.2:1b", **kwargs)  # type: ignore[arg-type]
    assert fake.requests_to("/api/generate") == []


def test_the_built_in_suite_has_a_short_a_long_context_and_a_code_prompt() -> None:
    names = [p.name for p in build_prompts(None, max_chars=1_000_000)]
    assert names == ["short", "long_context", "code"]
    long_context = BUILTIN_SUITE[1].prompt
    assert len(long_context) > 4 * len(BUILTIN_SUITE[0].prompt)
    assert len(long_context) > 4000


def test_the_callers_prompts_replace_the_suite_and_are_named_in_order() -> None:
    prompts = build_prompts(["one", "two"], max_chars=100)
    assert [(p.name, p.prompt) for p in prompts] == [("prompt1", "one"), ("prompt2", "two")]
    with pytest.raises(InvalidInputError, match="over the limit"):
        build_prompts(["x" * 101], max_chars=100)
