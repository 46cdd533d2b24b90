"""What every framework adapter does around a context: build, migrate, run a worker, close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harmony._context import HarmonyContext
from harmony._services.sync import SYNC_JOB_TYPE
from harmony._services.worker import Worker
from harmony._settings import HarmonySettings
from harmony.errors import ConfigurationError

__all__ = ["ContextFactory", "WorkerFactory", "build_context", "start", "stop"]

#: Builds the host's context; the adapter owns what it returns and closes it.
ContextFactory = Callable[[], HarmonyContext]
#: Builds the host's worker on the adapter's context.
WorkerFactory = Callable[[HarmonyContext], Worker]


def build_context(
    *,
    settings: HarmonySettings | None,
    url: str | None,
    factory: ContextFactory | None,
    collaborators: dict[str, Any],
) -> HarmonyContext:
    """The context from ``factory``, ``settings`` or ``url``, else ``HARMONY_*`` variables.

    ``url`` overrides ``HARMONY_DATABASE_URL`` and the other settings still come from the
    environment, as with the ``harmony`` command's ``--url``.
    """
    given = [
        name
        for name, value in (("settings", settings), ("url", url), ("factory", factory))
        if value is not None
    ]
    if len(given) > 1:
        raise ConfigurationError(
            f"pass one of settings=, url= and factory=, not {' and '.join(given)}"
        )
    if factory is not None:
        if collaborators:
            raise ConfigurationError(
                f"factory= builds the whole context: pass {', '.join(sorted(collaborators))} "
                "to HarmonyContext inside the factory instead"
            )
        ctx = factory()
        if not isinstance(ctx, HarmonyContext):
            raise ConfigurationError(
                f"factory= must return a HarmonyContext, got {type(ctx).__name__}"
            )
        return ctx
    if settings is None:
        overrides: dict[str, Any] = {"database_url": url} if url is not None else {}
        settings = HarmonySettings.from_env(**overrides)
    return HarmonyContext(settings, **collaborators)


def start(ctx: HarmonyContext, *, migrate: bool, worker: bool | WorkerFactory) -> Worker | None:
    """Migrate ``ctx`` and start a worker as asked; on any failure close ``ctx`` and raise."""
    try:
        if migrate:
            ctx.migrate()
        if worker is False:
            return None
        running = Worker(ctx) if worker is True else worker(ctx)
        if not isinstance(running, Worker):
            raise ConfigurationError(
                f"worker= must be True or return a Worker, got {type(running).__name__}"
            )
        if SYNC_JOB_TYPE not in (running.types or ()):
            ctx.sync.register(running)  # so POST /sync style jobs run in this process
        running.start()
        return running
    except BaseException:
        ctx.close()
        raise


def stop(ctx: HarmonyContext, worker: Worker | None, timeout: float) -> None:
    """Stop ``worker`` gracefully (up to ``timeout`` seconds), then close ``ctx``."""
    try:
        if worker is not None:
            worker.stop(timeout)
    finally:
        ctx.close()
