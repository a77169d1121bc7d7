"""Prompts and resource templates registered without building pydantic models at start-up.

`@mcp.prompt()` and a templated `@mcp.resource()` build an argument model, its JSON schema and
a validating wrapper for every function as it is registered: a millisecond or two each, all
before the first `tools/list`. `ToolsetServer` registers a `LeanPrompt` and a `LeanTemplate`
instead: listed the same way, each built by the SDK's own `from_function` on its first use
(`tests/test_registration.py` checks both against what the SDK registers).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import Context
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
from pydantic import PrivateAttr, validate_call
from pydantic.fields import FieldInfo

__all__ = ["LeanPrompt", "LeanResources", "LeanTemplate", "lean_prompt", "prompt_arguments"]


class LeanPrompt(Prompt):
    """A prompt whose arguments were read off its signature; its function is wrapped to
    validate them (as `Prompt.from_function` does) on its first render."""

    _validating: bool = PrivateAttr(default=False)

    async def render(self, arguments: dict[str, Any] | None, context: Context[Any, Any]) -> Any:
        """Render the prompt, its arguments validated as the SDK validates them."""
        if not self._validating:
            self.fn = validate_call(self.fn)
            self._validating = True
        return await super().render(arguments, context)


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
) -> LeanPrompt:
    """The prompt `Prompt.from_function` would make of `fn`, its models left for later."""
    arguments, context = prompt_arguments(fn)
    return LeanPrompt(
        name=name or fn.__name__,
        title=title,
        description=description or fn.__doc__ or "",
        arguments=arguments,
        fn=fn,
        icons=icons,
        context_kwarg=context,
    )


class LeanTemplate(ResourceTemplate):
    """A resource template as it is listed; `ResourceTemplate.from_function` builds it (argument
    model, validating wrapper) on its first read, and every read goes to that."""

    _built: ResourceTemplate | None = PrivateAttr(default=None)

    async def create_resource(
        self, uri: str, params: dict[str, Any], context: Context[Any, Any]
    ) -> Any:
        """Read the resource through the template the SDK builds from the same function."""
        if self._built is None:
            self._built = ResourceTemplate.from_function(
                self.fn,
                uri_template=self.uri_template,
                name=self.name,
                title=self.title,
                description=self.description,
                mime_type=self.mime_type,
                icons=self.icons,
                annotations=self.annotations,
                meta=self.meta,
                context_kwarg=self.context_kwarg,
                security=self.security,
            )
        return await self._built.create_resource(uri, params, context)


class LeanResources(ResourceManager):
    """The SDK's resource manager (the `@resource()` decorator still checks each function
    against its URI), holding `LeanTemplate`s."""

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
        template = LeanTemplate(
            uri_template=uri_template,
            name=name or fn.__name__,
            title=title,
            description=description or fn.__doc__ or "",
            mime_type=mime_type or "text/plain",
            icons=icons,
            annotations=annotations,
            meta=meta,
            fn=fn,
            # Its argument model's schema, which no listing shows: built with the template.
            parameters={},
            context_kwarg=find_context_parameter(fn),
            parsed_template=UriTemplate.parse(uri_template),
            security=security,
        )
        self._templates[uri_template] = template
        return template
