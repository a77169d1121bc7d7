"""`ModelService`: what is installed and the operations that change it (list, show, running,
pull, create, delete, copy, unload), each with auto-start, retries and the CLI fallback where it
helps, on one host or across the fleet."""

from __future__ import annotations

from typing import Any

import structlog

from mcp_ollama.errors import (
    InvalidInputError,
    ModelNotOnHostError,
    OllamaError,
)
from mcp_ollama.events import ChangeFeed
from mcp_ollama.fleet.create import Recipe, create_model
from mcp_ollama.fleet.host import Host
from mcp_ollama.fleet.listing import merge_model_lists, merge_running
from mcp_ollama.fleet.model_info import model_info, running_info
from mcp_ollama.fleet.pulls import (
    check_pull_allowed,
    download_size,
    each_host,
    pull_many,
    pull_on,
)
from mcp_ollama.fleet.registry import Fleet
from mcp_ollama.fleet.routing import least_loaded
from mcp_ollama.hosts import ALL_HOSTS
from mcp_ollama.ollama.names import (
    canonical_name,
    validate_model_name,
)
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.results import (
    ModelInfo,
    ModelList,
    OperationResult,
    PullResult,
    RunningList,
    RunningModelInfo,
    human_bytes,
)
from mcp_ollama.settings import Settings

__all__ = ["ModelService"]

logger = structlog.get_logger()


class ModelService:
    """Model management against the daemons, validated, with actionable errors. With several
    hosts, listings cover them all and each change goes to the host(s) it names."""

    def __init__(
        self, settings: Settings, fleet: Fleet, *, changes: ChangeFeed | None = None
    ) -> None:
        self.settings = settings
        self.fleet = fleet
        self.changes = changes or ChangeFeed()

    async def list_models(self, *, force_refresh: bool = False) -> ModelList:
        """The installed models with details and load state (and, with several hosts, which
        hosts have each); when a host cannot be reached, its last known list marked stale.

        Raises:
            OllamaError: Ollama cannot be reached and no list was ever fetched.
        """
        if self.fleet.single:
            return await self._host_list(self.fleet.primary, force_refresh)

        async def one(host: Host) -> ModelList | OllamaError:
            try:
                return await self.fleet.on_host(
                    host, None, lambda: self._host_list(host, force_refresh)
                )
            except OllamaError as exc:
                return exc

        return merge_model_lists(await each_host(self.fleet.hosts, one))

    async def _host_list(self, host: Host, force_refresh: bool) -> ModelList:
        try:
            return await host.resilience.call(
                lambda: host.catalog.list_models(force_refresh=force_refresh),
                fallback=host.cli.list_models,
            )
        except OllamaError as exc:
            stale = host.catalog.stale(f"Ollama could not be reached ({exc})")
            if stale is None:
                raise
            return stale

    async def show_model(self, model: str, *, host: str | None = None) -> ModelInfo:
        """Details of one installed model (from `host`, or a host that has it).

        Raises:
            ModelNotFoundError: the model is not pulled.
        """
        model = validate_model_name(model)
        return await self.fleet.call(
            model,
            lambda target: self._show(target, model),
            host=host,
            fallback=lambda target: target.cli.show(model),
            loads=False,
        )

    async def _show(self, host: Host, model: str) -> ModelInfo:
        return model_info(model, await host.client.show(model), self._label(host))

    async def running_models(self, *, host: str | None = None) -> RunningList:
        """Models loaded in memory now (on every host, or on `host`)."""
        if self.fleet.single:
            running = await self.fleet.primary.resilience.call(self.fleet.primary.client.running)
            return RunningList(models=[running_info(m) for m in running])

        async def one(target: Host) -> list[RunningModelInfo] | OllamaError:
            try:
                running = await self.fleet.on_host(
                    target, None, lambda: target.resilience.call(target.client.running)
                )
            except OllamaError as exc:
                return exc
            target.note_running({canonical_name(m.name) for m in running})
            return [running_info(m) for m in running]

        return merge_running(await each_host(self.fleet.select(_hosts(host)), one))

    async def pull(
        self,
        model: str,
        *,
        host: str | None = None,
        insecure: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> PullResult:
        """Download a model, reporting bytes done out of bytes known so far. With several hosts
        it goes to `host`, to every host for `host="all"`, else to the least-loaded one.

        Raises:
            InvalidInputError: a bad name, one outside the pull allowlist, or an unknown host.
            OllamaResponseError: the registry does not have it.
        """
        model = validate_model_name(model)
        check_pull_allowed(self.settings, model)
        if self.fleet.single:
            self.fleet.select(_hosts(host))  # an unknown name is still an error
            result = await pull_on(self.fleet.primary, model, insecure, on_progress)
        elif host is not None and host.strip().lower() == ALL_HOSTS:
            targets = self.fleet.available() or list(self.fleet.hosts)
            result = await pull_many(self.fleet, targets, model, insecure, on_progress)
            skipped = [h.name for h in self.fleet.hosts if h not in targets]  # marked down
            result = result.model_copy(update={"skipped": skipped or None})
        else:
            hosts = self.fleet.available() or list(self.fleet.hosts)
            target = least_loaded(hosts) if host is None else self.fleet.host(host)
            result = await self.fleet.on_host(
                target, None, lambda: pull_on(target, model, insecure, on_progress)
            )
            result = result.model_copy(update={"hosts": [target.name]})
        self.changed("model pulled", model, size=human_bytes(result.total_bytes))
        return result

    async def download_size(
        self, model: str, *, host: str | None = None, insecure: bool = False
    ) -> int | None:
        """Bytes a pull of `model` would still download (on `host`, else where a pull would
        go), learned from the start of a pull that is then stopped; None when no size came.

        Raises:
            InvalidInputError: a bad name, one outside the pull allowlist, or an unknown host.
            OllamaResponseError: the registry does not have it.
        """
        model = validate_model_name(model)
        check_pull_allowed(self.settings, model)
        if self.fleet.single or host is None or host.strip().lower() == ALL_HOSTS:
            target = least_loaded(self.fleet.available() or list(self.fleet.hosts))
        else:
            target = self.fleet.host(host)
        return await self.fleet.on_host(
            target, None, lambda: download_size(target, model, insecure)
        )

    async def installed_size(self, name: str, *, host: str | None = None) -> int | None:
        """The size of the installed model `name` (in any spelling the daemon resolves to it)
        on the host a change to it applies to, or None when no host has it.

        Raises:
            InvalidInputError: a bad name, or several hosts have it and `host` does not say which.
        """
        name = validate_model_name(name)
        try:
            target = await self.one_host(name, host, "change")
        except ModelNotOnHostError:
            return None
        return await self._size_on(target, name)

    async def replaced_size(
        self, source: str, destination: str, *, host: str | None = None
    ) -> int | None:
        """The size of the model a copy of `source` to `destination` would replace (on the
        host the copy goes to), or None when it replaces nothing.

        Raises:
            InvalidInputError: a bad name, or the copy's host is ambiguous.
            ModelNotFoundError: no host has `source`.
        """
        source = validate_model_name(source)
        target = await self.one_host(source, host, "copy")
        return await self._size_on(target, validate_model_name(destination))

    async def _size_on(self, target: Host, name: str) -> int | None:
        wanted = canonical_name(name)
        installed = await self.fleet.on_host(
            target, None, lambda: target.resilience.call(target.client.list_models)
        )
        return next((m.size for m in installed if canonical_name(m.name) == wanted), None)

    async def delete(
        self, model: str, *, host: str | None = None, confirmed: bool = False
    ) -> OperationResult:
        """Delete a model (from `host`; with several hosts, it must be clear which); refused
        unless the user `confirmed` it or destructive operations are enabled.

        Raises:
            InvalidInputError: destructive operations are disabled, or the host is ambiguous.
            ModelNotFoundError: the model is not installed.
        """
        model = validate_model_name(model)
        if not confirmed and not self.settings.allow_destructive:
            raise InvalidInputError(
                "delete_model is disabled: it is destructive. Ask the user to enable it with "
                "MCP_OLLAMA_ALLOW_DESTRUCTIVE=true (or allow_destructive = true in the config)."
            )
        target = await self.one_host(model, host, "delete")
        await self.fleet.on_host(
            target, None, lambda: target.resilience.call(lambda: target.client.delete(model))
        )
        self.changed("model deleted", model, target)
        return OperationResult(message=f"deleted '{model}'{self._on(target)}")

    async def copy(
        self, source: str, destination: str, *, host: str | None = None, confirmed: bool = False
    ) -> OperationResult:
        """Copy a model under a new name (on `host`; with several hosts, it must be clear
        which); overwriting an existing name is destructive, so it needs the user's
        confirmation or destructive operations enabled.

        Raises:
            InvalidInputError: the destination exists and neither allows replacing it, or the
                host is ambiguous.
            ModelNotFoundError: the source is not installed.
        """
        source = validate_model_name(source)
        destination = validate_model_name(destination)
        target = await self.one_host(source, host, "copy")
        if not confirmed:
            await self.refuse_overwrite(destination, action="copying", host=target)
        await self.fleet.on_host(
            target,
            None,
            lambda: target.resilience.call(lambda: target.client.copy(source, destination)),
        )
        self.changed("model copied", destination, target, source=source)
        return OperationResult(message=f"copied '{source}' to '{destination}'{self._on(target)}")

    async def create(
        self,
        model: str,
        source: str,
        *,
        system: str | None = None,
        template: str | None = None,
        parameters: dict[str, Any] | None = None,
        host: str | None = None,
        confirmed: bool = False,
    ) -> OperationResult:
        """Create `model` from the installed `source` with its own system prompt, template and
        default parameters (valid Ollama options); replacing an installed model needs the
        user's confirmation or destructive operations enabled. See `fleet.create`.

        Raises:
            InvalidInputError: a bad name or text, a taken name, or an ambiguous host.
            ModelNotFoundError: `source` is not installed (Ollama would pull it instead).
        """
        recipe = Recipe(system=system, template=template, parameters=parameters or {})
        return await create_model(self, model, source, recipe, host=host, confirmed=confirmed)

    def changed(self, event: str, model: str, host: Host | None = None, **facts: str) -> None:
        """After an operation changed what is installed on `host` (None: on any host): log it,
        drop the cached list, and announce it (every model-changing operation, `create`
        included, ends here)."""
        if host is not None and not self.fleet.single:
            facts = {**facts, "host": host.name}
        logger.info(event, model=model, **facts)
        for changed in [host] if host is not None else self.fleet.hosts:
            changed.catalog.invalidate()
        self.changes.models_changed(model)

    async def refuse_overwrite(self, name: str, *, action: str, host: Host) -> None:
        """Refuse to write a model over one installed on `host` unless destructive operations
        are on.

        Names are compared as the daemon resolves them (`canonical_name`), so no spelling of
        an installed model (`library/x`, `registry.ollama.ai/library/x:latest`, `X`) slips by.

        Raises:
            InvalidInputError: `name` is installed and destructive operations are disabled.
        """
        if self.settings.allow_destructive:
            return
        target = canonical_name(name)
        installed = await host.resilience.call(host.client.list_models)
        if any(canonical_name(m.name) == target for m in installed):
            same = "" if target == name.lower() else f" (that is '{target}')"
            raise InvalidInputError(
                f"'{name}'{same} already exists{self._on(host)} and {action} over it would "
                "replace it; pick another name, or enable destructive operations "
                "(MCP_OLLAMA_ALLOW_DESTRUCTIVE)."
            )

    async def unload(self, model: str, *, host: str | None = None) -> OperationResult:
        """Unload a model from memory now (on `host`, else on every host that has it).

        Raises:
            ModelNotFoundError: the model is not installed.
        """
        model = validate_model_name(model)
        if self.fleet.single or host is not None:
            targets = [self.fleet.primary if host is None else self.fleet.host(host)]
        else:
            targets = await self.fleet.where(model) or [await self.one_host(model, None, "")]

        async def one(target: Host) -> None:
            await self.fleet.on_host(
                target, None, lambda: target.resilience.call(lambda: target.client.unload(model))
            )
            target.note_unloaded(canonical_name(model))
            target.catalog.invalidate()

        for target in targets:
            await one(target)
        where = "" if self.fleet.single else f" on {', '.join(t.name for t in targets)}"
        return OperationResult(message=f"unloaded '{model}' from memory{where}")

    async def one_host(self, model: str, host: str | None, verb: str) -> Host:
        """The host an operation on `model` applies to: `host`, the only host, or the only host
        that has the model.

        Raises:
            InvalidInputError: several hosts have it and `host` does not say which.
            ModelNotOnHostError: no host has it.
        """
        if host is not None:
            return self.fleet.host(host)
        if self.fleet.single:
            return self.fleet.primary
        having = await self.fleet.where(model)
        if len(having) == 1:
            return having[0]
        if not having:
            return await self.fleet.route(model)  # raises the error naming what each host has
        names = ", ".join(h.name for h in having)
        raise InvalidInputError(
            f"'{model}' is on several hosts ({names}): pass host=NAME to say which to {verb}"
        )

    def _label(self, host: Host) -> str | None:
        return None if self.fleet.single else host.name

    def _on(self, host: Host) -> str:
        return "" if self.fleet.single else f" on {host.name}"


def _hosts(host: str | None) -> list[str] | None:
    return None if host is None else [host]
