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
