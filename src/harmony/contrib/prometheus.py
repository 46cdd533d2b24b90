"""Prometheus metrics from harmony's events: an event sink on ``prometheus-client``.

::

    from prometheus_client import CollectorRegistry, start_http_server
    from harmony import FanOutEventLogger, HarmonyContext, LoggingEventLogger
    from harmony.contrib.prometheus import PrometheusEventLogger

    registry = CollectorRegistry()                       # the host's registry
    metrics = PrometheusEventLogger(registry)
    ctx = HarmonyContext.from_url(url, events=FanOutEventLogger(LoggingEventLogger(), metrics))
    start_http_server(9100, addr="127.0.0.1", registry=registry)

Each documented event (``docs/observability.md``) has its own metric family:
``harmony_<event>_total`` counts it by ``status`` and the event's low-cardinality fields
(``job_type``, ``provider``, ...; never ids, error text or anything unbounded),
``harmony_<event>_duration_seconds`` is a histogram of its ``duration_ms`` (and
``ready_age_ms``), and a few counters add up its amounts (playlists created by a sync,
cache entries invalidated, ...). Any other event name (an application's own events)
is counted in ``harmony_events_total{event, status}``, its ``duration_ms`` observed in
``harmony_event_duration_seconds``. The table is :data:`FAMILIES`; ``docs/observability.md``
lists the metrics.

The registry is always the host's: nothing is registered in prometheus-client's global
default registry unless it is passed in. Needs ``pip install 'harmony[prometheus]'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeGuard

from harmony.errors import ConfigurationError, MissingExtraError

try:
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.metrics import MetricWrapperBase
except ImportError as exc:  # depends on the installed extras
    raise MissingExtraError(
        "harmony.contrib.prometheus needs prometheus-client, which is not installed: "
        "pip install 'harmony[prometheus]'"
    ) from exc

__all__ = ["DEFAULT_BUCKETS", "FAMILIES", "MetricFamily", "PrometheusEventLogger"]

#: Histogram buckets in seconds: harmony's durations run from a claim statement's
#: fraction of a millisecond to a sync of many minutes.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
)

_NAMESPACE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """How one documented event becomes metrics.

    ``labels``: fields whose values become labels (besides ``status``); only fields with
    few distinct values. ``seconds``: millisecond fields observed in a histogram, by the
    histogram's name part. ``amounts``: numeric fields added to a counter, by its name part
    (never ending in ``created``: a counter's ``_created`` sample would clash).
    """

    labels: tuple[str, ...] = ()
    seconds: Mapping[str, str] = field(default_factory=dict)
    amounts: Mapping[str, str] = field(default_factory=dict)


_DURATION = MappingProxyType({"duration_ms": "duration"})

#: The metric families of harmony's documented events (every name in
#: :data:`harmony._events.EVENTS` has one; a test checks it).
FAMILIES: Mapping[str, MetricFamily] = MappingProxyType(
    {
        "db.migrate": MetricFamily(("direction",), _DURATION),
        "credentials.set": MetricFamily(("provider",)),
        "credentials.clear": MetricFamily(("provider",)),
        "worker.job": MetricFamily(("job_type",)),
        "worker.job.batch": MetricFamily((), _DURATION, {"count": "jobs"}),
        "worker.batch_lost": MetricFamily((), {}, {"count": "jobs"}),
        "orchestrator.schedule": MetricFamily(("job_type",), {"ready_age_ms": "ready_age"}),
        "orchestrator.lease": MetricFamily(("job_type",), _DURATION),
        "orchestrator.dispatch": MetricFamily(("job_type",)),
        "orchestrator.commit": MetricFamily(("job_type",), _DURATION),
        "orchestrator.heartbeat": MetricFamily(("job_type",)),
        "orchestrator.dlq": MetricFamily(("job_type",)),
        "sync.run": MetricFamily(
            ("provider",),
            _DURATION,
            {
                "created_count": "playlists_created",
                "updated_count": "playlists_updated",
                "unchanged_count": "playlists_unchanged",
                "removed_count": "playlists_removed",
                "rejected_count": "items_rejected",
                "invalidated_entries": "cache_entries_invalidated",
            },
        ),
        "sync.item_rejected": MetricFamily(("provider", "kind")),
        "export.playlist": MetricFamily(
            ("format", "target"),
            _DURATION,
            {"written_count": "tracks_written", "missing_count": "tracks_missing"},
        ),
        "worker.playlists.cache.invalidate": MetricFamily(
            (),
            {},
            {"invalidated_entries": "cache_entries_invalidated", "playlist_count": "playlists"},
        ),
        "cache.revalidate": MetricFamily(
            ("source",),
            _DURATION,
            {"invalidated_entries": "cache_entries_invalidated", "playlist_count": "playlists"},
        ),
        "match.run": MetricFamily(
            ("source", "target"), _DURATION, {"checked_count": "tracks_checked"}
        ),
        "match.override": MetricFamily(("target",)),
        "api.request": MetricFamily(("component",), _DURATION),
        "events.persist_failed": MetricFamily(("failed_event",)),
    }
)


@dataclass(frozen=True, slots=True)
class _Family:
    """A family's metrics, built once."""

    labels: tuple[str, ...]
    total: Counter
    seconds: tuple[tuple[str, Histogram], ...]
    amounts: tuple[tuple[str, Counter], ...]


class PrometheusEventLogger:
    """An event sink that turns events into Prometheus counters and histograms.

    Args:
        registry: the host's :class:`prometheus_client.CollectorRegistry`; every metric is
            registered there when the sink is built (a name already taken raises
            :class:`~harmony.errors.ConfigurationError`, and nothing is left registered).
        namespace: the first part of every metric name (``harmony``).
        buckets: histogram buckets in seconds.

    Thread-safe (prometheus-client's metrics are); it wants every event. Combine it with
    other sinks through :class:`~harmony._events.FanOutEventLogger`; a context's
    ``ctx.events`` guard keeps any failure of it from changing an operation's outcome.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        namespace: str = "harmony",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        if not isinstance(registry, CollectorRegistry):
            raise ConfigurationError(
                "PrometheusEventLogger needs the host's prometheus_client.CollectorRegistry, "
                f"got {type(registry).__name__}; pass registry=prometheus_client.REGISTRY to "
                "use the global one"
            )
        if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
            raise ConfigurationError(
                f"namespace {namespace!r} is not a Prometheus name part: use letters, digits "
                "and underscores, not starting with a digit"
            )
        self.registry = registry
        self.namespace = namespace
        self._buckets = tuple(buckets)
        self._built: list[MetricWrapperBase] = []
        try:
            self._families = {name: self._family(name, spec) for name, spec in FAMILIES.items()}
            self._other_total = self._counter(
                "events",
                "harmony events without a metric family of their own, by name",
                ("event", "status"),
            )
            self._other_seconds = self._histogram(
                "event_duration", "duration_ms of those events, in seconds", ("event", "status")
            )
        except ValueError as exc:  # a name the registry already holds
            for metric in self._built:
                registry.unregister(metric)
            raise ConfigurationError(
                f"cannot register harmony's metrics in this registry ({exc}); is another "
                "PrometheusEventLogger registered there? pass another namespace= to keep both"
            ) from exc
        # Label children by label values: labels() validates and locks on every call.
        self._children: dict[tuple[str, tuple[str, ...]], tuple[Any, ...]] = {}

    def __repr__(self) -> str:
        return f"PrometheusEventLogger(namespace={self.namespace!r})"

    # -- building ---------------------------------------------------------------------------

    def _counter(self, name: str, doc: str, labels: tuple[str, ...]) -> Counter:
        metric = Counter(name, doc, labels, namespace=self.namespace, registry=self.registry)
        self._built.append(metric)
        return metric

    def _histogram(self, name: str, doc: str, labels: tuple[str, ...]) -> Histogram:
        metric = Histogram(
            f"{name}_seconds",
            doc,
            labels,
            namespace=self.namespace,
            registry=self.registry,
            buckets=self._buckets,
        )
        self._built.append(metric)
        return metric

    def _family(self, event: str, spec: MetricFamily) -> _Family:
        base = event.replace(".", "_")
        labels = ("status", *spec.labels)
        return _Family(
            labels=spec.labels,
            total=self._counter(base, f"{event} events", labels),
            seconds=tuple(
                (source, self._histogram(f"{base}_{part}", f"{event}: {source} in seconds", labels))
                for source, part in spec.seconds.items()
            ),
            amounts=tuple(
                (source, self._counter(f"{base}_{part}", f"{event}: sum of {source}", labels))
                for source, part in spec.amounts.items()
            ),
        )

    # -- the sink ---------------------------------------------------------------------------

    def wants(self, event: str, status: str | None = None) -> bool:
        """Always: every event is counted."""
        return True

    def emit(self, event: str, /, **fields: Any) -> None:
        """Count the event, observe its durations and add up its amounts."""
        family = self._families.get(event)
        if family is None:
            other = (event, _label(fields.get("status")))
            self._other_total.labels(*other).inc()
            duration = fields.get("duration_ms")
            if _is_number(duration):
                self._other_seconds.labels(*other).observe(max(duration, 0) / 1000)
            return
        values = (_label(fields.get("status")), *(_label(fields.get(n)) for n in family.labels))
        key = (event, values)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                family.total.labels(*values),
                *(metric.labels(*values) for _, metric in family.seconds),
                *(metric.labels(*values) for _, metric in family.amounts),
            )
        children[0].inc()
        index = 1
        for source, _ in family.seconds:
            value = fields.get(source)
            if _is_number(value):
                children[index].observe(max(value, 0) / 1000)
            index += 1
        for source, _ in family.amounts:
            value = fields.get(source)
            if _is_number(value) and value > 0:  # a counter only goes up
                children[index].inc(value)
            index += 1


def _label(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_number(value: Any) -> TypeGuard[int | float]:
    # bool is an int, but True is no duration; events hold finite numbers already.
    return isinstance(value, int | float) and not isinstance(value, bool)
