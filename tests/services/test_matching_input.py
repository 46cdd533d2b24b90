"""ctx.matching: bad input is refused with a clear error and nothing stored is changed; the
match.run job; a missing rapidfuzz is named."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from harmony import (
    MATCH_JOB_TYPE,
    HarmonyContext,
    InvalidInputError,
    NotFoundError,
    RetryPolicy,
    UnknownProviderError,
    Worker,
)
from harmony._db.models import MatchRunRow, TrackMatchRow
from harmony.testing import RecordingEventLogger
from tests.services.matching_support import (
    Catalogues,
    Library,
    song,
)

SPOTIFY = [song("s1", "Blue", ["Ada"]), song("s2", "Green", ["Ada"])]
LOCAL = [song("l1", "Blue", ["Ada"]), song("l2", "Red", ["Ada"])]


def _stored(ctx: HarmonyContext) -> list[tuple[Any, ...]]:
    with ctx.db.connect() as conn:
        matches = conn.execute(
            select(
                TrackMatchRow.source_track_id, TrackMatchRow.target_track_id, TrackMatchRow.status
            ).order_by(TrackMatchRow.source_track_id)
        ).all()
        runs = conn.execute(select(func.count()).select_from(MatchRunRow)).scalar_one()
    return [*map(tuple, matches), ("runs", runs)]


@pytest.fixture
def lib(library: Library) -> Catalogues:
    found = library(SPOTIFY, LOCAL)
    found.run()
    return found


@pytest.mark.parametrize(
    ("source", "target", "error", "message"),
    [
        ("nope", "local", UnknownProviderError, "no provider named 'nope'"),
        ("spotify", "nope", UnknownProviderError, "registered: local, spotify"),
        ("spotify", "spotify", InvalidInputError, "both 'spotify'"),
        ("", "local", InvalidInputError, "source must be a provider name"),
        ("spotify", 3, InvalidInputError, "target must be a provider name, got 3"),
        (None, "local", InvalidInputError, "got None"),
    ],
)
def test_a_run_with_bad_provider_names_is_refused_and_changes_nothing(
    lib: Catalogues,
    harmony_events: RecordingEventLogger,
    source: Any,
    target: Any,
    error: type[Exception],
    message: str,
) -> None:
    before = _stored(lib.ctx)
    harmony_events.clear()
    with pytest.raises(error, match=message):
        lib.ctx.matching.run(source, target)
    assert _stored(lib.ctx) == before
    (event,) = harmony_events.named("match.run")
    assert event["status"] == "failed" and message.split("'")[0] in event["error"]


def test_a_provider_with_stored_tracks_need_not_be_registered(lib: Catalogues) -> None:
    with HarmonyContext(lib.ctx.settings, clock=lib.clock) as bare:  # no providers registered
        report = bare.matching.run("spotify", "local")
        assert (report.matched, report.checked) == (1, 0)
        assert bare.matching.get(lib.id("spotify", "s1"), "local") is not None


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda m, ids: m.confirm(ids["s1"], 10**9),
            NotFoundError,
            "no target track with id 1000000000",
        ),
        (
            lambda m, ids: m.confirm(10**9, ids["l1"]),
            NotFoundError,
            "no source track with id 1000000000",
        ),
        (
            lambda m, ids: m.reject(ids["s1"], ids["s2"]),
            InvalidInputError,
            "both from provider 'spotify'",
        ),
        (
            lambda m, ids: m.confirm("7", ids["l1"]),
            InvalidInputError,
            "source_track_id must be a positive integer",
        ),
        (
            lambda m, ids: m.reject(ids["s1"], True),
            InvalidInputError,
            "target_track_id must be a positive integer",
        ),
        (lambda m, ids: m.confirm(0, ids["l1"]), InvalidInputError, "got 0"),
        (lambda m, ids: m.get(-1, "local"), InvalidInputError, "positive integer"),
        (lambda m, ids: m.get(ids["s1"], "elsewhere"), UnknownProviderError, "'elsewhere'"),
        (
            lambda m, ids: m.get_many("12", "local"),
            InvalidInputError,
            "must be a list of track ids",
        ),
        (lambda m, ids: m.get_many([ids["s1"], None], "local"), InvalidInputError, "got None"),
        (
            lambda m, ids: m.unmatched("spotify", "local", limit=0),
            InvalidInputError,
            "limit must be",
        ),
        (
            lambda m, ids: m.unmatched("spotify", "local", offset=-1),
            InvalidInputError,
            "offset must be",
        ),
        (lambda m, ids: m.unmatched("spotify", "gone"), UnknownProviderError, "'gone'"),
    ],
)
def test_bad_track_ids_and_arguments_are_refused_and_change_nothing(
    lib: Catalogues, call: Any, error: type[Exception], message: str
) -> None:
    ids = {
        pid: lib.id(p, pid) for p, pid in (("spotify", "s1"), ("spotify", "s2"), ("local", "l1"))
    }
    before = _stored(lib.ctx)
    with pytest.raises(error, match=message):
        call(lib.ctx.matching, ids)
    assert _stored(lib.ctx) == before


def test_get_of_an_unknown_track_is_none(lib: Catalogues) -> None:
    assert lib.ctx.matching.get(10**9, "local") is None
    assert lib.ctx.matching.get_many([10**9], "local") == {}


def test_a_queued_match_run_job_runs_the_match_and_stores_its_report(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    job = lib.ctx.jobs.enqueue(MATCH_JOB_TYPE, {"source": "spotify", "target": "local"})
    worker = Worker(lib.ctx)  # the context registers match.run itself
    assert worker.run_until_idle().completed == 1
    done = lib.ctx.jobs.get(job.id)
    assert done.status == "completed" and done.result is not None
    assert (done.result["matched"], done.result["unmatched"], done.result["checked"]) == (1, 1, 2)
    assert lib.matched("s1") == "l1"
    again = lib.ctx.jobs.enqueue(MATCH_JOB_TYPE, {"source": "spotify", "target": "local"})
    worker.run_until_idle()  # delivered again: nothing to do
    result = lib.ctx.jobs.get(again.id).result
    assert result is not None and (result["checked"], result["changed"]) == (0, 0)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"source": "spotify"}, "'target' must be a provider name"),
        ({"source": 1, "target": "local"}, "'source' must be a provider name"),
        ({"source": "spotify", "target": "nowhere"}, "'nowhere'"),
    ],
)
def test_a_match_run_job_with_a_bad_payload_is_dead_lettered_at_once(
    library: Library, payload: dict[str, Any], message: str
) -> None:
    lib = library(SPOTIFY, LOCAL)
    job = lib.ctx.jobs.enqueue(MATCH_JOB_TYPE, payload)
    worker = Worker(lib.ctx)  # the context registers match.run itself
    worker.run_until_idle()
    failed = lib.ctx.jobs.get(job.id)
    assert (failed.status, failed.attempts) == ("failed", 1) and message in (
        failed.last_error or ""
    )


def test_the_retry_policy_of_match_run_jobs_can_be_replaced(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    worker = Worker(lib.ctx)
    lib.ctx.matching.register(worker, retry=RetryPolicy(max_attempts=1))
    lib.ctx.jobs.enqueue(MATCH_JOB_TYPE, {"source": "spotify", "target": "local"})
    assert worker.run_until_idle().completed == 1


def test_without_rapidfuzz_a_run_names_the_extra_to_install(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        sys.modules["rapidfuzz"] = None  # as if the "search" extra were not installed
        from harmony import HarmonyContext, HarmonyError
        with HarmonyContext.from_url("sqlite:///{tmp_path / "x.db"}") as ctx:
            ctx.migrate()
            try:
                ctx.matching.run("a", "b")
            except HarmonyError as exc:
                print(type(exc).__mro__[1].__name__, exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "HarmonyError track matching needs rapidfuzz: pip install 'harmony[search]'"
    )
