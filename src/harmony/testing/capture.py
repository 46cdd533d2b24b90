"""``capture_events(ctx)``: record what a context emits while a ``with`` block runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from harmony._events.guard import SafeEventLogger
from harmony._events.loggers import RecordingEventLogger
from harmony.errors import InvalidInputError

if TYPE_CHECKING:
    from harmony._context import HarmonyContext

__all__ = ["capture_events"]


@contextmanager
def capture_events(ctx: HarmonyContext | SafeEventLogger) -> Iterator[RecordingEventLogger]:
    """Record every event ``ctx`` emits until the ``with`` block ends::

        with capture_events(ctx) as captured:
            ctx.credentials.clear("spotify")
        (event,) = captured.named("credentials.clear")
        assert event["status"] == "absent"

    Works on a context built with any event logger: the events still go to it as
    before, and are teed into the returned :class:`RecordingEventLogger` as well (see
    :meth:`SafeEventLogger.tee`); leaving the block restores the context as it was, and
    the recording keeps what it got. Events emitted from other threads (a running
    :class:`~harmony.Worker`'s) are captured too. Captures may be nested or overlap;
    each sees the events emitted while it is open. Start it before the work: a worker
    asks once per batch whether anyone wants its per-job events.

    ``ctx`` is a :class:`~harmony.HarmonyContext` (or its ``ctx.events``).
    """
    events = getattr(ctx, "events", ctx)
    if not isinstance(events, SafeEventLogger):
        raise InvalidInputError(
            f"capture_events needs a HarmonyContext (or its ctx.events), got {type(ctx).__name__}"
        )
    recording = RecordingEventLogger()
    with events.tee(recording):
        yield recording
