"""Job handlers: what a handler receives (:class:`JobContext`) and the handlers registered
on a context (``@ctx.jobs.handler(...)``), which every worker runs.

A handler is a function of one argument, the :class:`JobContext`::

    @ctx.jobs.handler("report.build", retry=RetryPolicy(wait=Fixed(30)))
    def build(job: JobContext) -> dict[str, int]:
        job.session.add(...)          # commits together with the job's completion
        return {"rows": 3}            # stored as the job's result

How a handler is recognised: a callable whose signature takes exactly one positional
argument (or whose first parameter is annotated ``JobContext``) gets a ``JobContext``;
one that takes two, ``(job, session)``, is the form used before 0.2 and still works for
one release, with a ``DeprecationWarning`` when it is registered. A callable whose
signature cannot be read (some builtins) is given a ``JobContext``.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from sqlalchemy.orm import Session

from harmony._repositories.job_types import Job, LeasedJob
from harmony._services.retry import RetryPolicy
from harmony.errors import InvalidInputError

if TYPE_CHECKING:
    from harmony._repositories.jobs import JobQueue

__all__ = ["Handler", "HandlerRegistry", "JobContext", "LegacyHandler", "Registration"]


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets for one try of one job.

    ``job`` is the :class:`~harmony.LeasedJob` (``id``, ``type``, ``payload``, ...).
    ``session`` is a SQLAlchemy session whose writes commit together with the job's
    completion, or roll back with a failed try (it runs in a savepoint of the worker's
    transaction; ``session.commit()`` is refused, ``session.flush()`` sends statements
    early). ``attempt`` is this try's number (1 for the first), ``worker_id`` the
    worker running it.
    """

    job: LeasedJob
    session: Session
    attempt: int
    worker_id: str
    _queue: JobQueue | None = field(default=None, repr=False, compare=False)

    @property
    def payload(self) -> Mapping[str, Any]:
        """The job's payload (``job.payload``)."""
        return self.job.payload

    def enqueue(self, type: str, payload: Mapping[str, Any] | None = None, **options: Any) -> Job:
        """Enqueue another job in this try's transaction: it exists only if this try's
        writes commit (``ctx.jobs.enqueue(..., session=job.session)``)."""
        if self._queue is None:
            raise InvalidInputError("this JobContext has no job queue to enqueue into")
        return self._queue.enqueue(type, payload, session=self.session, **options)


#: A job handler: gets the :class:`JobContext` of one try; returns the job's result
#: (any JSON value, or ``None``).
Handler: TypeAlias = Callable[[JobContext], Any]
#: The handler form used before 0.2: ``fn(job, session)``. Deprecated.
LegacyHandler: TypeAlias = Callable[[LeasedJob, Session], Any]
_H = TypeVar("_H", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Registration:
    """A handler and its retry policy (``None``: the worker's default).

    ``fn`` is the function as registered; ``call`` runs it with a :class:`JobContext`
    whatever its form.
    """

    fn: Handler | LegacyHandler
    retry: RetryPolicy | None
    call: Handler = field(repr=False, compare=False)

    @classmethod
    def of(
        cls, job_type: str, fn: Handler | LegacyHandler, retry: RetryPolicy | None
    ) -> Registration:
        """Check a registration and recognise the handler's form (warning once, at
        registration, for the deprecated ``(job, session)`` form)."""
        check_registration(job_type, fn, retry)
        if not _takes_two(fn):
            return cls(fn, retry, fn)  # type: ignore[arg-type]  # one argument: a Handler
        warnings.warn(
            f"the handler {_name(fn)} of {job_type!r} takes (job, session): that form is "
            "deprecated and will be removed in the next release; take one argument, a "
            "harmony.JobContext (job.job, job.session, job.attempt, job.worker_id)",
            DeprecationWarning,
            stacklevel=_caller_outside_harmony(),
        )
        legacy: LegacyHandler = fn  # type: ignore[assignment]  # two arguments: the old form

        def call(context: JobContext) -> Any:
            return legacy(context.job, context.session)

        return cls(fn, retry, call)


def _takes_two(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is the deprecated ``(job, session)`` form: two positional parameters
    without defaults, the first not annotated ``JobContext``."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # no readable signature: the current form
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positional = [p for p in signature.parameters.values() if p.kind in kinds]
    required = [p for p in positional if p.default is p.empty]
    if len(required) != 2:
        return False
    annotation = required[0].annotation
    return not (annotation is JobContext or annotation == "JobContext")


def _name(fn: Any) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)[:80])


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_outside_harmony() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside harmony."""
    level = 1
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


class HandlerRegistry(Mapping[str, Registration]):
    """Handlers by job type. Thread-safe; a :class:`~harmony.Worker` built on the context
    runs every handler registered here, including ones registered after it started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Registration] = {}

    def register(
        self, job_type: str, fn: Handler | LegacyHandler, *, retry: RetryPolicy | None = None
    ) -> Handler | LegacyHandler:
        """Run ``fn(job_context)`` for jobs of ``job_type`` (replacing any handler)."""
        registration = Registration.of(job_type, fn, retry)
        with self._lock:
            items = dict(self._items)
            items[job_type] = registration
            self._items = items  # replaced whole: readers iterate a snapshot
        return fn

    def handler(self, job_type: str, *, retry: RetryPolicy | None = None) -> Callable[[_H], _H]:
        """Decorator form of :meth:`register`."""

        def decorate(fn: _H) -> _H:
            self.register(job_type, fn, retry=retry)
            return fn

        return decorate

    def unregister(self, job_type: str) -> None:
        """Forget the handler of ``job_type`` (a no-op when there is none)."""
        with self._lock:
            items = dict(self._items)
            items.pop(job_type, None)
            self._items = items

    def __getitem__(self, job_type: str) -> Registration:
        return self._items[job_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"HandlerRegistry({sorted(self._items)!r})"


def check_registration(job_type: Any, fn: Any, retry: Any) -> None:
    """Refuse a malformed registration with :class:`InvalidInputError`."""
    if not isinstance(job_type, str) or not job_type:
        raise InvalidInputError(f"job type must be a non-empty string, got {job_type!r:.80}")
    if not callable(fn):
        raise InvalidInputError(f"handler for {job_type!r} is not callable: {fn!r:.80}")
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise InvalidInputError(
            f"retry for {job_type!r} must be a RetryPolicy, got {type(retry).__name__}"
        )
