"""Hypothesis strategies for harmony's inputs: provider items, whole provider states,
job payloads and event fields.

Import it explicitly (it needs hypothesis, which the ``testing`` extra installs)::

    from harmony.testing.strategies import provider_states

Everything generated is *valid* and *storable*: it passes harmony's own validators
(``coerce_track``/``coerce_playlist``, ``ctx.jobs.enqueue``, ``validate_event``) and is
stored as given on SQLite and PostgreSQL alike. So text never contains NUL or lone
surrogates (PostgreSQL refuses both), timestamps are timezone-aware, and JSON numbers stay
in ranges that survive PostgreSQL's ``jsonb`` unchanged. :func:`malformed_tracks` is the
opposite: items the sync engine must reject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal, NamedTuple, overload

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from harmony._events.base import RESERVED_FIELDS
from harmony._events.registry import EVENTS
from harmony.providers.base import ProviderPlaylist, ProviderTrack
from harmony.testing.provider import InMemoryProvider

__all__ = [
    "PlaylistSample",
    "ProviderState",
    "event_fields",
    "event_names",
    "job_payloads",
    "json_values",
    "malformed_tracks",
    "provider_playlists",
    "provider_states",
    "provider_tracks",
    "storable_text",
]

#: Real-world names that trip up naive code: accents, combining marks, other scripts,
#: right-to-left text, emoji, apostrophes and slashes.
_NAMES = (
    "Beyoncé",
    "Sigur Rós",
    "Motörhead",
    "Björk",
    "Mötley Crüe",
    "Hüsker Dü",
    "Sinéad O'Connor",
    "Ólafur Arnalds",
    "Zoë Keating",
    "Déjà Vu",
    "Cafe\u0301 del Mar",
    "坂本龍一",
    "Мумий Тролль",
    "فيروز",
    "AC/DC",
    "Guns N' Roses",
    "'Til Tuesday",
    "🎵 Road trip 🚗",
    "Ñu",
    "Ǆemo",
)
_INT64 = 2**63 - 1
#: Floats whose JSON text PostgreSQL's jsonb gives back as the same float: from 1e16 up,
#: Python writes exponents that jsonb turns into (different) integers.
_FLOAT_LIMIT = 1e15
_UTC_OFFSETS = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)))
_FIELD_NAME = r"[a-z_][a-z0-9_]{0,15}"
_EVENT_NAME = r"[a-z][a-z0-9_]{0,11}(\.[a-z][a-z0-9_]{0,11}){1,3}"


def storable_text(*, min_size: int = 0, max_size: int = 40) -> SearchStrategy[str]:
    """Any Unicode text except NUL and lone surrogates, which PostgreSQL cannot store."""
    alphabet = st.characters(codec="utf-8", exclude_characters="\x00")
    return st.text(alphabet, min_size=min_size, max_size=max_size)


@st.composite
def _names(draw: DrawFn, max_size: int) -> str:
    """Non-blank text without surrounding whitespace (what survives validation unchanged),
    up to ``max_size`` characters: mostly short, sometimes a real accented name, rarely
    (for limits up to 500) text right at the limit."""
    branch = draw(st.integers(0, 15))
    if branch < 5:
        return draw(st.sampled_from(_NAMES))
    at_limit = branch == 15 and max_size <= 500
    size = max_size if at_limit else min(max_size, 30)
    text = draw(storable_text(min_size=size if at_limit else 1, max_size=size))
    return text.strip() or draw(st.sampled_from(_NAMES))


def _ids() -> SearchStrategy[str]:
    """Provider ids: Spotify-like base62 most of the time, any non-blank text otherwise."""
    return st.one_of(st.from_regex(r"[A-Za-z0-9]{22}", fullmatch=True), _names(255))


def _aware_datetimes() -> SearchStrategy[datetime]:
    return st.datetimes(
        min_value=datetime(1950, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(_UTC_OFFSETS),
    )


@st.composite
def _track_fields(draw: DrawFn, ids: SearchStrategy[str]) -> dict[str, Any]:
    """The canonical fields of a valid track (``None`` for absent optional ones)."""
    return {
        "id": draw(ids),
        "title": draw(_names(500)),
        "artists": draw(st.lists(_names(500), max_size=4)),
        "album": draw(st.none() | _names(500)),
        "duration_ms": draw(st.none() | st.integers(0, 2**31 - 1)),
        "isrc": draw(st.none() | st.from_regex(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}", fullmatch=True)),
        "year": draw(st.none() | st.integers(1000, 2999)),
        "added_at": draw(st.none() | _aware_datetimes()),
    }


@st.composite
def _track_mapping(draw: DrawFn, ids: SearchStrategy[str]) -> dict[str, Any]:
    """A track in one of the shapes providers really send (all validate to the same track)."""
    fields = _track_fields(ids)
    data = draw(fields)
    for key in ("album", "duration_ms", "isrc", "year", "added_at"):
        if data[key] is None and draw(st.booleans()):
            del data[key]  # absent rather than null
    if len(data["artists"]) == 1 and draw(st.booleans()):
        data["artists"] = data["artists"][0]  # one artist as a bare string (export files)
    if data.get("year") is not None:
        year = data["year"]
        data["year"] = draw(st.sampled_from([year, str(year), f"{year}-06", f"{year}-06-01"]))
    if data.get("added_at") is not None and draw(st.booleans()):
        data["added_at"] = data["added_at"].isoformat()
    if draw(st.booleans()):
        data["popularity"] = draw(st.integers(0, 100))  # unknown keys are ignored
    return data


@overload
def provider_tracks(
    *, ids: SearchStrategy[str] | None = ..., as_mapping: Literal[False] = ...
) -> SearchStrategy[ProviderTrack]: ...
@overload
def provider_tracks(
    *, ids: SearchStrategy[str] | None = ..., as_mapping: Literal[True]
) -> SearchStrategy[dict[str, Any]]: ...
def provider_tracks(
    *, ids: SearchStrategy[str] | None = None, as_mapping: bool = False
) -> SearchStrategy[ProviderTrack] | SearchStrategy[dict[str, Any]]:
    """Valid tracks: accented and non-Latin names, every optional field sometimes absent.

    ``as_mapping=True`` yields plain dicts in the shapes providers send (one artist as a
    bare string, ``year`` as ``"1984-06-01"``, ``added_at`` as ISO text, unknown keys,
    absent optional keys); ``ProviderTrack.model_validate`` accepts every one. ``ids``
    replaces the id strategy.
    """
    id_strategy = ids if ids is not None else _ids()
    if as_mapping:
        return _track_mapping(id_strategy)
    return _track_fields(id_strategy).map(ProviderTrack.model_validate)


class PlaylistSample(NamedTuple):
    """A generated playlist and its ordered tracks (the same track may appear twice)."""

    playlist: ProviderPlaylist
    tracks: tuple[ProviderTrack, ...]


@st.composite
def _playlist(
    draw: DrawFn,
    playlist_id: str,
    pool: list[ProviderTrack],
    min_tracks: int,
    max_tracks: int,
    snapshots: bool,
) -> PlaylistSample:
    order = st.lists(st.sampled_from(pool), min_size=min_tracks, max_size=max_tracks)
    tracks = draw(order) if pool else []
    snapshot = st.from_regex(r"[A-Za-z0-9+/]{16,32}", fullmatch=True)
    playlist = ProviderPlaylist(
        id=playlist_id,
        name=draw(st.just("") | _names(500)),
        description=draw(st.none() | _names(10_000)),
        owner=draw(st.none() | _names(255)),
        snapshot_id=draw(st.none() | snapshot) if snapshots else None,
        track_count=len(tracks),
    )
    return PlaylistSample(playlist, tuple(tracks))


def _pool(size: int) -> SearchStrategy[list[ProviderTrack]]:
    """Distinct tracks (by id) for playlists to draw from, so one id means one track."""
    tracks = provider_tracks()
    return st.lists(tracks, min_size=min(size, 1), max_size=size, unique_by=lambda t: t.id)


@st.composite
def _provider_playlist(draw: DrawFn, min_tracks: int, max_tracks: int) -> PlaylistSample:
    pool = draw(_pool(max_tracks))
    return draw(_playlist(draw(_ids()), pool, min_tracks, max_tracks, True))


def provider_playlists(min_tracks: int = 0, max_tracks: int = 8) -> SearchStrategy[PlaylistSample]:
    """A valid playlist (sometimes with a snapshot id) and ``min_tracks``..``max_tracks``
    ordered tracks, duplicates possible; ``track_count`` matches the track list."""
    if not 0 <= min_tracks <= max_tracks:
        raise ValueError(f"need 0 <= min_tracks <= max_tracks, got {min_tracks}, {max_tracks}")
    return _provider_playlist(min_tracks, max_tracks)


@dataclass(frozen=True, slots=True)
class ProviderState:
    """Everything one provider holds: playlists with unique ids and their ordered tracks.

    A track id always stands for the same track, whichever playlists it appears in. The
    playlists carry no snapshot ids: :class:`InMemoryProvider` derives them from content.
    """

    playlists: tuple[PlaylistSample, ...]

    @property
    def tracks(self) -> tuple[ProviderTrack, ...]:
        """Each distinct track once, in order of first appearance."""
        seen: dict[str, ProviderTrack] = {}
        for sample in self.playlists:
            for track in sample.tracks:
                seen.setdefault(track.id, track)
        return tuple(seen.values())

    def fill(self, provider: InMemoryProvider) -> InMemoryProvider:
        """Replace everything ``provider`` holds with this state; return the provider.

        Tracks are handed over as plain mappings, so they go through the sync engine's
        validation as a real provider's would. (``clear()`` also resets ``fail_on``.)
        """
        provider.clear()
        for playlist, tracks in self.playlists:
            provider.set_playlist(
                playlist.id,
                playlist.name,
                [track.model_dump(mode="json", exclude_none=True) for track in tracks],
                description=playlist.description,
                owner=playlist.owner,
                extra={"snapshot_id": playlist.snapshot_id} if playlist.snapshot_id else None,
            )
        return provider

    def to_provider(self, name: str = "memory", *, snapshots: bool = True) -> InMemoryProvider:
        """A new :class:`InMemoryProvider` holding this state."""
        return self.fill(InMemoryProvider(name, snapshots=snapshots))


@st.composite
def _provider_state(
    draw: DrawFn, min_playlists: int, max_playlists: int, max_tracks: int
) -> ProviderState:
    ids = draw(st.lists(_ids(), min_size=min_playlists, max_size=max_playlists, unique=True))
    pool = draw(_pool(max_tracks))
    return ProviderState(tuple(draw(_playlist(pid, pool, 0, max_tracks, False)) for pid in ids))


def provider_states(
    *, min_playlists: int = 0, max_playlists: int = 5, max_tracks: int = 8
) -> SearchStrategy[ProviderState]:
    """A whole provider's state: up to ``max_playlists`` playlists with unique ids, each
    with up to ``max_tracks`` tracks drawn (duplicates possible) from one shared pool.

    ``state.to_provider()`` (or ``state.fill(provider)``) puts it in an
    :class:`InMemoryProvider`.
    """
    if not 0 <= min_playlists <= max_playlists or max_tracks < 0:
        raise ValueError("need 0 <= min_playlists <= max_playlists and max_tracks >= 0")
    return _provider_state(min_playlists, max_playlists, max_tracks)


def json_values(*, max_leaves: int = 20) -> SearchStrategy[Any]:
    """JSON values (objects, arrays, scalars) that both backends store and give back equal.

    Integers fit in 64 bits; floats are finite and below 1e15 in magnitude (larger ones
    come back from PostgreSQL's ``jsonb`` as different integers); text is storable.
    """
    keys = storable_text(max_size=20)

    def containers(children: SearchStrategy[Any]) -> SearchStrategy[Any]:
        return st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)

    return st.recursive(_flat_values(), containers, max_leaves=max_leaves)


def job_payloads(*, max_keys: int = 6, max_leaves: int = 20) -> SearchStrategy[dict[str, Any]]:
    """Payloads ``ctx.jobs.enqueue`` accepts on every backend and leases back equal: JSON
    objects with up to ``max_keys`` keys of :func:`json_values`."""
    values = json_values(max_leaves=max_leaves)
    return st.dictionaries(storable_text(max_size=20), values, max_size=max_keys)


def event_names() -> SearchStrategy[str]:
    """Names of custom events (dotted lowercase words) that harmony's registry does not use."""
    return st.from_regex(_EVENT_NAME, fullmatch=True).filter(lambda name: name not in EVENTS)


#: Values for a ``status`` field: a short word, as harmony's own events use, so generated
#: fields can also be stored by ``ActivityEventLogger`` (its status column is short).
_STATUSES = ("ok", "failed", "skipped", "enqueued", "leased", "completed", "partial")


def _flat_values(name: str = "") -> SearchStrategy[Any]:
    if name == "status":
        return st.sampled_from(_STATUSES)
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-_INT64 - 1, _INT64),
        st.floats(-_FLOAT_LIMIT, _FLOAT_LIMIT, allow_nan=False, allow_infinity=False),
        storable_text(),
    )


@st.composite
def _event_fields(
    draw: DrawFn, event: str | None, meta: bool | None, max_fields: int
) -> dict[str, Any]:
    names = st.from_regex(_FIELD_NAME, fullmatch=True).filter(
        lambda name: name not in RESERVED_FIELDS and name != "meta"
    )
    chosen = draw(st.sets(names, max_size=max_fields))
    fields = {name: draw(_flat_values(name)) for name in chosen}
    spec = EVENTS.get(event) if event is not None else None
    for name in spec.required if spec is not None else ():
        fields.setdefault(name, draw(_flat_values(name)))
    if meta if meta is not None else draw(st.booleans()):
        keys = storable_text(max_size=20)
        fields["meta"] = draw(st.dictionaries(keys, json_values(max_leaves=10), max_size=4))
    return fields


def event_fields(
    event: str | None = None, *, meta: bool | None = None, max_fields: int = 6
) -> SearchStrategy[dict[str, Any]]:
    """Fields that ``validate_event`` accepts: allowed names, flat JSON values, and (when
    ``meta`` is true, or sometimes when it is ``None``) a JSON ``meta`` mapping.

    Values are also storable (see :func:`json_values`) and a ``status`` field is a short
    word such as ``"ok"``, so an ``ActivityEventLogger`` can persist the event unchanged.

    For an ``event`` in :data:`harmony._events.EVENTS` its required fields are included, so
    the fields are valid for that event; otherwise they suit any custom event (see
    :func:`event_names`).
    """
    return _event_fields(event, meta, max_fields)


def _too_long(limit: int) -> SearchStrategy[str]:
    return st.text("abcxyz", min_size=limit + 1, max_size=limit + 8)


_Breaker = Callable[[dict[str, Any], DrawFn], Any]


def _set(key: str, values: SearchStrategy[Any]) -> _Breaker:
    def breaker(data: dict[str, Any], draw: DrawFn) -> Any:
        return {**data, key: draw(values)}

    return breaker


def _drop(key: str) -> _Breaker:
    return lambda data, draw: {k: v for k, v in data.items() if k != key}


_BLANK = st.sampled_from(["", " ", "\t\n", "\u3000"])
_BREAKERS: tuple[_Breaker, ...] = (
    _drop("id"),
    _set("id", _BLANK | st.sampled_from([None, 42, ["x"]]) | _too_long(255)),
    _drop("title"),
    _set("title", _BLANK | st.sampled_from([None, 3.5]) | _too_long(500)),
    _set("artists", st.sampled_from([[""], [" "], [None], 42, {"name": "x"}])),
    _set("artists", _too_long(500).map(lambda name: [name])),
    _set("album", _too_long(500)),
    _set("duration_ms", st.sampled_from([-1, 2**31, "three minutes", 1.5])),
    _set("isrc", _too_long(32)),
    _set("year", st.sampled_from([[1984], {"year": 1984}, 19.5])),
    _set(
        "added_at",
        st.sampled_from(["not a date", "2024-13-45", 10**20, "9999-12-31T23:00:00-05:00"]),
    ),
    _set("title", st.sampled_from(["a\x00b", "\x00"])),
    lambda data, draw: draw(st.sampled_from([None, 42, "track", ["id", "title"]])),
)


@st.composite
def _malformed(draw: DrawFn) -> Any:
    data = draw(_track_fields(_ids()))
    breaker = draw(st.sampled_from(_BREAKERS))
    return breaker({k: v for k, v in data.items() if v is not None}, draw)


def malformed_tracks() -> SearchStrategy[Any]:
    """Provider items ``coerce_track`` rejects: a valid track with one thing broken (id or
    title missing, blank, too long or holding a NUL, bad artists, out-of-range numbers, a
    year that is not a number, an unreadable ``added_at`` or one beyond year 9999 in UTC),
    or something that is not a mapping at all. (An out-of-range *year* is not among them:
    it is dropped, and the track kept.)"""
    return _malformed()
