"""Uses harmony's public API as the docs do; ``tests/test_typing.py`` runs ``mypy --strict``
over it. Only public modules are imported: ``harmony``, ``harmony.errors``,
``harmony.providers``, ``harmony.testing``, ``harmony.http``. Never executed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

import harmony
from harmony import (
    EVENTS,
    MATCH_JOB_TYPE,
    SYNC_JOB_TYPE,
    CacheEntry,
    Database,
    EventLogger,
    Exponential,
    ExportReport,
    Fixed,
    Handler,
    HarmonyContext,
    HarmonySettings,
    Job,
    JobContext,
    JobQueue,
    LeasedJob,
    MatchReport,
    Playlist,
    PlaylistDetail,
    PlaylistPage,
    ProgressCallback,
    RecordingEventLogger,
    ResponseCache,
    RetryPolicy,
    SearchHit,
    SearchResult,
    SyncEngine,
    SyncPlan,
    SyncProgress,
    SyncReport,
    Track,
    TrackMatch,
    UnmatchedTrack,
    Worker,
    WorkerReport,
    playlist_detail_key,
    playlist_tag,
    strong_etag,
)
from harmony.errors import HarmonyError, InvalidInputError, NotFoundError, SyncFailed
from harmony.providers import PlaylistProvider, sample_provider
from harmony.testing import InMemoryProvider, ManualClock, RecordedEvent, capture_events


def build_context(url: str, events: EventLogger) -> HarmonyContext:
    settings = HarmonySettings(database_url=url, activity_events=["sync.*"])
    ctx = HarmonyContext(settings, events=events)
    revision: str | None = ctx.migrate()
    assert revision is None or isinstance(revision, str)
    db: Database = ctx.db
    assert db.backend in ("sqlite", "postgresql")
    return ctx


def on_progress(progress: SyncProgress) -> None:
    print(progress.provider, progress.phase, progress.playlists_seen)


def sync(ctx: HarmonyContext, provider: PlaylistProvider) -> SyncReport:
    ctx.add_provider("memory", provider)
    engine: SyncEngine = ctx.sync
    callback: ProgressCallback = on_progress
    plan: SyncPlan = engine.plan("memory")
    print(plan.unchanged, list(plan.playlists))
    try:
        report = engine.run_once("memory", progress=callback)
    except SyncFailed as exc:
        print(exc.report)
        raise
    created: int = report.created + report.updated
    print(created, report.duration_ms)
    return report


def read(ctx: HarmonyContext, provider_id: str) -> PlaylistDetail | None:
    page: PlaylistPage = ctx.playlists.list_page(limit=10)
    first: Playlist | None = ctx.playlists.find("memory", provider_id)
    if first is None:
        return None
    try:
        detail: PlaylistDetail = ctx.playlists.get(first.id)
    except NotFoundError:
        return None
    tracks: list[Track] = [slot for slot in detail.tracks if slot.position >= 0]
    print(page.next_cursor, len(tracks))
    return detail


def jobs(ctx: HarmonyContext) -> WorkerReport:
    queue: JobQueue = ctx.jobs

    @queue.handler(
        "report.build", retry=RetryPolicy(max_attempts=3, wait=Exponential(initial=1, maximum=60))
    )
    def build(job: JobContext) -> dict[str, Any]:
        leased: LeasedJob = job.job
        session: Session = job.session
        print(session.bind is not None, job.attempt, job.worker_id)
        return {"id": leased.id, "attempts": leased.attempts}

    handler: Handler = build
    queue.register("report.other", handler, retry=RetryPolicy(wait=Fixed(5)))
    job: Job = queue.enqueue("report.build", {"week": 12}, priority=1)
    queue.enqueue(SYNC_JOB_TYPE, {"provider": "memory"})
    queue.enqueue(MATCH_JOB_TYPE, {"source": "memory", "target": "local"})
    print(job.id, job.status, queue.stats())
    worker = Worker(ctx, concurrency=2)
    return worker.run_until_idle()


def matching(ctx: HarmonyContext) -> tuple[int, TrackMatch | None]:
    report: MatchReport = ctx.matching.run("memory", "local")
    lonely: tuple[UnmatchedTrack, ...] = ctx.matching.unmatched("memory", "local", limit=5)
    found = ctx.matching.get(lonely[0].track.id, "local") if lonely else None
    return report.matched, found


def export(ctx: HarmonyContext, playlist_id: int, folder: Path) -> int:
    report: ExportReport = ctx.export.playlist(playlist_id, folder / "mix.m3u8", format="m3u8")
    return report.written - len(report.missing)


def search(ctx: HarmonyContext, query: str) -> list[str]:
    try:
        result: SearchResult = ctx.search.tracks(query, limit=5)
    except InvalidInputError as exc:
        return [str(exc)]
    hits: tuple[SearchHit, ...] = result.items
    return [f"{hit.source}:{hit.title} {hit.score:.2f}" for hit in hits]


def events_and_cache(ctx: HarmonyContext, recorder: RecordingEventLogger) -> list[str]:
    names = [name for name in EVENTS if name.startswith("sync.")]
    seen: list[RecordedEvent] = recorder.named("sync.run")
    cache: ResponseCache | None = ctx.cache
    key = playlist_detail_key(1)
    tag = playlist_tag(1)
    print(cache, key, tag, strong_etag({"a": 1}), CacheEntry)
    return names + [event.name for event in seen]


def testing_helpers() -> HarmonyError | None:
    clock = ManualClock()
    provider = InMemoryProvider("memory")
    provider.set_playlist("p1", "Mix", [{"id": "t1", "title": "Song", "artists": ["A"]}])
    sample: PlaylistProvider = sample_provider()
    recorder = RecordingEventLogger()
    with HarmonyContext.from_url("sqlite://", events=recorder, clock=clock) as ctx:
        with capture_events(ctx) as captured:
            sync(ctx, provider)
        runs: list[RecordedEvent] = captured.named("sync.run")
        print(sample, harmony.__version__, len(runs))
    return None
