"""Ask before destroying, through real clients in both protocol eras: delete_model, a copy over
an installed model and a large pull ask the user (with the name and size) when the client can;
accept goes ahead, decline or cancel changes nothing; other clients keep the opt-in rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import error_text, ok

pytestmark = pytest.mark.anyio

Action = Literal["accept", "decline", "cancel", "untick"]


class User:
    """The person at the keyboard: answers every question the same way, and remembers them."""

    def __init__(self, action: Action) -> None:
        self.action = action
        self.questions: list[str] = []

    async def __call__(self, _context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params.message)
        if self.action in ("accept", "untick"):
            return ElicitResult(action="accept", content={"confirm": self.action == "accept"})
        return ElicitResult(action=self.action)


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def client_of(settings: Settings, mode: str, user: User | None) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode=mode, elicitation_callback=user) as client:  # type: ignore[arg-type]
        yield client


async def test_a_client_that_confirms_can_delete_a_model(
    settings: Settings, fake: FakeOllama, mode: str
) -> None:
    fake.add_model("old:7b", size=4_700_000_000)
    user = User("accept")
    async with client_of(settings, mode, user) as client:
        result = ok(await client.call_tool("delete_model", {"model": "old:7b"}))
    assert result["message"] == "deleted 'old:7b'"
    assert len(user.questions) == 1
    assert "'old:7b'" in user.questions[0]
    assert "4.7 GB" in user.questions[0]
    assert fake.get_model("old:7b") is None
    assert len(fake.requests_to("/api/delete")) == 1


@pytest.mark.parametrize(
    ("action", "said"),
    [("decline", "declined"), ("cancel", "dismissed"), ("untick", "declined")],
)
async def test_a_client_that_declines_leaves_the_model_in_place(
    settings: Settings, fake: FakeOllama, mode: str, action: Action, said: str
) -> None:
    fake.add_model("old:7b")
    async with client_of(settings, mode, User(action)) as client:
        result = await client.call_tool("delete_model", {"model": "old:7b"})
    text = error_text(result)
    assert said in text
    assert "nothing was changed" in text
    assert fake.get_model("old:7b") is not None
    assert fake.requests_to("/api/delete") == []  # the daemon never heard of it


async def test_nothing_is_asked_about_a_model_that_is_not_installed(
    settings: Settings, fake: FakeOllama, mode: str
) -> None:
    user = User("accept")
    async with client_of(settings, mode, user) as client:
        missing = await client.call_tool("delete_model", {"model": "ghost:1b"})
    assert user.questions == []  # nothing installed, nothing to ask about
    assert "not pulled" in error_text(missing) or "not found" in error_text(missing)


@pytest.mark.parametrize(("destructive", "deleted"), [(False, False), (True, True)])
async def test_a_client_that_cannot_ask_keeps_the_opt_in_rule(
    settings: Settings, fake: FakeOllama, mode: str, destructive: bool, deleted: bool
) -> None:
    fake.add_model("old:7b")
    configured = settings.model_copy(update={"allow_destructive": destructive})
    async with client_of(configured, mode, None) as client:
        result = await client.call_tool("delete_model", {"model": "old:7b"})
    assert result.is_error is not deleted
    if not deleted:
        assert "MCP_OLLAMA_ALLOW_DESTRUCTIVE" in error_text(result)
    assert (fake.get_model("old:7b") is None) is deleted


@pytest.mark.parametrize("action", ["accept", "decline"])
async def test_copying_over_an_installed_model_asks_and_only_an_accept_copies(
    settings: Settings, fake: FakeOllama, mode: str, action: Action
) -> None:
    fake.add_model("base:1b")
    fake.add_model("mine:1b", size=2_000_000_000)
    user = User(action)
    async with client_of(settings, mode, user) as client:
        result = await client.call_tool(
            "copy_model", {"source": "base:1b", "destination": "mine:1b"}
        )
        fresh = ok(
            await client.call_tool("copy_model", {"source": "base:1b", "destination": "new:1b"})
        )
    assert len(user.questions) == 1  # the copy to a free name asked nothing
    assert "'mine:1b' (2.0 GB)" in user.questions[0]
    assert "'base:1b'" in user.questions[0]
    assert result.is_error is (action != "accept")
    copies = [r.body["destination"] for r in fake.requests_to("/api/copy")]
    assert copies == (["mine:1b", "new:1b"] if action == "accept" else ["new:1b"])
    assert fresh["message"] == "copied 'base:1b' to 'new:1b'"


@pytest.mark.parametrize("action", ["accept", "decline"])
async def test_a_pull_larger_than_the_limit_asks_with_its_size(
    settings: Settings, fake: FakeOllama, mode: str, action: Action
) -> None:
    fake.pull_total_bytes = 40_000_000_000
    # A declined pull must be unable to finish by itself while the size is read (40 GB never
    # would); an accepted one must run to its end.
    fake.pull_hang = action == "decline"
    model = next(iter(fake.pullable))
    user = User(action)
    async with client_of(settings, mode, user) as client:
        result = await client.call_tool("pull_model", {"model": model})
    assert len(user.questions) == 1
    assert f"'{model}'" in user.questions[0]
    assert "GB" in user.questions[0]
    assert "10 GB" in user.questions[0]  # the limit it is over
    assert result.is_error is (action != "accept")
    assert (fake.get_model(model) is not None) is (action == "accept")


async def test_a_pull_within_the_limit_asks_nothing(
    settings: Settings, fake: FakeOllama, mode: str
) -> None:
    model = next(iter(fake.pullable))
    user = User("decline")
    async with client_of(settings, mode, user) as client:
        ok(await client.call_tool("pull_model", {"model": model}))
    assert user.questions == []
    assert fake.get_model(model) is not None


async def test_the_pull_limit_is_a_setting(settings: Settings, fake: FakeOllama, mode: str) -> None:
    model = next(iter(fake.pullable))
    fake.pull_hang = True  # a declined pull cannot finish by itself while its size is read
    user = User("decline")
    configured = settings.model_copy(update={"confirm_pull_bytes": 1_000})
    async with client_of(configured, mode, user) as client:
        declined = await client.call_tool("pull_model", {"model": model})
    assert "declined downloading" in error_text(declined)
    assert fake.get_model(model) is None
