"""Fixtures for the fault matrix: the saved data every case starts from, made once per module and
copied into each test's data directory."""

from __future__ import annotations

import shutil

import anyio
import pytest

from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, serve_fake_ollama
from tests.faults.helpers import Saved, connect, save_everything
from tests.mcp_helpers import isolated_settings


@pytest.fixture(scope="module")
def saved_template(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """A data directory in which a server saved one of everything, made once per module."""
    directory = tmp_path_factory.mktemp("faults")
    with serve_fake_ollama(FakeOllama()) as daemon:
        settings = isolated_settings(
            directory, host=daemon.url, auto_start=False, cli_fallback=False
        )

        async def save() -> Saved:
            async with connect(settings) as client:
                return await save_everything(client, settings.data_dir)

        return anyio.run(save)


@pytest.fixture
def saved(saved_template: Saved, settings: Settings) -> Saved:
    """This test's data directory: a copy of the template (the database closed cleanly)."""
    shutil.copytree(saved_template.data_dir, settings.data_dir)
    return Saved(settings.data_dir, saved_template.files, saved_template.messages)
