"""The playlist sync engine: ``ctx.sync.run_once()``, ``ctx.sync.plan()`` and the
``playlist.sync`` job.

A run per provider has three phases. *Fetch*: read what is stored, walk the provider's
playlists and fetch tracks only of playlists whose snapshot (or, without one, content hash)
changed; nothing is written yet, so a provider failure leaves database and cache as they
were. *Write*: one transaction applies every change of the provider. *Invalidate*: after
the commit, the cache invalidator gets each affected playlist id once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harmony._cache.invalidator import CacheInvalidator
from harmony._clock import Clock
from harmony._db.engine import Database
from harmony._events.base import EventLogger
from harmony._events.guard import record_failure
from harmony._events.loggers import NullEventLogger
from harmony._repositories.change_feed import ChangeFeed
from harmony._repositories.jobs import JobQueue
from harmony._repositories.sync_preview import SyncPreviewReader
from harmony._repositories.sync_store import (
    AppliedSync,
    PlaylistChange,
    StoredPlaylist,
    SyncStore,
)
from harmony._services.coherence import CacheCoherence
from harmony._services.handlers import JobContext
from harmony._services.retry import RetryPolicy
from harmony._services.sync_plan import SyncPlan, describe_changes
from harmony._services.sync_types import REPORTED_REJECTIONS, RejectedItem
from harmony._timing import elapsed_ms
from harmony._validation import error_summary
from harmony.errors import (
    ContextClosed,
    DatabaseError,
    InvalidInputError,
    RateLimited,
    RetryLater,
    SyncFailed,
    UnknownProviderError,
)
from harmony.providers.base import (
    PlaylistProvider,
    ProviderPlaylist,
    ProviderTrack,
    Rejection,
    coerce_playlist,
    coerce_track,
)

__all__ = [
    "SYNC_JOB_TYPE",
    "ProgressCallback",
    "RejectedItem",
    "SyncEngine",
    "SyncProgress",
    "SyncReport",
]

#: The job type whose handler runs :meth:`SyncEngine.run_once`.
SYNC_JOB_TYPE = "playlist.sync"
_REPORTED_REJECTIONS = REPORTED_REJECTIONS


class SyncReport(BaseModel):
    """What one ``run_once`` did, summed over the providers it synced."""

    model_config = ConfigDict(frozen=True)

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: int = 0
    invalidated: int = 0
    duration_ms: float = 0.0
    providers: tuple[str, ...] = ()
    #: Ids of every playlist whose stored representation changed.
    playlist_ids: tuple[int, ...] = ()
    #: The first rejected items (all are counted in ``rejected``).
    rejections: tuple[RejectedItem, ...] = ()
    #: Providers that failed, with their error; nothing was written for them.
    failed: Mapping[str, str] = Field(default_factory=dict)
    #: Providers whose result was discarded because a sync of the same provider that
    #: started fetching later stored its result first (its data is newer).
    superseded: tuple[str, ...] = ()
    #: Failed providers that asked to be tried again later (a rate limit), in seconds.
    retry_after: Mapping[str, float] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every provider synced."""
        return not self.failed

    def __add__(self, other: SyncReport) -> SyncReport:
        return SyncReport(
            created=self.created + other.created,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            removed=self.removed + other.removed,
            rejected=self.rejected + other.rejected,
            invalidated=self.invalidated + other.invalidated,
            duration_ms=self.duration_ms + other.duration_ms,
            providers=self.providers + other.providers,
            playlist_ids=self.playlist_ids + other.playlist_ids,
            rejections=(self.rejections + other.rejections)[:_REPORTED_REJECTIONS],
            failed={**self.failed, **other.failed},
            superseded=self.superseded + other.superseded,
            retry_after={**self.retry_after, **other.retry_after},
        )


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Where a running sync is, for progress displays (``run_once(progress=...)``)."""

    provider: str
    #: ``"fetch"`` while walking the provider, ``"write"`` just before the transaction,
    #: ``"done"`` after the commit (and invalidation).
    phase: Literal["fetch", "write", "done"]
    playlists_seen: int
    playlists_changed: int
    tracks_fetched: int


ProgressCallback = Callable[[SyncProgress], None]


class SyncEngine:
    """``ctx.sync``: pulls playlists from the context's providers into the database."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventLogger,
        providers: Mapping[str, PlaylistProvider],
        invalidator: CacheInvalidator,
        removed_policy: Literal["mark", "delete"],
        *,
        feed: ChangeFeed,
        coherence: CacheCoherence | None = None,
    ) -> None:
        self._store = SyncStore(db, clock, feed)
        self._preview = SyncPreviewReader(db)
        self._events = events
        self._coherence = coherence
        self.providers = providers
        self.invalidator = invalidator
        self.removed_policy = removed_policy

    def __repr__(self) -> str:
        return f"SyncEngine(providers={sorted(self.providers)!r}, policy={self.removed_policy!r})"

    def run_once(
        self,
        provider: str | None = None,
        *,
        full: bool = False,
        progress: ProgressCallback | None = None,
    ) -> SyncReport:
        """Sync one provider, or every registered one; returns what changed.

        ``full=True`` fetches and rewrites every playlist even when its snapshot or content
        hash says it is unchanged: for refreshing data stored by an older harmony (e.g.
        release years, which tracks synced before migration 0004 lack). Each rewritten
        playlist gets a new version and ETag.

        ``progress`` (optional) is called with a :class:`SyncProgress` after each playlist
        is looked at and at each phase change; it runs in the calling thread. If it raises,
        the sync goes on (the failure is counted in ``ctx.events.failures`` and logged once).

        Raises :class:`~harmony.errors.SyncFailed` (with ``.report``) when a provider failed,
        after the others have synced; nothing was written for the failed one.
        """
        names = self._names(provider)
        report = SyncReport()
        errors: list[Exception] = []
        for name in names:
            part, error = self._run_provider(name, self.providers[name], full, progress)
            report = report + part
            if error is not None:
                errors.append(error)
        if report.failed:
            failures = "; ".join(f"{name}: {error}" for name, error in report.failed.items())
            # Only rate limits: the whole sync can work once the longest wait is over.
            later = (
                max(report.retry_after.values())
                if set(report.retry_after) == set(report.failed)
                else None
            )
            # A provider's own failure if there is one, else the database's: __cause__
            # (and harmony.http's status) tells a host which side to look at.
            cause = next((e for e in errors if not isinstance(e, DatabaseError)), errors[0])
            raise SyncFailed(f"sync failed for {failures}", report, retry_in=later) from cause
        return report

    def plan(
        self,
        provider: str | None = None,
        *,
        full: bool = False,
        progress: ProgressCallback | None = None,
    ) -> SyncPlan:
        """What :meth:`run_once` with the same arguments would do now, written nowhere.

        Runs the sync's fetch phase (the same comparison of snapshots and content hashes,
        the same provider requests) and describes each playlist that would change; the
        database, the cache and the activity log are left as they are, and no event is
        emitted. A provider that fails is listed in ``failed`` instead of raising.
        """
        plan = SyncPlan(removed_policy=self.removed_policy)
        for name in self._names(provider):
            run = _Run(name, NullEventLogger(), progress, full)  # rejections: counted, not emitted
            try:
                stored = self._store.stored(name)
                changes, removed, unchanged = self._fetch(run, self.providers[name])
                plans, updates, still = describe_changes(
                    self._preview, name, stored, changes, removed, unchanged
                )
            except ContextClosed:
                raise
            except Exception as exc:  # a provider or the database failed
                part = SyncPlan(
                    providers=(name,),
                    failed={name: error_summary(exc)},
                    rejected=run.rejected,
                    rejections=tuple(run.rejections),
                    removed_policy=self.removed_policy,
                )
            else:
                part = SyncPlan(
                    providers=(name,),
                    playlists=tuple(plans),
                    unchanged=still,
                    tracks_updated=tuple(updates),
                    rejected=run.rejected,
                    rejections=tuple(run.rejections),
                    removed_policy=self.removed_policy,
                )
            plan = plan + part
            run.report("done")
        return plan

    def handle_job(self, job: JobContext) -> dict[str, Any]:
        """The ``playlist.sync`` handler: payload ``{"provider": name}`` or ``{}`` for all.

        The sync commits its own transactions (one per changed playlist, with the cache
        invalidation after each commit), so it does not write through ``job.session``;
        the job's completion follows it. Delivery is
        at least once, and a repeated sync of unchanged playlists writes nothing. When every
        failed provider was rate-limited beyond its wait limit
        (:class:`~harmony.errors.RateLimited`), the job is rescheduled for after the wait
        (:class:`~harmony.errors.RetryLater`) instead of failing.
        """
        payload = job.job.payload
        provider, full = payload.get("provider"), payload.get("full", False)
        if provider is not None and not isinstance(provider, str):
            raise InvalidInputError(
                f"playlist.sync payload 'provider' must be a provider name, got {provider!r}"
            )
        if not isinstance(full, bool):
            raise InvalidInputError(
                f"playlist.sync payload 'full' must be true or false, got {full!r}"
            )
        try:
            report = self.run_once(provider, full=full)
        except SyncFailed as exc:
            if exc.retry_in is not None:  # rate-limited: run again then, not a failed try
                raise RetryLater(str(exc), retry_in=exc.retry_in) from exc
            raise
        return report.model_dump(mode="json", exclude={"rejections"})

    def register(self, worker: Any, *, retry: RetryPolicy | None = None) -> None:
        """Register the ``playlist.sync`` handler on a :class:`~harmony.Worker`.

        The context already registers it on ``ctx.jobs`` (so every ``Worker(ctx)`` runs
        it); this is for a worker that should use another ``retry`` policy.

        By default a failed sync is retried (5 tries, exponential back-off), except a bad
        payload or an unknown provider (:class:`InvalidInputError`), which is dead-lettered
        at once since retrying cannot help.
        """
        worker.register(SYNC_JOB_TYPE, self.handle_job, retry=retry or _default_retry())

    def register_on(self, jobs: JobQueue) -> None:
        """Register the ``playlist.sync`` handler on the context's handler registry."""
        jobs.register(SYNC_JOB_TYPE, self.handle_job, retry=_default_retry())

    # -- one provider -----------------------------------------------------------------

    def _names(self, provider: str | None) -> list[str]:
        if provider is None:
            return sorted(self.providers)
        if not isinstance(provider, str):
            raise InvalidInputError(f"provider must be a provider name, got {provider!r:.80}")
        if provider not in self.providers:
            known = ", ".join(sorted(self.providers)) or "none"
            raise UnknownProviderError(
                f"no provider named {provider!r} is registered (registered: {known}); pass "
                "it to HarmonyContext(providers={...})"
            )
        return [provider]

    def _run_provider(
        self,
        name: str,
        provider: PlaylistProvider,
        full: bool,
        progress: ProgressCallback | None,
    ) -> tuple[SyncReport, Exception | None]:
        """One provider's sync: its report, and the exception that failed it (if any)."""
        started = time.perf_counter()
        run = _Run(name, self._events, progress, full)
        try:
            ticket = self._store.ticket(name)
            changes, removed, unchanged = self._fetch(run, provider)
            run.report("write")
            applied = self._apply(name, changes, removed, ticket)
        except ContextClosed:
            raise  # not this provider's failure: nothing can run on a closed context
        except Exception as exc:  # a provider or the database failed: nothing was written
            error = error_summary(exc)
            duration = elapsed_ms(started)
            self._emit_nothing_written(name, "failed", run, duration, error=error)
            failed = SyncReport(
                providers=(name,),
                rejected=run.rejected,
                rejections=tuple(run.rejections),
                duration_ms=duration,
                failed={name: error},
                retry_after={name: exc.retry_after} if isinstance(exc, RateLimited) else {},
            )
            return failed, exc
        if applied.superseded:
            return self._superseded(name, run, started), None
        affected = applied.affected
        invalidated = self._invalidate(affected)
        run.report("done")
        report = SyncReport(
            created=len(applied.created),
            updated=len(applied.updated),
            # A playlist re-versioned because a track it shows changed is not "unchanged".
            unchanged=len(unchanged - set(applied.touched)),
            removed=len(applied.removed),
            rejected=run.rejected,
            invalidated=invalidated,
            duration_ms=elapsed_ms(started),
            providers=(name,),
            playlist_ids=tuple(affected),
            rejections=tuple(run.rejections),
        )
        self._events.emit(
            "sync.run",
            provider=name,
            status="ok",
            created_count=report.created,
            updated_count=report.updated,
            unchanged_count=report.unchanged,
            removed_count=report.removed,
            rejected_count=report.rejected,
            invalidated_entries=invalidated,
            duration_ms=report.duration_ms,
        )
        return report, None

    def _apply(
        self, name: str, changes: list[PlaylistChange], removed: list[str], ticket: int
    ) -> AppliedSync:
        coherence = self._coherence
        if coherence is None:
            return self._store.apply(name, changes, removed, self.removed_policy, ticket=ticket)
        coherence.begin_local()
        applied: AppliedSync | None = None
        try:
            applied = self._store.apply(name, changes, removed, self.removed_policy, ticket=ticket)
        finally:
            coherence.end_local(
                applied.change if applied is not None else None,
                applied.affected if applied is not None else (),
            )
        return applied

    def _emit_nothing_written(
        self, name: str, status: str, run: _Run, duration: float, **extra: Any
    ) -> None:
        """``sync.run`` for a sync that stored nothing (failed, or superseded)."""
        self._events.emit(
            "sync.run",
            provider=name,
            status=status,
            created_count=0,
            updated_count=0,
            unchanged_count=0,
            removed_count=0,
            rejected_count=run.rejected,
            invalidated_entries=0,
            duration_ms=duration,
            **extra,
        )

    def _superseded(self, name: str, run: _Run, started: float) -> SyncReport:
        duration = elapsed_ms(started)
        self._emit_nothing_written(name, "superseded", run, duration)
        run.report("done")
        return SyncReport(
            providers=(name,),
            rejected=run.rejected,
            rejections=tuple(run.rejections),
            duration_ms=duration,
            superseded=(name,),
        )

    def _fetch(
        self, run: _Run, provider: PlaylistProvider
    ) -> tuple[list[PlaylistChange], list[str], set[int]]:
        """What to write, which provider ids are gone, and the stored ids left unchanged."""
        stored = self._store.stored(run.provider)
        changes: list[PlaylistChange] = []
        seen: set[str] = set()
        protect_all = False  # a rejected playlist without id: removal would be a guess
        unchanged: set[int] = set()
        for item in provider.iter_playlists():
            playlist = coerce_playlist(item)
            if isinstance(playlist, Rejection):
                run.reject(playlist)
                if playlist.item_id is None:
                    protect_all = True
                else:
                    seen.add(playlist.item_id)
                continue
            if playlist.id in seen:
                run.reject(Rejection("playlist", playlist.id, "duplicate playlist id"))
                continue
            seen.add(playlist.id)
            row = stored.get(playlist.id)
            change = self._change(run, provider, playlist, row)
            if change is not None:
                changes.append(change)
            elif row is not None:  # only a stored playlist can be unchanged
                unchanged.add(row.id)
            run.seen += 1
            run.changed = len(changes)
            run.report("fetch")
        removed = (
            []
            if protect_all
            else [pid for pid, row in stored.items() if row.status == "active" and pid not in seen]
        )
        return changes, removed, unchanged

    def _change(
        self,
        run: _Run,
        provider: PlaylistProvider,
        playlist: ProviderPlaylist,
        row: StoredPlaylist | None,
    ) -> PlaylistChange | None:
        active = row is not None and row.status == "active" and not run.full
        if (
            row is not None
            and active
            and playlist.snapshot_id is not None
            and playlist.snapshot_id == row.snapshot_id
        ):
            if row.same_metadata(playlist):
                return None
            return PlaylistChange(playlist, None, None)  # renamed: no track fetch
        tracks = run.tracks(provider, playlist.id)
        if playlist.snapshot_id is not None:
            return PlaylistChange(playlist, tracks, None)  # the snapshot is the fingerprint
        digest = content_hash(tracks)
        if (
            row is not None
            and active
            and row.content_hash == digest
            and row.snapshot_id is None
            and row.same_metadata(playlist)
        ):
            return None
        return PlaylistChange(playlist, tracks, digest)

    def _invalidate(self, playlist_ids: Sequence[int]) -> int:
        if not playlist_ids:
            return 0
        meta = {"playlist_ids": list(playlist_ids)}
        try:
            removed = int(self.invalidator.invalidate(playlist_ids))
        except Exception as exc:  # the sync is committed; report, never undo
            self._events.emit(
                "worker.playlists.cache.invalidate",
                invalidated_entries=0,
                playlist_count=len(playlist_ids),
                status="error",
                error=error_summary(exc),
                meta=meta,
            )
            return 0
        self._events.emit(
            "worker.playlists.cache.invalidate",
            invalidated_entries=removed,
            playlist_count=len(playlist_ids),
            status="ok",
            meta=meta,
        )
        return removed


def _default_retry() -> RetryPolicy:
    return RetryPolicy(give_up_on=(InvalidInputError,))


class _Run:
    """Rejections of one provider's run: counted, kept (the first ones) and emitted."""

    def __init__(
        self,
        provider: str,
        events: EventLogger,
        progress: ProgressCallback | None = None,
        full: bool = False,
    ) -> None:
        self.provider = provider
        self.full = full
        self._events = events
        self._progress = progress
        self.rejected = 0
        self.rejections: list[RejectedItem] = []
        self.seen = self.changed = self.fetched = 0

    def report(self, phase: Literal["fetch", "write", "done"]) -> None:
        if self._progress is not None:
            try:
                self._progress(
                    SyncProgress(self.provider, phase, self.seen, self.changed, self.fetched)
                )
            except Exception as exc:  # a progress display must not fail (or roll back) a sync
                record_failure(self._events, "sync progress callback", exc)

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        item = RejectedItem(
            provider=self.provider,
            kind=rejection.kind,
            item_id=rejection.item_id,
            reason=rejection.reason,
            playlist_id=rejection.playlist_id,
        )
        if len(self.rejections) < _REPORTED_REJECTIONS:
            self.rejections.append(item)
        meta = {"playlist_id": rejection.playlist_id} if rejection.playlist_id else None
        self._events.emit(
            "sync.item_rejected",
            provider=self.provider,
            kind=rejection.kind,
            item_id=rejection.item_id,
            reason=rejection.reason,
            **({"meta": meta} if meta else {}),
        )

    def tracks(self, provider: PlaylistProvider, playlist_id: str) -> list[ProviderTrack]:
        accepted: list[ProviderTrack] = []
        for item in provider.iter_tracks(playlist_id):
            track = coerce_track(item, playlist_id)
            if isinstance(track, Rejection):
                self.reject(track)
            else:
                accepted.append(track)
        self.fetched += len(accepted)
        return accepted


def content_hash(tracks: Iterable[ProviderTrack]) -> str:
    """A hash of a playlist's ordered track list (for providers without snapshots)."""
    digest = hashlib.sha256()
    for track in tracks:
        digest.update(
            json.dumps(
                [
                    track.id,
                    track.title,
                    track.artists,
                    track.album,
                    track.duration_ms,
                    track.isrc,
                    track.year,
                    track.added_at.isoformat() if track.added_at else None,
                ],
                separators=(",", ":"),
            ).encode()
        )
        digest.update(b"\n")
    return digest.hexdigest()
