"""Creating a model from an installed one (`POST /api/create`): its own system prompt, prompt
template and default parameters, what a Modelfile's FROM, SYSTEM, TEMPLATE and PARAMETER lines set.

The source must be installed on the host that creates: Ollama would otherwise pull it from the
registry, a download nobody asked for, so a missing source is an error naming the installed
variants. A name that is taken is replaced only with the user's confirmation or destructive
operations on.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp_ollama.errors import InvalidInputError, ModelNotFoundError
from mcp_ollama.ollama.names import same_model, tagged_variants, validate_model_name
from mcp_ollama.results import OperationResult

if TYPE_CHECKING:
    from mcp_ollama.fleet.models import ModelService

__all__ = ["Recipe", "create_model"]


@dataclass(frozen=True)
class Recipe:
    """What the new model sets on top of its source (None or empty: the source's own)."""

    system: str | None = None
    template: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """What it sets, for the answer: `a system prompt, 2 parameter(s)`."""
        parts = [
            ("a system prompt", self.system is not None),
            ("a template", self.template is not None),
            (f"{len(self.parameters)} parameter(s)", bool(self.parameters)),
        ]
        return ", ".join(text for text, given in parts if given) or "nothing changed"


async def create_model(
    models: ModelService,
    model: str,
    source: str,
    recipe: Recipe,
    *,
    host: str | None,
    confirmed: bool = False,
) -> OperationResult:
    """Create `model` from `source` with `recipe` on `host` (or the host that has `source`);
    replacing an installed `model` needs `confirmed` or destructive operations enabled.

    Raises:
        InvalidInputError: a bad name, an oversized text, the name exists and neither allows
            replacing it, or the host is ambiguous.
        ModelNotFoundError: `source` is not installed.
    """
    model = validate_model_name(model)
    source = validate_model_name(source)
    size = len(recipe.system or "") + len(recipe.template or "")
    limit = models.settings.max_prompt_chars
    if size > limit:
        raise InvalidInputError(
            f"system and template are {size:,} characters, over the limit of {limit:,} "
            "(MCP_OLLAMA_MAX_PROMPT_CHARS)"
        )
    target = await models.one_host(source, host, "create from")
    installed = [m.name for m in await target.resilience.call(target.client.list_models)]
    if not any(same_model(source, name) for name in installed):
        raise ModelNotFoundError(source, installed=tagged_variants(source, installed))
    if not confirmed:
        await models.refuse_overwrite(model, action="creating", host=target)

    async def create() -> None:
        lines = target.client.create(
            model,
            source,
            system=recipe.system,
            template=recipe.template,
            parameters=recipe.parameters,
        )
        async with aclosing(lines) as statuses:
            async for _ in statuses:
                pass  # a status per layer; the stream ends with `success` or an error line

    await models.fleet.on_host(target, None, lambda: target.resilience.call(create))
    models.changed("model created", model, target, source=source)
    where = "" if models.fleet.single else f" on {target.name}"
    return OperationResult(
        message=f"created '{model}' from '{source}' ({recipe.describe()}){where}"
    )
