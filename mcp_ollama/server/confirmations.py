"""Ask before destroying: the user confirms `delete_model`, a copy or a `create_model` over an
installed model and a pull larger than `confirm_pull_bytes`, with the model's name and size, when
the client can ask.

Each question is a resolver (`Resolve(...)`) that runs before the tool body, in both protocol
eras: the SDK sends `elicitation/create` mid-call on the handshake era, and returns the question
as input required on 2026-07-28. The tool body then reads the `decision`:

- `"go"`: the user confirmed, or there was nothing to confirm (no model would be replaced);
- `"rule"`: the client cannot ask its user, so today's opt-in rule applies
  (`allow_destructive` for deleting and replacing; pulls are not limited);
- `"declined"` / `"cancelled"`: the user said no, or dismissed the question: nothing changes.
"""

from __future__ import annotations

from typing import Any, Literal

from mcp.server.elicitation import AcceptedElicitation
from mcp.server.mcpserver import Context, Elicit
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mcp_ollama.errors import DeclinedError, MCPOllamaError
from mcp_ollama.results import human_bytes
from mcp_ollama.server._common import service_of
from mcp_ollama.server.clients import can_ask

__all__ = [
    "Consent",
    "Decision",
    "ask_before_create",
    "ask_before_delete",
    "ask_before_overwrite",
    "ask_before_pull",
    "decision",
    "refuse",
]

Decision = Literal["go", "rule", "declined", "cancelled"]
Answer = Literal["unasked", "needless"]
"""What a resolver returns when it does not ask: the client cannot, or nothing is at stake."""


class Consent(BaseModel):
    """The one question asked: go ahead or not."""

    confirm: bool = Field(title="Go ahead", description="Leave it unticked to change nothing")


def decision(outcome: object) -> Decision:
    """What a confirmation resolver's outcome means for the tool body."""
    if isinstance(outcome, AcceptedElicitation):
        answer = outcome.data
        if answer == "unasked":
            return "rule"
        if answer == "needless" or (isinstance(answer, Consent) and answer.confirm):
            return "go"
        return "declined"  # the form came back with the box unticked
    return "cancelled" if getattr(outcome, "action", "") == "cancel" else "declined"


def refuse(outcome: Decision, what: str) -> None:
    """Raise the clear "nothing was changed" error when the user did not confirm `what`.

    Raises:
        DeclinedError: the user declined or cancelled.
    """
    if outcome in ("declined", "cancelled"):
        said = "declined" if outcome == "declined" else "dismissed the question about"
        raise DeclinedError(
            f"the user {said} {what}, so nothing was changed; do not try again unless the user "
            "asks for it"
        )


async def ask_before_delete(
    model: str, ctx: Context[Any, Any], host: str | None = None
) -> Answer | Elicit[Consent]:
    """Ask before deleting an installed model (from `host`, with several hosts)."""
    if not can_ask(ctx):
        return "unasked"
    try:
        size = await service_of(ctx).models.installed_size(model, host=host)
    except MCPOllamaError as exc:  # the same error the deletion would end in
        raise ToolError(str(exc)) from exc
    if size is None:  # nothing to delete: the daemon says so
        return "needless"
    where = f"host '{host}'" if host else "this machine"
    return Elicit(
        f"Delete the model '{model}' ({human_bytes(size)}) from {where}? Using it again "
        "means pulling it again.",
        Consent,
    )


async def ask_before_overwrite(
    source: str, destination: str, ctx: Context[Any, Any], host: str | None = None
) -> Answer | Elicit[Consent]:
    """Ask before a copy replaces an installed model (on `host`, with several hosts)."""
    return await _ask_before_replacing(destination, source, f"a copy of '{source}'", ctx, host=host)


async def ask_before_create(
    name: str, model: str, ctx: Context[Any, Any], host: str | None = None
) -> Answer | Elicit[Consent]:
    """Ask before create_model replaces an installed model with one made from `model`."""
    return await _ask_before_replacing(
        name, model, f"a new model made from '{model}'", ctx, host=host
    )


async def _ask_before_replacing(
    name: str, source: str, replacement: str, ctx: Context[Any, Any], *, host: str | None
) -> Answer | Elicit[Consent]:
    if not can_ask(ctx):
        return "unasked"
    try:
        size = await service_of(ctx).models.replaced_size(source, name, host=host)
    except MCPOllamaError as exc:  # the same error the change would end in
        raise ToolError(str(exc)) from exc
    if size is None:  # nothing would be replaced
        return "needless"
    return Elicit(
        f"Replace the model '{name}' ({human_bytes(size)}) with {replacement}? The current "
        f"'{name}' is lost.",
        Consent,
    )


async def ask_before_pull(
    model: str, insecure: bool, ctx: Context[Any, Any], host: str | None = None
) -> Answer | Elicit[Consent]:
    """Ask before a pull downloads more than `confirm_pull_bytes` (to one host)."""
    if not can_ask(ctx):
        return "unasked"
    service = service_of(ctx)
    try:
        size = await service.models.download_size(model, host=host, insecure=insecure)
    except MCPOllamaError as exc:
        raise ToolError(str(exc)) from exc
    limit = service.settings.confirm_pull_bytes
    if size is None or size <= limit:
        return "needless"
    return Elicit(
        f"Download the model '{model}' ({human_bytes(size)})? That is more than "
        f"{human_bytes(limit)} of disk space and download.",
        Consent,
    )
