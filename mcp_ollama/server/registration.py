"""Prompts and resource templates registered without building pydantic models at start-up.

`@mcp.prompt()` and a templated `@mcp.resource()` build an argument model, its JSON schema and
a validating wrapper (`validate_call`) for every function as it is registered: a millisecond or
two each, all before the first `tools/list`. `ToolsetServer` registers the same SDK objects
without the argument model (a listing shows only the arguments' names, descriptions and whether
they are required, read here off the signature) and with the validating wrapper built on the
first call (`tests/test_registration.py` checks both against what the SDK registers).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument
from mcp.server.mcpserver.resources import (
    DEFAULT_RESOURCE_SECURITY,
    ResourceManager,
    ResourceSecurity,
    ResourceTemplate,
)
from mcp.server.mcpserver.utilities.context_injection import find_context_parameter
from mcp.shared.uri_template import UriTemplate
from mcp.types import Annotations, Icon
from pydantic import validate_call
from pydantic.fields import FieldInfo

__all__ = [
    "FirstCallValidated",
    "LeanResources",
    "first_call_validated",
    "lean_prompt",
    "prompt_arguments",
]


class FirstCallValidated:
    """`validate_call(fn)`, as the SDK wraps a prompt or template function, built on the first
    call rather than at registration."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.validated: Callable[..., Any] | None = None

    def target(self) -> Callable[..., Any]:
        """The validating wrapper, built the first time."""
        if self.validated is None:
            self.validated = validate_call(self.fn)
        return self.validated


class _SyncValidated(FirstCallValidated):
    def __call__(self, **arguments: Any) -> Any:
        return self.target()(**arguments)


class _AsyncValidated(FirstCallValidated):
    # The SDK awaits a callable whose `__call__` is a coroutine function, and runs others in a
    # worker thread, as it would the function itself.
    async def __call__(self, **arguments: Any) -> Any:
        return await self.target()(**arguments)


def first_call_validated(fn: Callable[..., Any]) -> FirstCallValidated:
    """`fn`, its arguments validated by `validate_call` built on the first call."""
    return _AsyncValidated(fn) if inspect.iscoroutinefunction(fn) else _SyncValidated(fn)


def prompt_arguments(fn: Callable[..., Any]) -> tuple[list[PromptArgument], str | None]:
    """A prompt function's arguments (name, description, required) and its context parameter,
    as `Prompt.from_function` reads them from the argument model's schema.

    >>> from typing import Annotated
    >>> from pydantic import Field
    >>> def ask(model: Annotated[str, Field(description="A model")], system: str = "") -> str:
    ...     return model
    >>> [(a.name, a.description, a.required) for a in prompt_arguments(ask)[0]]
    [('model', 'A model', True), ('system', None, False)]
    """
    context = find_context_parameter(fn)
    arguments = []
    for name, parameter in inspect.signature(fn, eval_str=True).parameters.items():
        if name == context:
            continue
        metadata = typing.get_args(parameter.annotation)[1:]
        described = [m.description for m in metadata if isinstance(m, FieldInfo) and m.description]
        arguments.append(
            PromptArgument(
                name=name,
                description=described[-1] if described else None,
                required=parameter.default is inspect.Parameter.empty,
            )
        )
    return arguments, context


def lean_prompt(
    fn: Callable[..., Any],
    *,
    name: str | None,
    title: str | None,
    description: str | None,
    icons: list[Icon] | None,
) -> Prompt:
    """The prompt `Prompt.from_function` makes of `fn`, without building its argument model."""
    arguments, context = prompt_arguments(fn)
    return Prompt(
        name=name or fn.__name__,
        title=title,
        description=description or fn.__doc__ or "",
        arguments=arguments,
        fn=first_call_validated(fn),
        icons=icons,
        context_kwarg=context,
    )


class LeanResources(ResourceManager):
    """The SDK's resource manager (the `@resource()` decorator still checks each function
    against its URI), adding templates without building their argument models."""

    def add_template(
        self,
        fn: Callable[..., Any],
        uri_template: str,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        icons: list[Icon] | None = None,
        annotations: Annotations | None = None,
        meta: dict[str, Any] | None = None,
        security: ResourceSecurity = DEFAULT_RESOURCE_SECURITY,
    ) -> ResourceTemplate:
        """Add a template, listed as `ResourceTemplate.from_function` lists it."""
        template = ResourceTemplate(
            uri_template=uri_template,
            name=name or fn.__name__,
            title=title,
            description=description or fn.__doc__ or "",
            mime_type=mime_type or "text/plain",
            icons=icons,
            annotations=annotations,
            meta=meta,
            fn=first_call_validated(fn),
            # The argument model's schema, which nothing reads (a listing shows the URI).
            parameters={},
            context_kwarg=find_context_parameter(fn),
            parsed_template=UriTemplate.parse(uri_template),
            security=security,
        )
        self._templates[uri_template] = template
        return template
