"""Hostile input for every resource template and prompt, through in-memory clients in both
protocol eras: URIs built from hostile variable values and prompts rendered with hostile
arguments end in contents or a protocol error within a bound, never in a crash or in a file
read through a path. The strategies and the harness are in tests/fuzz_helpers.py.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import anyio
from anyio.from_thread import BlockingPortal
from hypothesis import given, note
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.types import GetPromptResult, Prompt, ReadResourceResult

from mcp_ollama.settings import Settings
from tests.fuzz_helpers import (
    CALL_TIMEOUT,
    HOSTILE_TEXT,
    MODES,
    TEXT_ALPHABET,
    VALID_MODELS,
    fuzz_settings,
    hostile_strings,
    portal_clients,
    preview,
)

RESOURCE_CRASH = ("Error reading resource", "Error creating resource from template")
_TEMPLATE_VARIABLE = re.compile(r"\{\+?(\w+)\}")


def uri_parts() -> st.SearchStrategy[str]:
    """A template variable's value, percent-encoded whole or with its slashes and dots kept."""
    return st.builds(
        lambda value, safe: quote(value, safe=safe),
        # No megabyte strings: a URI that long says nothing a long argument does not.
        st.one_of(
            st.sampled_from(VALID_MODELS),
            st.sampled_from(HOSTILE_TEXT),
            st.text(TEXT_ALPHABET, max_size=40),
        ),
        st.sampled_from(["", "/.", "/.%"]),
    )


async def bounded_read(client: Client, uri: str) -> ReadResourceResult | MCPError:
    """The resource's contents, or the protocol error the read ended in; a hang fails."""
    with anyio.fail_after(CALL_TIMEOUT):
        try:
            return await client.read_resource(uri)
        except MCPError as exc:
            return exc


async def bounded_prompt(
    client: Client, name: str, arguments: dict[str, str]
) -> GetPromptResult | MCPError:
    """The rendered prompt, or the protocol error it ended in; a hang fails."""
    with anyio.fail_after(CALL_TIMEOUT):
        try:
            return await client.get_prompt(name, arguments)
        except MCPError as exc:
            return exc


def fuzz_template(portal: BlockingPortal, clients: dict[str, Client], pattern: str) -> None:
    """Read URIs built from `pattern` with hostile variable values."""

    @fuzz_settings(12)
    @given(mode=st.sampled_from(MODES), parts=st.lists(uri_parts(), min_size=3, max_size=3))
    def reads(mode: str, parts: list[str]) -> None:
        values = iter(parts)
        uri = _TEMPLATE_VARIABLE.sub(lambda _: next(values), pattern)
        note(uri[:300])
        outcome = portal.call(bounded_read, clients[mode], uri)
        if isinstance(outcome, MCPError):
            # The SDK's words for an unexpected exception in a resource (ours say what to do).
            assert not outcome.message.startswith(RESOURCE_CRASH), "the resource crashed"
        else:
            assert "root:x:0:0" not in repr(outcome.contents)  # no /etc/passwd through a path

    reads()


def fuzz_prompt(portal: BlockingPortal, clients: dict[str, Client], prompt: Prompt) -> None:
    """Render `prompt` with hostile argument values (some arguments left out)."""
    names = [argument.name for argument in prompt.arguments or []]

    @fuzz_settings(12)
    @given(
        mode=st.sampled_from(MODES),
        arguments=st.fixed_dictionaries({}, optional={n: hostile_strings() for n in names}),
    )
    def renders(mode: str, arguments: dict[str, str]) -> None:
        note(f"{prompt.name}: {preview(arguments)}")
        outcome = portal.call(bounded_prompt, clients[mode], prompt.name, arguments)
        if isinstance(outcome, MCPError):
            assert not outcome.message.startswith("Error rendering prompt"), "the prompt crashed"

    renders()


def test_every_resource_template_and_prompt_answers_hostile_input(settings: Settings) -> None:
    with portal_clients(settings) as (portal, clients):
        templates = portal.call(clients["auto"].list_resource_templates).resource_templates
        prompts = portal.call(clients["auto"].list_prompts).prompts
        assert len(templates) >= 5
        assert len(prompts) >= 3
        for template in templates:
            fuzz_template(portal, clients, template.uri_template)
        for prompt in prompts:
            fuzz_prompt(portal, clients, prompt)
