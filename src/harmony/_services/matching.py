"""``ctx.matching``: which track of another provider a track is, kept across syncs.

``run(source, target)`` matches the tracks of one provider (e.g. ``"spotify"``) to the
catalogue of another (e.g. ``"local"``): ISRC first, then normalised title and artists
with rapidfuzz and the duration within a tolerance (:mod:`harmony._services.match_rules`).
Results are stored (``track_matches``) as ``auto``; ``confirm`` and ``reject`` set a pair
by hand, and no run ever changes those. Runs are incremental: a run looks only at source
tracks that are new or changed since the pair's previous run, plus, when the target's
catalogue changed, those without a match (a lookup that failed is not repeated until
then) and those whose match's target changed. ``match.run`` jobs run it from a worker.

Matching writes nothing that cached playlist responses show, so it records no change in
the change feed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from harmony._checks import as_int
from harmony._clock import Clock
from harmony._db.engine import Database
from harmony._events.base import EventLogger
from harmony._repositories.jobs import JobQueue
from harmony._repositories.match_pairs import MatchPairs
from harmony._repositories.match_store import MatchStore
from harmony._repositories.match_types import (
    MatchCandidate,
    MatchReport,
    TrackMatch,
    UnmatchedTrack,
)
from harmony._repositories.playlist_types import Track
from harmony._repositories.track_search import TrackSearchRepository
from harmony._services.handlers import JobContext
from harmony._services.match_keys import MatchKey, match_key
from harmony._services.retry import RetryPolicy
from harmony._timing import elapsed_ms
from harmony._validation import check_int, error_summary
from harmony.errors import (
    InvalidInputError,
    MissingExtraError,
    NotFoundError,
    UnknownProviderError,
)

__all__ = ["MATCH_JOB_TYPE", "MatchingService"]

#: The job type whose handler runs :meth:`MatchingService.run`.
MATCH_JOB_TYPE = "match.run"
#: Candidates listed per unmatched track.
_CANDIDATES = 3
#: Most tracks one ``unmatched`` call lists.
_MAX_UNMATCHED = 500
_PROVIDER_NAME_MAX = 64


class MatchingService:
    """``ctx.matching``: match tracks across providers, by hand where needed."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventLogger,
        providers: Callable[[], Mapping[str, Any]],
        tolerance_ms: int,
        search: TrackSearchRepository,
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self._providers = providers
        self.tolerance_ms = tolerance_ms
        self._store = MatchStore(db)
        self._pairs = MatchPairs(db, clock)
        self._search = search

    def __repr__(self) -> str:
        return f"MatchingService(tolerance_ms={self.tolerance_ms})"

    # -- runs -----------------------------------------------------------------------------

    def run(self, source: str, target: str) -> MatchReport:
        """Match ``source``'s tracks to ``target``'s catalogue; returns where the pair stands.

        Both are provider names (the ``provider`` of stored tracks). Raises
        :class:`~harmony.errors.UnknownProviderError` for a name that is neither registered
        nor has stored tracks, :class:`~harmony.errors.InvalidInputError` when they are the
        same, and :class:`~harmony.errors.MissingExtraError` without rapidfuzz (the ``search``
        extra). A failed run writes nothing and emits ``match.run`` with status ``failed``.
        """
        started = time.perf_counter()
        checked = changed = 0
        try:
            rules = _rules(self.tolerance_ms)
            self._check_pair(source, target)
            with self._lock(f"pair:{source}>{target}"):
                checked, changed, catalogue_changed = self._run(source, target, rules)
                total, matched, confirmed = self._pairs.counts(source, target)
        except Exception as exc:
            self._events.emit(
                "match.run",
                source=_name(source),
                target=_name(target),
                status="failed",
                checked_count=checked,
                matched_count=0,
                unmatched_count=0,
                duration_ms=elapsed_ms(started),
                error=error_summary(exc),
            )
            raise
        report = MatchReport(
            source=source,
            target=target,
            matched=matched,
            unmatched=total - matched,
            confirmed=confirmed,
            checked=checked,
            changed=changed,
            catalogue_changed=catalogue_changed,
            duration_ms=elapsed_ms(started),
        )
        self._events.emit(
            "match.run",
            source=source,
            target=target,
            status="ok",
            checked_count=checked,
            matched_count=matched,
            unmatched_count=report.unmatched,
            changed_count=changed,
            confirmed_count=confirmed,
            catalogue_changed=catalogue_changed,
            duration_ms=report.duration_ms,
        )
        return report

    def _run(self, source: str, target: str, rules: Any) -> tuple[int, int, bool]:
        from harmony._services.match_engine import MatchEngine

        store = self._store
        previous = store.run_state(source, target)
        source_state, target_state = store.catalogue(source), store.catalogue(target)
        same_rules = previous is not None and previous.rules == rules.fingerprint
        catalogue_changed = previous is None or previous.target_state != target_state.token
        source_changed = previous is None or previous.source_state != source_state.token
        engine = MatchEngine(store, rules, target)
        if source_changed:
            with self._lock(f"keys:{source}"):
                engine.refresh_keys(source)
        if catalogue_changed:
            with self._lock(f"keys:{target}"):
                engine.refresh_keys(target)
        # With both catalogues as the last run saw them this finds only source tracks
        # whose check was dropped (a reject): usually none, and then nothing is written.
        todo = sorted(
            store.sources_to_check(
                source,
                target,
                every=previous is not None and not same_rules,
                catalogue_changed=catalogue_changed,
            )
        )
        if not todo and same_rules and not catalogue_changed and not source_changed:
            return 0, 0, False
        confirmed, rejected = store.overrides(todo, target)
        decisions = engine.match(todo, rejected, confirmed)
        changed = store.save(
            source,
            target,
            decisions,
            self._clock.now(),
            run={
                "rules": rules.fingerprint,
                "source_state": source_state.token,
                "target_state": target_state.token,
                "checked_count": len(todo),
            },
        )
        return len(todo), changed, catalogue_changed

    @contextmanager
    def _lock(self, what: str) -> Iterator[None]:
        """PostgreSQL: other processes' work on ``what`` waits for this block: runs of one
        pair (``pair:source>target``; the later run then finds nothing to do), and the
        keying of one catalogue (``keys:provider``), which runs of different pairs share
        (each would otherwise insert the keys of the same stale tracks). SQLite: no lock;
        concurrent runs write the same results."""
        name = f"harmony.match:{self._db.settings.database_schema or 'public'}:{what}"
        with self._store.advisory_lock(name):
            yield

    # -- reading and setting matches -------------------------------------------------------

    def get(self, source_track_id: int, target: str) -> TrackMatch | None:
        """The match in use (``auto`` or ``confirmed``) of a source track in ``target``'s
        catalogue, or ``None``. Rejected pairs are never returned."""
        track_id = _track_id(source_track_id, "source_track_id")
        name = self._known(target, "target")
        return self._pairs.in_use([track_id], name).get(track_id)

    def get_many(self, source_track_ids: Sequence[int], target: str) -> dict[int, TrackMatch]:
        """:meth:`get` for many source tracks at once: ``{source track id: match}`` for
        those that have one (e.g. every track of a playlist)."""
        if isinstance(source_track_ids, (str, bytes)) or not isinstance(source_track_ids, Sequence):
            raise InvalidInputError(
                f"source_track_ids must be a list of track ids, got {source_track_ids!r:.80}"
            )
        ids = [_track_id(value, "source_track_ids") for value in source_track_ids]
        return self._pairs.in_use(list(dict.fromkeys(ids)), self._known(target, "target"))

    def confirm(self, source_track_id: int, target_track_id: int) -> TrackMatch:
        """Make ``target_track_id`` the match of ``source_track_id`` in its provider's
        catalogue, by hand: no run changes it, a re-sync keeps it (track ids stay)."""
        source, target = self._tracks(source_track_id, target_track_id)
        match = self._pairs.set_status(source, target, "confirmed")
        self._override(match)
        return match

    def reject(self, source_track_id: int, target_track_id: int) -> TrackMatch:
        """Mark the pair wrong, by hand: it is never proposed again. When it was the match
        in use, the source track has none until the next run looks for another."""
        source, target = self._tracks(source_track_id, target_track_id)
        match = self._pairs.set_status(source, target, "rejected")
        self._override(match)
        return match

    def unmatched(
        self, source: str, target: str, *, limit: int = 50, offset: int = 0
    ) -> tuple[UnmatchedTrack, ...]:
        """Tracks of ``source`` without a match in ``target`` (by id), each with up to three
        of the target's closest tracks and the rule each of them failed."""
        size = check_int("limit", limit, low=1, high=_MAX_UNMATCHED)
        skip = check_int("offset", offset, high=None)
        rules = _rules(self.tolerance_ms)
        self._check_pair(source, target)
        from harmony._services.match_engine import MatchEngine

        engine = MatchEngine(self._store, rules, target)
        tracks = self._pairs.unmatched(source, target, size, skip)
        return tuple(
            UnmatchedTrack(track=t, candidates=self._candidates(engine, rules, t, target))
            for t in tracks
        )

    # -- internals ------------------------------------------------------------------------

    def _candidates(
        self, engine: Any, rules: Any, track: Track, target: str
    ) -> tuple[MatchCandidate, ...]:
        key = _key(track)
        rejected = self._pairs.rejected(track.id, target)
        found: dict[int, MatchKey] = dict(engine.candidates(key, rejected))
        # The candidate index: tracks sharing words with the title and artist, however
        # differently spelt the rest is (e.g. an artist credited under another name).
        words = [w for w in f"{key.title} {key.artist}".split() if len(w) >= 2]
        for hit in self._search.candidates(words, limit=20, provider=target):
            if hit.id not in rejected and hit.id not in found:
                found[hit.id] = _key(hit)
        ranked = sorted(found.items(), key=lambda item: (-rules.similarity(key, item[1]), item[0]))
        top = ranked[:_CANDIDATES]
        tracks = self._pairs.tracks([i for i, _ in top])
        out = []
        for track_id, candidate in top:
            if track_id not in tracks:
                continue
            verdict = rules.judge(key, candidate)
            out.append(
                MatchCandidate(
                    track=tracks[track_id],
                    score=rules.similarity(key, candidate),
                    reasons=verdict.reasons,
                    why_not=verdict.why_not,
                )
            )
        return tuple(out)

    def _tracks(self, source_track_id: Any, target_track_id: Any) -> tuple[Track, Track]:
        source_id = _track_id(source_track_id, "source_track_id")
        target_id = _track_id(target_track_id, "target_track_id")
        found = self._pairs.tracks([source_id, target_id])
        for track_id, label in ((source_id, "source"), (target_id, "target")):
            if track_id not in found:
                raise NotFoundError(
                    f"no {label} track with id {track_id}; pass ids of stored tracks (ctx.tracks)"
                )
        source, target = found[source_id], found[target_id]
        if source.provider == target.provider:
            raise InvalidInputError(
                f"tracks {source_id} and {target_id} are both from provider {source.provider!r}; "
                "a match pairs tracks of two different providers"
            )
        return source, target

    def _override(self, match: TrackMatch) -> None:
        self._events.emit(
            "match.override",
            source_track_id=match.source_track_id,
            target_track_id=match.target_track_id,
            target=match.target_provider,
            status=match.status,
        )

    def _check_pair(self, source: Any, target: Any) -> None:
        self._known(source, "source")
        self._known(target, "target")
        if source == target:
            raise InvalidInputError(
                f"source and target are both {source!r}; match one provider's tracks to another's"
            )

    def _known(self, name: Any, role: str) -> str:
        if (
            not isinstance(name, str)
            or not name
            or len(name) > _PROVIDER_NAME_MAX
            or "\x00" in name
        ):
            raise InvalidInputError(f"{role} must be a provider name, got {name!r:.80}")
        if name in self._providers() or self._store.has_tracks(name):
            return name
        known = ", ".join(sorted(self._providers())) or "none"
        raise UnknownProviderError(
            f"no provider named {name!r} is registered or has stored tracks (registered: "
            f"{known}); sync it first or check the name"
        )

    # -- jobs -----------------------------------------------------------------------------

    def handle_job(self, job: JobContext) -> dict[str, Any]:
        """The ``match.run`` handler: payload ``{"source": name, "target": name}``.

        The run commits its own transactions (so it does not write through
        ``job.session``); the job's completion follows them. Delivery is at least once,
        and a repeated run with nothing changed writes nothing.
        """
        payload = job.job.payload
        source, target = payload.get("source"), payload.get("target")
        for role, value in (("source", source), ("target", target)):
            if not isinstance(value, str):
                raise InvalidInputError(
                    f"match.run payload {role!r} must be a provider name, got {value!r:.80}"
                )
        report = self.run(str(source), str(target))
        return report.model_dump(mode="json")

    def register(self, worker: Any, *, retry: RetryPolicy | None = None) -> None:
        """Register the ``match.run`` handler on a :class:`~harmony.Worker`.

        A failed run is retried (5 tries, exponential back-off), except bad input (a bad
        payload, an unknown provider, a missing extra), which is dead-lettered at once.
        """
        worker.register(MATCH_JOB_TYPE, self.handle_job, retry=retry or _default_retry())

    def register_on(self, jobs: JobQueue) -> None:
        """Register the ``match.run`` handler on the context's handler registry, so every
        ``Worker(ctx)`` runs it."""
        jobs.register(MATCH_JOB_TYPE, self.handle_job, retry=_default_retry())


def _default_retry() -> RetryPolicy:
    return RetryPolicy(give_up_on=(InvalidInputError, UnknownProviderError, MissingExtraError))


def _rules(tolerance_ms: int) -> Any:
    try:  # rapidfuzz is the optional "search" extra
        from harmony._services.match_rules import MatchRules
    except ImportError as exc:
        raise MissingExtraError(
            "track matching needs rapidfuzz: pip install 'harmony[search]'"
        ) from exc
    return MatchRules(tolerance_ms)


def _key(track: Track) -> MatchKey:
    return match_key(track.title, track.artists, track.album, track.isrc, track.duration_ms)


def _track_id(raw: Any, label: str) -> int:
    value = as_int(raw)
    if value is None or value < 1:
        raise InvalidInputError(f"{label} must be a positive integer track id, got {raw!r:.80}")
    return value


def _name(value: Any) -> str | None:
    return value[:_PROVIDER_NAME_MAX] if isinstance(value, str) else None
