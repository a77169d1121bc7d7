"""Options and presets: validation, the built-in numbers, precedence, and configuration files."""

from __future__ import annotations

import json
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mcp_ollama.errors import InvalidInputError, InvalidOptionError, PresetNotFoundError
from mcp_ollama.generation.options import BUILTIN_PRESETS, PresetBook, validate_options
from mcp_ollama.generation.presets_config import (
    check_config,
    config_tables,
    export_data,
    parse_config,
    to_toml,
)
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama


@pytest.mark.parametrize(
    ("name", "temperature", "top_p", "num_predict", "timeout"),
    [
        ("fast", 0.1, 0.5, 512, 60),
        ("creative", 0.9, 0.95, 1024, 120),
        ("balanced", 0.7, 0.9, 1024, 120),
        ("precise", 0.3, 0.7, 2048, 180),
        ("long_form", 0.7, 0.9, 4096, 300),
    ],
)
def test_built_in_presets_carry_the_inherited_numbers(
    name: str, temperature: float, top_p: float, num_predict: int, timeout: float
) -> None:
    preset = BUILTIN_PRESETS[name]
    assert preset.options == {
        "temperature": temperature,
        "top_p": top_p,
        "num_predict": num_predict,
    }
    assert preset.timeout == timeout
    assert preset.builtin


def test_an_unknown_option_is_refused_with_the_list_of_valid_ones() -> None:
    with pytest.raises(InvalidOptionError) as excinfo:
        validate_options({"temprature": 0.5, "top_p": 0.5})
    message = str(excinfo.value)
    assert "unknown option(s) in options: temprature" in message
    assert "Valid options: temperature, top_k, top_p" in message


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"num_ctx": 0}, "num_ctx"),
        ({"num_predict": -3}, "num_predict"),
        ({"mirostat": 3}, "mirostat"),
        ({"stop": "not-a-list"}, "stop"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_option(
    options: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidOptionError, match=f"invalid options: {field}"):
        validate_options(options)


def test_valid_options_come_back_with_only_what_was_set() -> None:
    assert validate_options({"temperature": 0, "stop": ["\n"], "num_predict": -1}) == {
        "temperature": 0,
        "stop": ["\n"],
        "num_predict": -1,
    }
    assert validate_options(None) == {}


BOOK = PresetBook(
    user_presets={"terse": {"description": "short", "timeout": 30, "temperature": 0.2}},
    model_defaults={
        "llama3.2": {"temperature": 0.4, "num_ctx": 8192, "seed": 1},
        "llama3.2:1b": {"seed": 7},
    },
)


@pytest.mark.parametrize(
    ("model", "preset", "explicit", "expected"),
    [
        # built-in defaults: nothing set, Ollama decides
        ("qwen3:0.6b", None, None, {}),
        # per-model defaults beat built-in defaults; a tag's table beats the base name's
        ("llama3.2:1b", None, None, {"temperature": 0.4, "num_ctx": 8192, "seed": 7}),
        ("Llama3.2:latest", None, None, {"temperature": 0.4, "num_ctx": 8192, "seed": 1}),
        # a preset beats per-model defaults
        (
            "llama3.2:1b",
            "fast",
            None,
            {"temperature": 0.1, "top_p": 0.5, "num_predict": 512, "num_ctx": 8192, "seed": 7},
        ),
        # explicit options beat the preset
        (
            "llama3.2:1b",
            "fast",
            {"temperature": 0.9, "seed": 3},
            {"temperature": 0.9, "top_p": 0.5, "num_predict": 512, "num_ctx": 8192, "seed": 3},
        ),
        ("qwen3:0.6b", "terse", {"top_k": 5}, {"temperature": 0.2, "top_k": 5}),
    ],
)
def test_precedence_is_explicit_then_preset_then_model_defaults_then_built_in(
    model: str, preset: str | None, explicit: dict[str, object] | None, expected: dict[str, object]
) -> None:
    resolved = BOOK.resolve(model, preset=preset, options=explicit)
    assert resolved.options == expected


def test_a_preset_brings_its_time_budget() -> None:
    assert BOOK.resolve("x", preset="long_form").timeout == 300
    assert BOOK.resolve("x", preset="terse").timeout == 30
    assert BOOK.resolve("x").timeout is None


def test_an_unknown_preset_lists_the_available_ones() -> None:
    with pytest.raises(PresetNotFoundError, match="available presets: fast, creative"):
        BOOK.resolve("x", preset="turbo")


def test_a_user_preset_with_a_bad_option_names_the_preset() -> None:
    with pytest.raises(InvalidOptionError, match="preset 'hot'"):
        PresetBook(user_presets={"hot": {"temperature": 9}})
    with pytest.raises(InvalidOptionError, match="models"):
        PresetBook(model_defaults={"llama3.2": {"temprature": 1}})


def test_a_user_preset_may_nest_its_options_and_replace_a_built_in() -> None:
    book = PresetBook(user_presets={"fast": {"options": {"num_predict": 64}, "timeout": 10}})
    assert book.get("fast").options == {"num_predict": 64}
    assert not book.get("fast").builtin
    assert list(book.user_presets()) == ["fast"]


def test_merging_a_configuration_is_all_or_nothing() -> None:
    book = PresetBook(user_presets={"terse": {"temperature": 0.2}})
    with pytest.raises(InvalidOptionError):
        book.merge({"good": {"temperature": 0.5}, "bad": {"top_p": 7}})
    assert "good" not in book.presets
    book.merge({"good": {"temperature": 0.5}}, {"qwen3": {"num_ctx": 4096}})
    assert book.get("good").options == {"temperature": 0.5}
    assert book.get("terse").options == {"temperature": 0.2}
    assert book.model_defaults("qwen3:0.6b") == {"num_ctx": 4096}


# -- through the service, against the fake daemon --------------------------------------------


@pytest.fixture
async def service(settings: Settings, ollama: OllamaClient) -> AsyncIterator[OllamaService]:
    service = OllamaService(settings, ollama, presets=BOOK)
    yield service
    await service.aclose()


@pytest.mark.anyio
async def test_chat_sends_the_merged_options_and_explicit_ones_win(
    fake: FakeOllama, service: OllamaService
) -> None:
    hello = [ChatMessage(role="user", content="hi")]
    await service.generation.chat("llama3.2:1b", hello, preset="precise", options={"top_p": 0.1})
    sent = fake.requests_to("/api/chat")[-1].body["options"]
    assert sent == {
        "temperature": 0.3,
        "top_p": 0.1,
        "num_predict": 2048,
        "num_ctx": 8192,
        "seed": 7,
    }


@pytest.mark.anyio
async def test_generate_without_preset_or_options_sends_only_the_model_defaults(
    fake: FakeOllama, service: OllamaService
) -> None:
    await service.generation.generate("qwen3:0.6b", "hi")
    assert "options" not in fake.requests_to("/api/generate")[-1].body
    await service.generation.generate("llama3.2:1b", "hi")
    assert fake.requests_to("/api/generate")[-1].body["options"] == {
        "temperature": 0.4,
        "num_ctx": 8192,
        "seed": 7,
    }


def test_presets_and_model_defaults_come_from_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[presets.terse]\ntemperature = 0.2\nnum_predict = 64\ntimeout = 20\n\n"
        '[models."llama3.2"]\nnum_ctx = 8192\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("MCP_OLLAMA_CONFIG", str(config))
    settings = Settings()
    book = PresetBook(settings.presets, settings.models)
    resolved = book.resolve("llama3.2:3b", preset="terse")
    assert resolved.options == {"temperature": 0.2, "num_predict": 64, "num_ctx": 8192}
    assert resolved.timeout == 20


def test_the_readme_example_of_precedence_holds() -> None:
    book = PresetBook(
        user_presets={"terse": {"temperature": 0.2, "num_predict": 128, "timeout": 30}},
        model_defaults={"llama3.2": {"num_ctx": 8192}, "llama3.2:1b": {"temperature": 0.4}},
    )
    resolved = book.resolve("llama3.2:1b", preset="fast", options={"seed": 1})
    assert resolved.options == {
        "temperature": 0.1,
        "top_p": 0.5,
        "num_predict": 512,
        "num_ctx": 8192,
        "seed": 1,
    }
    assert resolved.timeout == 60


# -- validate, export, import ------------------------------------------------------------------


def test_a_configuration_parses_from_toml_or_json() -> None:
    toml_data = parse_config("[presets.a]\ntemperature = 0.5\n")
    json_data = parse_config('{"presets": {"a": {"temperature": 0.5}}}')
    assert toml_data == json_data == {"presets": {"a": {"temperature": 0.5}}}
    with pytest.raises(InvalidInputError, match="not valid TOML"):
        parse_config("[presets.a\n")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        parse_config("{oops", "json")


def test_validation_lists_every_problem() -> None:
    check = check_config(
        {
            "presets": {"hot": {"temperature": 9}, "ok": {"top_k": 4}, "odd": 3},
            "models": {"llama3.2": {"temprature": 1}},
            "hots": "x",
            "stall_timeout": -1,
        }
    )
    assert not check.valid
    text = "\n".join(check.problems)
    assert "preset 'hot'" in text
    assert "[presets.odd] must be a table" in text
    assert "unknown option(s) in models." in text
    assert "temprature" in text
    assert "unknown setting(s): hots" in text
    assert check.presets == ["hot", "odd", "ok"]
    assert check.models == ["llama3.2"]


def test_validation_checks_known_settings_values() -> None:
    assert not check_config({"stall_timeout": -1}).valid
    assert check_config({"stall_timeout": 30, "presets": {"a": {"seed": 1}}}).valid


def test_an_import_accepts_only_presets_and_models() -> None:
    with pytest.raises(InvalidOptionError, match="only \\[presets\\] and \\[models\\]"):
        config_tables({"host": "example.com", "presets": {}})
    presets, models = config_tables({"presets": {"a": {"seed": 1}}, "models": {}})
    assert presets == {"a": {"seed": 1}}
    assert models == {}


def test_an_export_round_trips_through_the_config_file_format() -> None:
    book = PresetBook(
        user_presets={
            "terse": {"description": 'say "less"', "timeout": 30.5, "temperature": 0.2},
            "stops": {"stop": ["\n\n", "END\u007f"], "penalize_newline": False, "seed": -1},
        },
        model_defaults={"hf.co/user/repo:Q4_K_M": {"num_ctx": 8192}},
    )
    data = export_data(book)
    text = to_toml(data)
    assert tomllib.loads(text) == json.loads(json.dumps(data)) == data
    rebuilt = PresetBook(*config_tables(parse_config(text)))
    assert rebuilt.presets == book.presets
    assert rebuilt.model_defaults("hf.co/user/repo:Q4_K_M") == {"num_ctx": 8192}


def test_an_export_without_user_configuration_is_empty_tables() -> None:
    assert export_data(PresetBook()) == {"presets": {}, "models": {}}
