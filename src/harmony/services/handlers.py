"""Job handlers registered on a context (``@ctx.jobs.handler(...)``), run by any worker."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from harmony.errors import InvalidInputError
from harmony.repositories.job_types import LeasedJob
from harmony.services.retry import RetryPolicy

__all__ = ["Handler", "HandlerRegistry", "Registration"]

#: A job handler: gets the leased job and a session whose writes commit with the completion.
Handler = Callable[[LeasedJob, Session], Any]


@dataclass(frozen=True, slots=True)
class Registration:
    """A handler and its retry policy (``None``: the worker's default)."""

    fn: Handler
    retry: RetryPolicy | None


class HandlerRegistry(Mapping[str, Registration]):
    """Handlers by job type. Thread-safe; a :class:`~harmony.Worker` built on the context
    runs every handler registered here, including ones registered after it started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Registration] = {}

    def register(self, job_type: str, fn: Handler, *, retry: RetryPolicy | None = None) -> Handler:
        """Run ``fn(job, session)`` for jobs of ``job_type`` (replacing any handler)."""
        check_registration(job_type, fn, retry)
        with self._lock:
            items = dict(self._items)
            items[job_type] = Registration(fn, retry)
            self._items = items  # replaced whole: readers iterate a snapshot
        return fn

    def handler(
        self, job_type: str, *, retry: RetryPolicy | None = None
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`."""

        def decorate(fn: Handler) -> Handler:
            return self.register(job_type, fn, retry=retry)

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
