"""harmony.testing.strategies generates what harmony's validators accept and both backends
store as given (and, for malformed_tracks, what the sync must reject)."""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import find as hypothesis_find
from hypothesis import given, settings
from hypothesis import strategies as st

from harmony import HarmonyContext
from harmony._events import EVENTS, validate_event
from harmony.providers.base import (
    ProviderPlaylist,
    ProviderTrack,
    Rejection,
    coerce_playlist,
    coerce_track,
)
from harmony.testing import InMemoryProvider, RecordingEventLogger
from harmony.testing.pytest_plugin import ContextFactory
from harmony.testing.strategies import (
    PlaylistSample,
    ProviderState,
    event_fields,
    event_names,
    job_payloads,
    malformed_tracks,
    provider_playlists,
    provider_states,
    provider_tracks,
)

#: Finding an example is enough: no shrinking, no example database.
found = settings(max_examples=500, phases=[Phase.generate], database=None)


def find(strategy: st.SearchStrategy[Any], condition: Any) -> None:
    """Pass when ``strategy`` generates an example satisfying ``condition``."""
    hypothesis_find(strategy, condition, settings=found)


#: Pure generation checks: enough examples to meet every branch of the strategies.
quick = settings(max_examples=50, deadline=None)

#: For tests that take fixtures: each example gets what it needs from a factory or
#: cleans up after itself, so reusing function-scoped fixtures is intended.
with_fixtures = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# -- provider items ----------------------------------------------------------------------


@quick
@given(provider_tracks())
def test_provider_tracks_are_valid_tracks(track: ProviderTrack) -> None:
    assert ProviderTrack.model_validate(track.model_dump()) == track


@quick
@given(provider_tracks(as_mapping=True))
def test_track_mappings_validate_to_tracks(mapping: dict[str, Any]) -> None:
    assert type(mapping) is dict
    assert isinstance(coerce_track(mapping), ProviderTrack)


def test_track_mappings_include_the_shapes_providers_send() -> None:
    mappings = provider_tracks(as_mapping=True)
    find(mappings, lambda m: isinstance(m["artists"], str))
    find(mappings, lambda m: isinstance(m.get("year"), str))
    find(mappings, lambda m: isinstance(m.get("added_at"), str))
    find(mappings, lambda m: "isrc" not in m)


def test_provider_tracks_include_accented_names() -> None:
    find(provider_tracks(), lambda t: any(not c.isascii() for c in t.title))


@quick
@given(provider_playlists(min_tracks=1, max_tracks=5))
def test_provider_playlists_are_valid_with_their_tracks(sample: PlaylistSample) -> None:
    playlist, tracks = sample
    assert coerce_playlist(playlist.model_dump()) == playlist
    assert 1 <= len(tracks) <= 5 and playlist.track_count == len(tracks)
    assert all(isinstance(coerce_track(t.model_dump()), ProviderTrack) for t in tracks)


def test_provider_playlists_can_hold_a_track_twice() -> None:
    find(provider_playlists(), lambda s: len({t.id for t in s.tracks}) < len(s.tracks))


def test_provider_playlists_refuse_impossible_bounds() -> None:
    with pytest.raises(ValueError, match="min_tracks"):
        provider_playlists(min_tracks=3, max_tracks=2)


@quick
@given(provider_states())
def test_provider_states_have_unique_playlist_ids_and_one_track_per_id(
    state: ProviderState,
) -> None:
    ids = [sample.playlist.id for sample in state.playlists]
    assert len(ids) == len(set(ids))
    by_id = {track.id: track for track in state.tracks}
    assert all(by_id[t.id] == t for sample in state.playlists for t in sample.tracks)


@quick
@given(provider_states())
def test_a_filled_provider_yields_the_state(state: ProviderState) -> None:
    provider = InMemoryProvider()
    provider.fail_on.add("*")
    assert state.fill(provider) is provider and not provider.fail_on
    listed = [ProviderPlaylist.model_validate(item) for item in provider.iter_playlists()]
    assert [(p.id, p.name, p.description, p.owner) for p in listed] == [
        (s.playlist.id, s.playlist.name, s.playlist.description, s.playlist.owner)
        for s in state.playlists
    ]
    for sample in state.playlists:
        tracks = [coerce_track(item) for item in provider.iter_tracks(sample.playlist.id)]
        assert tracks == list(sample.tracks)


@with_fixtures
@given(state=provider_states(max_playlists=3, max_tracks=5))
def test_a_synced_state_is_stored_exactly_as_generated(
    harmony_context_factory: ContextFactory, state: ProviderState
) -> None:
    with harmony_context_factory(providers={"memory": state.to_provider()}) as ctx:
        assert ctx.sync.run_once().rejected == 0
        repository = ctx.playlists.repository
        listed = repository.list_page(status="all", limit=500)
        stored = {p.provider_id: repository.get(p.id) for p in listed}
    assert set(stored) == {sample.playlist.id for sample in state.playlists}
    for playlist, tracks in state.playlists:
        detail = stored[playlist.id]
        assert (detail.name, detail.description, detail.owner) == (
            playlist.name,
            playlist.description,
            playlist.owner,
        )
        assert [
            (t.provider_id, t.title, t.artists, t.album, t.duration_ms, t.isrc, t.year, t.added_at)
            for t in detail.tracks
        ] == [
            (t.id, t.title, t.artists, t.album, t.duration_ms, t.isrc, t.year, t.added_at)
            for t in tracks
        ]


# -- malformed tracks --------------------------------------------------------------------


@quick
@given(malformed_tracks())
def test_malformed_tracks_are_rejected(item: Any) -> None:
    assert isinstance(coerce_track(item, "p1"), Rejection)


@with_fixtures
@given(
    good=st.lists(provider_tracks(as_mapping=True), max_size=4, unique_by=lambda m: m["id"]),
    bad=st.lists(malformed_tracks(), min_size=1, max_size=3),
)
def test_a_sync_rejects_malformed_tracks_and_keeps_the_rest(
    harmony_context_factory: ContextFactory, good: list[dict[str, Any]], bad: list[Any]
) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("mixed", "Mixed", [*bad, *good])
    with harmony_context_factory(providers={"memory": provider}) as ctx:
        report = ctx.sync.run_once()
        (playlist,) = ctx.playlists.repository.list_page(limit=10)
        stored = ctx.playlists.repository.get(playlist.id).tracks
    assert (report.created, report.rejected) == (1, len(bad))
    assert [t.provider_id for t in stored] == [ProviderTrack.model_validate(m).id for m in good]


# -- job payloads ------------------------------------------------------------------------


@with_fixtures
@given(payload=job_payloads())
def test_job_payloads_enqueue_and_lease_back_equal(
    harmony_context: HarmonyContext, payload: dict[str, Any]
) -> None:
    job = harmony_context.jobs.enqueue("test.payload", payload, priority=1)
    assert job.payload == payload
    (leased,) = harmony_context.jobs.lease("test.payload")
    assert leased.id == job.id and leased.payload == payload
    harmony_context.jobs.complete(leased)


# -- event fields ------------------------------------------------------------------------


@quick
@given(name=event_names(), fields=event_fields())
def test_event_fields_pass_validation_for_custom_events(name: str, fields: dict[str, Any]) -> None:
    assert name not in EVENTS
    assert dict(validate_event(name, fields)) == fields


@quick
@given(data=st.data())
def test_event_fields_for_a_registered_event_carry_its_required_fields(data: st.DataObject) -> None:
    event = data.draw(st.sampled_from(sorted(EVENTS)))
    fields = data.draw(event_fields(event))
    validate_event(event, fields)
    RecordingEventLogger().emit(event, **fields)


@quick
@given(with_meta=event_fields(meta=True), without=event_fields(meta=False))
def test_event_fields_meta_flag(with_meta: dict[str, Any], without: dict[str, Any]) -> None:
    assert isinstance(with_meta["meta"], dict) and "meta" not in without


def test_event_fields_persist_unchanged_into_activity_events(
    harmony_context_factory: ContextFactory, harmony_events: RecordingEventLogger
) -> None:
    ctx = harmony_context_factory(settings={"activity_events": ("custom.*",)})
    numbers = count()

    @with_fixtures
    @given(fields=event_fields(meta=True))
    def run(fields: dict[str, Any]) -> None:
        name = f"custom.event_{next(numbers)}"
        ctx.events.emit(name, **fields)
        (entry,) = ctx.activity.list(type=name)
        assert entry.status == fields.get("status", "ok")
        assert entry.details == {k: v for k, v in fields.items() if k != "status"}

    run()
    assert not harmony_events.named("events.persist_failed")
