"""harmony.contrib.prometheus: events as counters and histograms in the host's registry,
scraped from a real prometheus-client HTTP server."""

from __future__ import annotations

import importlib
import re
import sys
import urllib.request
from collections import Counter as Tally
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from harmony import (
    ConfigurationError,
    FanOutEventLogger,
    HarmonyContext,
    JobContext,
    MissingExtraError,
    RecordingEventLogger,
    RetryPolicy,
    Worker,
)
from harmony._events import EVENTS
from harmony.contrib.prometheus import FAMILIES, PrometheusEventLogger
from harmony.testing import InMemoryProvider
from harmony.testing.pytest_plugin import ContextFactory

SECRET_ERROR = "token=abc123 refused by upstream"
#: Every label a harmony metric may carry: status and the low-cardinality fields.
ALLOWED_LABELS = {
    "status",
    "event",
    "job_type",
    "provider",
    "direction",
    "kind",
    "format",
    "target",
    "source",
    "component",
    "failed_event",
    "le",
}


class _Broken:
    """A second sink whose backend is down."""

    def emit(self, event: str, /, **fields: Any) -> None:
        raise ConnectionError("log shipper is down")

    def wants(self, event: str, status: str | None = None) -> bool:
        return True


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def _scrape(registry: CollectorRegistry) -> tuple[str, list[Sample]]:
    """The exposition text and samples of ``registry``, read over HTTP from a real
    prometheus-client server on 127.0.0.1."""
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            text = response.read().decode("utf-8")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return text, samples


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _workload(ctx: HarmonyContext, provider: InMemoryProvider) -> None:
    """Jobs that complete, jobs that dead-letter, a sync and a search."""
    ctx.jobs.enqueue_many([{"type": "ok.job"} for _ in range(5)])
    ctx.jobs.enqueue_many([{"type": "bad.job"} for _ in range(2)])

    def bad(job: JobContext) -> None:
        raise RuntimeError(SECRET_ERROR)

    worker = Worker(ctx, batch_size=3)
    worker.register("ok.job", lambda job: None)
    worker.register("bad.job", bad, retry=RetryPolicy(max_attempts=1))
    report = worker.run_until_idle()
    assert (report.completed, report.dead_lettered) == (5, 2)
    provider.set_playlist("p1", "One", tracks=[{"id": "t1", "title": "Song", "artists": ["A"]}])
    provider.set_playlist("p2", "Two", tracks=[{"id": "t2", "title": "Other", "artists": ["B"]}])
    assert ctx.sync.run_once().created == 2
    ctx.search.tracks("song", sources=["local"])


def test_every_documented_event_has_a_family_with_low_cardinality_labels() -> None:
    assert set(FAMILIES) == set(EVENTS)
    for name, family in FAMILIES.items():
        assert set(family.labels) <= set(EVENTS[name].required), name
        assert set(family.labels) <= ALLOWED_LABELS, name
        for source in [*family.seconds, *family.amounts]:
            assert source in EVENTS[name].required, (name, source)


def test_observability_md_lists_each_familys_labels_and_metrics() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "observability.md").read_text("utf-8")
    table = doc.split("| Event | Labels besides `status` |", 1)[1].split("\n\n", 1)[0]
    documented: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for row in table.splitlines()[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        names, labels, seconds, amounts = (re.findall(r"`([^`]+)`", cell) for cell in cells)
        for name in names:
            documented[name] = (set(labels), set(seconds), set(amounts))
    assert set(documented) == set(FAMILIES)
    for name, family in FAMILIES.items():
        labels, seconds, amounts = documented[name]
        assert labels == set(family.labels), name
        assert seconds == set(family.seconds.values()), name
        assert amounts == set(family.amounts.values()), name


def test_a_context_workload_becomes_counters_and_histograms_in_the_hosts_registry(
    harmony_context_factory: ContextFactory, registry: CollectorRegistry
) -> None:
    recording, provider = RecordingEventLogger(), InMemoryProvider()
    ctx = harmony_context_factory(
        events=FanOutEventLogger(recording, PrometheusEventLogger(registry)),
        providers={"memory": provider},
    )
    _workload(ctx, provider)
    text, samples = _scrape(registry)

    commits = Tally((e["job_type"], e["status"]) for e in recording.named("orchestrator.commit"))
    assert commits == {("ok.job", "completed"): 5, ("bad.job", "failed"): 2}
    for (job_type, status), count in commits.items():
        labels = {"job_type": job_type, "status": status}
        assert _value(samples, "harmony_orchestrator_commit_total", **labels) == count
        assert (
            _value(samples, "harmony_orchestrator_commit_duration_seconds_count", **labels) == count
        )
    assert _value(samples, "harmony_orchestrator_dlq_total", job_type="bad.job") == 2
    leases = list(recording.named("orchestrator.lease"))
    assert _value(samples, "harmony_orchestrator_lease_total") == len(leases)
    assert _value(samples, "harmony_orchestrator_lease_duration_seconds_count") == len(leases)
    assert _value(samples, "harmony_orchestrator_lease_duration_seconds_sum") == pytest.approx(
        sum(e["duration_ms"] for e in leases) / 1000
    )
    assert _value(samples, "harmony_worker_job_batch_jobs_total") == 7

    assert _value(samples, "harmony_sync_run_total", provider="memory", status="ok") == 1
    assert _value(samples, "harmony_sync_run_duration_seconds_count", provider="memory") == 1
    assert _value(samples, "harmony_sync_run_playlists_created_total", provider="memory") == 2
    (run,) = recording.named("sync.run")
    assert _value(samples, "harmony_sync_run_duration_seconds_sum") == pytest.approx(
        run["duration_ms"] / 1000
    )
    assert _value(samples, "harmony_api_request_total", component="search", status="ok") == 1
    assert _value(samples, "harmony_api_request_duration_seconds_count", component="search") == 1

    # Labels come only from low-cardinality fields: no ids, no error text.
    assert {key for s in samples for key in s.labels} <= ALLOWED_LABELS
    assert SECRET_ERROR not in text and "abc123" not in text
    job_ids = {str(e["entity_id"]) for e in recording.named("orchestrator.commit")}
    assert not job_ids & {value for s in samples for value in s.labels.values()}


def test_an_applications_own_events_are_counted_by_name(registry: CollectorRegistry) -> None:
    metrics = PrometheusEventLogger(registry)
    metrics.emit("myapp.import", status="ok", duration_ms=250.0, rows=3)
    metrics.emit("myapp.import", status="failed", duration_ms="slow")  # not a number: not observed
    metrics.emit("myapp.tick")
    _, samples = _scrape(registry)
    assert _value(samples, "harmony_events_total", event="myapp.import") == 2
    assert _value(samples, "harmony_events_total", event="myapp.tick", status="") == 1
    assert _value(samples, "harmony_event_duration_seconds_count", event="myapp.import") == 1
    assert _value(samples, "harmony_event_duration_seconds_sum", event="myapp.import") == 0.25


def test_nothing_goes_to_the_global_registry(registry: CollectorRegistry) -> None:
    before = {m.name for m in prometheus_client.REGISTRY.collect()}
    PrometheusEventLogger(registry).emit(
        "api.request", component="search", entity_id="r1", duration_ms=1.0, status="ok"
    )
    after = {m.name for m in prometheus_client.REGISTRY.collect()}
    assert after == before and not any(name.startswith("harmony") for name in after)
    assert any(m.name == "harmony_api_request" for m in registry.collect())


def test_a_taken_name_is_refused_and_leaves_the_registry_as_it_was(
    registry: CollectorRegistry,
) -> None:
    PrometheusEventLogger(registry)
    names = sorted(m.name for m in registry.collect())
    with pytest.raises(ConfigurationError, match="namespace="):
        PrometheusEventLogger(registry)
    assert sorted(m.name for m in registry.collect()) == names
    PrometheusEventLogger(registry, namespace="harmony_b")  # another namespace fits beside
    assert any(m.name.startswith("harmony_b_") for m in registry.collect())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"registry": None}, "needs the host's prometheus_client.CollectorRegistry"),
        ({"registry": CollectorRegistry(), "namespace": "2bad-name"}, "'2bad-name'"),
    ],
)
def test_bad_arguments_are_refused_clearly(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PrometheusEventLogger(**kwargs)


def test_a_raising_sink_beside_prometheus_changes_no_job_outcome(
    harmony_context_factory: ContextFactory, registry: CollectorRegistry
) -> None:
    provider = InMemoryProvider()
    ctx = harmony_context_factory(
        events=FanOutEventLogger(_Broken(), PrometheusEventLogger(registry)),
        providers={"memory": provider},
    )
    _workload(ctx, provider)
    assert ctx.events.failures > 0
    assert ctx.jobs.stats().counts == {"ok.job": {"completed": 5}, "bad.job": {"failed": 2}}
    _, samples = _scrape(registry)
    assert _value(samples, "harmony_orchestrator_commit_total", status="completed") == 5
    assert _value(samples, "harmony_sync_run_playlists_created_total") == 2


def test_without_prometheus_client_the_module_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "harmony.contrib.prometheus")
    for name in [m for m in sys.modules if m.split(".")[0] == "prometheus_client"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'harmony\[prometheus\]'"):
        importlib.import_module("harmony.contrib.prometheus")
