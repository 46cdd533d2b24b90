"""``ctx.search``: ranked track search over the local library and search providers.

Every call emits exactly one ``api.request`` event (component ``search``), whether it
succeeds, is partial (a source failed; its error is in the result) or fails (bad input).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from harmony._events.base import EventLogger
from harmony._repositories.playlist_types import Track, TrackFields
from harmony._repositories.track_search import TrackSearchRepository
from harmony._timing import elapsed_ms
from harmony._validation import check_int, error_summary, unstorable_reason
from harmony.errors import (
    ContextClosed,
    InvalidInputError,
    MissingExtraError,
)
from harmony.providers.base import (
    ProviderTrack,
    Rejection,
    TrackSearchProvider,
    coerce_track,
)

__all__ = ["LOCAL_SOURCE", "MAX_SEARCH_OFFSET", "SearchHit", "SearchResult", "SearchService"]

#: The name of the local library as a search source.
LOCAL_SOURCE = "local"
_MAX_QUERY_LENGTH = 500
_MIN_CANDIDATES = 200
_MAX_CANDIDATES = 5000
#: The largest ``offset`` a search accepts.
MAX_SEARCH_OFFSET = 10_000
_MAX_OFFSET = MAX_SEARCH_OFFSET


class SearchHit(TrackFields):
    """One ranked track. ``id`` is the local track id (``None`` for a provider-only hit)."""

    source: str
    score: float
    id: int | None


class SearchResult(BaseModel):
    """A page of ranked hits, best first; ``partial`` when a source failed (see ``errors``)."""

    model_config = ConfigDict(frozen=True)

    query: str
    items: tuple[SearchHit, ...]
    total: int  #: hits ranked across all sources (before offset and limit)
    limit: int
    offset: int
    sources: tuple[str, ...]
    errors: Mapping[str, str]
    request_id: str
    duration_ms: float

    @property
    def partial(self) -> bool:
        """Whether some source failed (its error is in ``errors``)."""
        return bool(self.errors)


class SearchService:
    """Searches the local library (SQL pre-filter, then ranking) and search providers."""

    def __init__(
        self,
        tracks: TrackSearchRepository,
        events: EventLogger,
        providers: Mapping[str, Any],
        max_limit: int,
    ) -> None:
        self._tracks = tracks
        self._events = events
        self._providers: dict[str, TrackSearchProvider] = {
            name: p for name, p in providers.items() if isinstance(p, TrackSearchProvider)
        }
        self.max_limit = max_limit

    def __repr__(self) -> str:
        return f"SearchService(sources={list(self.sources)!r}, max_limit={self.max_limit})"

    def index_state(self) -> str:
        """The candidate index behind local search: ``"ready"``, ``"missing"`` (search scans
        every track) or ``"stale"`` (SQLite: its triggers are gone; search scans)."""
        return self._tracks.index_state()

    def ensure_index(self) -> str:
        """Create or repair the candidate index (migration ``0006`` normally does) and fill
        it from the stored tracks; returns :meth:`index_state` afterwards."""
        return self._tracks.ensure_index()

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source name: ``"local"`` and each registered track-search provider."""
        return (LOCAL_SOURCE, *sorted(self._providers))

    def tracks(
        self,
        query: str,
        *,
        sources: Sequence[str] | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResult:
        """Tracks matching ``query``, best first, ``limit`` at most, after ``offset``.

        ``sources`` defaults to every source. Raises :class:`InvalidInputError` for an
        empty query, a ``limit`` outside 1..``search_max_limit``, a negative offset or an
        unknown source. A source that fails makes the result partial instead.
        """
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        chosen: tuple[str, ...] = ()
        try:
            chosen, size, skip = self._check(query, sources, limit, offset)
            result = self._search(query, chosen, size, skip, request_id, started)
        except Exception as exc:
            self._emit(
                request_id,
                started,
                "failed",
                chosen,
                0,
                len(query) if isinstance(query, str) else 0,
                error=f"{type(exc).__name__}: {exc}",
            )
            raise
        status = "partial" if result.errors else "ok"
        self._emit(
            request_id,
            started,
            status,
            chosen,
            len(result.items),
            len(query),
            failed_sources=",".join(sorted(result.errors)) or None,
        )
        return result

    # -- internals --------------------------------------------------------------------

    def _check(
        self, query: Any, sources: Sequence[str] | None, limit: Any, offset: Any
    ) -> tuple[tuple[str, ...], int, int]:
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError("the search query is empty; pass some words to look for")
        if unstorable_reason(query.replace("\x00", "")) is not None:
            # A lone surrogate cannot be sent to PostgreSQL, nor matched: refuse it everywhere
            # (NUL characters are dropped by the search key's normalisation, as are controls).
            raise InvalidInputError(
                "the search query contains a lone surrogate, which is not valid Unicode "
                "(often text decoded with 'surrogateescape'); decode it properly"
            )
        if len(query) > _MAX_QUERY_LENGTH:
            raise InvalidInputError(
                f"the search query has {len(query)} characters; the maximum is {_MAX_QUERY_LENGTH}"
            )
        size = check_int(
            "limit", limit, low=1, high=self.max_limit, hint=" (the search_max_limit setting)"
        )
        skip = check_int("offset", offset, high=_MAX_OFFSET)
        if sources is None:
            return self.sources, size, skip
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, (list, tuple)) or not all(isinstance(x, str) for x in sources):
            raise InvalidInputError(
                f"sources must be a list of source names, got {sources!r:.80}; "
                f"known: {', '.join(self.sources)}"
            )
        unknown = [s for s in sources if s not in self.sources]
        if unknown or not sources:
            raise InvalidInputError(
                f"unknown search source(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                f"known: {', '.join(self.sources)}"
            )
        return tuple(dict.fromkeys(sources)), size, skip

    def _search(
        self,
        query: str,
        sources: tuple[str, ...],
        limit: int,
        offset: int,
        request_id: str,
        started: float,
    ) -> SearchResult:
        try:  # rapidfuzz is the optional "search" extra
            from harmony._services.ranking import prepare_query, score
        except ImportError as exc:
            raise MissingExtraError(
                "track search needs rapidfuzz, which is not installed: pip install 'harmony[search]'"
            ) from exc

        prepared = prepare_query(query)
        need = offset + limit
        errors: dict[str, str] = {}
        ranked: dict[tuple[str, str], SearchHit] = {}
        for source in sources:
            try:
                found = (
                    self._local(prepared.words, need)
                    if source == LOCAL_SOURCE
                    else self._remote(source, query, need)
                )
            except ContextClosed:
                raise  # no source failed: the context is gone
            except Exception as exc:  # one failing source never fails the search
                errors[source] = error_summary(exc)
                continue
            for track in found:
                hit = _hit(
                    source,
                    track,
                    score(prepared, track.title, track.artists, track.album, track.year),
                )
                key = (hit.provider, hit.provider_id)
                if key not in ranked or ranked[key].score < hit.score:
                    ranked[key] = hit
        order = sorted(
            ranked.values(),
            key=lambda h: (-h.score, h.source != LOCAL_SOURCE, h.title, h.provider_id),
        )
        return SearchResult(
            query=query,
            items=tuple(order[offset:need]),
            total=len(order),
            limit=limit,
            offset=offset,
            sources=sources,
            errors=errors,
            request_id=request_id,
            duration_ms=elapsed_ms(started),
        )

    def _local(self, words: Sequence[str], need: int) -> list[Track]:
        cap = min(_MAX_CANDIDATES, max(_MIN_CANDIDATES, 5 * need))
        long_words = [w for w in words if len(w) >= 2] or list(words)
        found = self._tracks.candidates(long_words, limit=cap)
        if len(found) < need:
            # Few exact word matches: widen with word stems, for typos and inflections.
            stems = [w[:3] for w in long_words if len(w) >= 4]
            stems = [s for s in dict.fromkeys(stems) if s not in long_words]
            if stems:
                found += self._tracks.candidates(
                    stems, limit=cap - len(found), exclude=[t.id for t in found]
                )
        return found

    def _remote(self, source: str, query: str, need: int) -> list[ProviderTrack]:
        provider = self._providers[source]
        tracks: list[ProviderTrack] = []
        for item in provider.search_tracks(query, limit=min(need, self.max_limit)):
            track = coerce_track(item)
            if not isinstance(track, Rejection):
                tracks.append(track)
        return tracks

    def _emit(
        self,
        request_id: str,
        started: float,
        status: str,
        sources: Sequence[str],
        count: int,
        query_length: int,
        **extra: Any,
    ) -> None:
        self._events.emit(
            "api.request",
            component="search",
            entity_id=request_id,
            duration_ms=elapsed_ms(started),
            status=status,
            sources=",".join(sources),
            result_count=count,
            query_length=query_length,
            **{k: v for k, v in extra.items() if v is not None},
        )


def _hit(source: str, track: Track | ProviderTrack, value: float) -> SearchHit:
    if isinstance(track, Track):
        return SearchHit(
            source=source,
            score=value,
            id=track.id,
            provider=track.provider,
            provider_id=track.provider_id,
            title=track.title,
            artists=track.artists,
            album=track.album,
            duration_ms=track.duration_ms,
            isrc=track.isrc,
            year=track.year,
        )
    return SearchHit(
        source=source,
        score=value,
        id=None,
        provider=source,
        provider_id=track.id,
        title=track.title,
        artists=track.artists,
        album=track.album,
        duration_ms=track.duration_ms,
        isrc=track.isrc,
        year=track.year,
    )
