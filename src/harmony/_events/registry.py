"""Every event harmony emits, with its required fields: the contract in code.

``docs/observability.md`` documents the same table; a test keeps the two in sync.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["EVENTS", "EventSpec", "logger_name_for"]


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event's contract: its name, required fields and what it means."""

    name: str
    required: tuple[str, ...]
    description: str


def _specs(*specs: EventSpec) -> Mapping[str, EventSpec]:
    return MappingProxyType({spec.name: spec for spec in specs})


#: The registry. Add an event here and to docs/observability.md in the same change.
EVENTS: Mapping[str, EventSpec] = _specs(
    EventSpec(
        "db.migrate",
        ("status", "direction", "from_revision", "to_revision", "duration_ms"),
        "The schema moved from one revision to another (only emitted when it changed).",
    ),
    EventSpec(
        "credentials.set",
        ("provider", "status", "key_count"),
        "Credentials of a provider were stored; key names in meta.keys, never values.",
    ),
    EventSpec(
        "credentials.clear",
        ("provider", "status"),
        "Credentials of a provider were removed (status 'cleared' or 'absent').",
    ),
    EventSpec(
        "worker.job",
        ("entity_id", "job_type", "status", "priority", "deduped"),
        "A job was enqueued (status 'enqueued'), or an existing one returned for its "
        "idempotency key (deduped true, status the existing job's).",
    ),
    EventSpec(
        "worker.job.batch",
        ("status", "count", "deduped", "duration_ms"),
        "enqueue_many stored a batch of jobs; meta.job_types lists their types.",
    ),
    EventSpec(
        "worker.batch_lost",
        ("status", "count", "error"),
        "A worker batch failed as a whole (e.g. its connection died); its uncommitted work "
        "rolled back and its jobs run again after their leases expire. meta.job_ids lists them.",
    ),
    EventSpec(
        "orchestrator.schedule",
        ("entity_id", "job_type", "status", "priority", "ready_age_ms"),
        "A ready job was picked by a scheduler tick (status 'ready'); ready_age_ms is how "
        "long it had been ready.",
    ),
    EventSpec(
        "orchestrator.lease",
        ("entity_id", "job_type", "status", "priority", "lease_timeout", "duration_ms"),
        "A lease attempt: one per leased job (status 'leased'), or one with status "
        "'skipped' and entity_id null when no job was ready.",
    ),
    EventSpec(
        "orchestrator.dispatch",
        ("entity_id", "job_type", "status", "attempts"),
        "A worker handed a leased job to its handler (status 'dispatched').",
    ),
    EventSpec(
        "orchestrator.commit",
        ("entity_id", "job_type", "status", "attempts", "duration_ms", "retry_in", "error"),
        "A try ended: status 'completed', 'retry' (retry_in seconds), 'failed' (dead "
        "letter) or 'lost' (the lease was gone, nothing committed).",
    ),
    EventSpec(
        "orchestrator.heartbeat",
        ("entity_id", "job_type", "status", "lease_timeout"),
        "A running job's lease was extended (status 'extended') or found lost ('lost').",
    ),
    EventSpec(
        "orchestrator.dlq",
        ("entity_id", "job_type", "status", "attempts", "stop_reason", "error"),
        "A job moved to the dead letter (status 'failed') and will not run again unless retried.",
    ),
    EventSpec(
        "sync.run",
        (
            "provider",
            "status",
            "created_count",
            "updated_count",
            "unchanged_count",
            "removed_count",
            "rejected_count",
            "invalidated_entries",
            "duration_ms",
        ),
        "One provider's sync finished (status 'ok'), failed and wrote nothing "
        "(status 'failed', with error), or wrote nothing because a sync of the same "
        "provider that started later stored its result first (status 'superseded').",
    ),
    EventSpec(
        "sync.item_rejected",
        ("provider", "kind", "item_id", "reason"),
        "A provider item (kind 'playlist' or 'track') failed validation and was skipped; "
        "meta.playlist_id names a track's playlist.",
    ),
    EventSpec(
        "export.playlist",
        (
            "entity_id",
            "status",
            "format",
            "target",
            "written_count",
            "missing_count",
            "duration_ms",
        ),
        "ctx.export.playlist wrote a playlist file (status 'written') or found it already "
        "up to date (status 'unchanged'); missing_count slots could not be written.",
    ),
    EventSpec(
        "worker.playlists.cache.invalidate",
        ("invalidated_entries", "playlist_count", "status"),
        "After a sync committed, the cache invalidator dropped the entries of "
        "meta.playlist_ids (status 'ok'), or raised (status 'error', with error).",
    ),
    EventSpec(
        "cache.revalidate",
        (
            "status",
            "source",
            "change_from",
            "change_to",
            "playlist_count",
            "invalidated_entries",
            "duration_ms",
        ),
        "A context's cache caught up with changes committed elsewhere (another context or "
        "process): status 'ok' dropped the entries of meta.playlist_ids (and called the "
        "host's invalidator), 'reset' dropped everything because freshness could not be "
        "proven (meta.reason), 'error' the host's invalidator raised (error). source is "
        "'read' (found before serving a cached read) or 'notify' (the change follower).",
    ),
    EventSpec(
        "match.run",
        (
            "source",
            "target",
            "status",
            "checked_count",
            "matched_count",
            "unmatched_count",
            "duration_ms",
        ),
        "ctx.matching.run matched one provider's tracks to another's catalogue (status "
        "'ok'), or failed and kept what was stored (status 'failed', with error).",
    ),
    EventSpec(
        "match.override",
        ("source_track_id", "target_track_id", "target", "status"),
        "A pair was set by hand: status 'confirmed' (ctx.matching.confirm) or 'rejected' "
        "(ctx.matching.reject).",
    ),
    EventSpec(
        "api.request",
        ("component", "entity_id", "duration_ms", "status"),
        "One call of a request-style API (component 'search': ctx.search.tracks), whether "
        "it succeeded ('ok'), was partial ('partial') or failed ('failed'); entity_id is "
        "the request id.",
    ),
    EventSpec(
        "events.persist_failed",
        ("failed_event", "status", "error"),
        "The activity event logger could not store an event; the emitting operation went on.",
    ),
)

# Families whose logger name is not simply "harmony.<family>".
_LOGGER_NAMES: Mapping[str, str] = MappingProxyType(
    {"orchestrator": "harmony.orchestrator.metrics"}
)


def logger_name_for(event: str, prefix: str = "harmony") -> str:
    """Logger name of an event's family: ``orchestrator.*`` -> ``harmony.orchestrator.metrics``,
    ``api.*`` -> ``harmony.api``, ``worker.*`` -> ``harmony.worker``, ``x.*`` -> ``harmony.x``."""
    family = event.split(".", 1)[0]
    name = _LOGGER_NAMES.get(family, f"harmony.{family}")
    return prefix + name[len("harmony") :]
