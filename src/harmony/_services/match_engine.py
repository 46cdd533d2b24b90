"""One matching run's work: keying tracks and finding each source track's candidates.

Candidates come from the stored keys of the target's catalogue (``track_match_keys``), by
indexed lookups, cheapest first, for 500 source tracks at a time:

1. the same canonical ISRC, and the same primary artist and title (after normalising:
   case, accents, punctuation, credits, "- Remastered 2011", "(Live)" ...): one query each
   per 500 tracks; most tracks of a real library end here;
2. for those without a match yet: the tracks of their primary artist whose title is close
   enough to pass the rules, and the tracks of their title whose artist looks alike (a
   misspelt title, a misspelt or differently credited artist);
3. for those still without, whose artist the catalogue does not name at all: the same
   for the artists whose names are close to theirs (a misspelt artist *and* title),
   found in memory among the catalogue's artist names of about the same length that
   share their first or their last letter.

Steps 2 and 3 read ``(id, title)`` / ``(id, artist)`` pairs from the covering indexes
only, narrow them with rapidfuzz in memory, and read whole keys for what is left. Each
lookup is cached for the run (a popular artist's titles are read once however many
source tracks name them). Each candidate is judged by :class:`MatchRules`; rejected pairs
are never candidates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from cachetools import LRUCache

from harmony._repositories.match_store import (
    Decision,
    KeyRow,
    MatchStore,
    SourceRow,
    iter_chunks,
)
from harmony._services.match_keys import KeyMaker, MatchKey
from harmony._services.match_rules import ARTIST_MIN, TITLE_MIN, MatchRules

__all__ = ["MatchEngine", "key_columns", "parse_key"]

_NUMBER = re.compile(r"\d+")
_NO_TAGS: frozenset[str] = frozenset()
_REMASTER = frozenset({"remaster"})
#: Target keys kept in the run's lookup cache (about 200 bytes each).
_CACHED_KEYS = 400_000
#: Keys written per transaction: each commit of a growing WAL costs a checkpoint, so
#: fewer, larger ones (measured on SQLite: 40 commits of 5,000 keys spent 4.9 s committing).
_KEYS_PER_WRITE = 50_000
#: Similar artist names followed per source track.
_SIMILAR_ARTISTS = 5
#: Title-block tracks whose primary artist is this similar to the source's (rapidfuzz
#: ratio, or token-set ratio against all the source's names) are judged; well below the
#: rules' ARTIST_MIN, since the rules also compare every credited name.
_ARTIST_PREFILTER = 60.0
#: The unmatched report's looser filters: the closest tracks, even far from matching.
_LOOSE = 50.0

Candidate = tuple[int, MatchKey]


def key_columns(row: SourceRow, maker: KeyMaker) -> dict[str, Any]:
    """The ``track_match_keys`` columns of one track."""
    key = maker.key(row.title, row.artists, row.album, row.isrc, row.duration_ms)
    return {
        "track_id": row.id,
        "track_updated_at": row.updated_at,
        "isrc": key.isrc,
        "title": key.title[:500],
        "artist": key.artist[:500],
        "artists": "|".join(key.artists),
        "tags": "+".join(sorted(key.tags | ({"remaster"} if key.remaster else set()))),
        "duration_ms": row.duration_ms,
    }


def parse_key(row: KeyRow) -> MatchKey:
    """A stored key row as a :class:`MatchKey`."""
    _, isrc, title, _, artists, tags, duration_ms, _ = row
    marks = frozenset(tags.split("+")) if tags else _NO_TAGS
    return MatchKey(
        isrc=isrc,
        title=title,
        artists=tuple(artists.split("|")) if artists else (),
        tags=marks - _REMASTER,
        numbers=tuple(_NUMBER.findall(title)),
        duration_ms=duration_ms,
        remaster="remaster" in marks,
    )


class MatchEngine:
    """Matches source tracks against one target catalogue for one run."""

    def __init__(self, store: MatchStore, rules: MatchRules, target: str) -> None:
        self._store = store
        self._rules = rules
        self._target = target
        self._by_artist: LRUCache[str, _Block] = LRUCache(_CACHED_KEYS, getsizeof=_size)
        self._by_title: LRUCache[str, _Block] = LRUCache(_CACHED_KEYS, getsizeof=_size)
        self._names: _NameIndex | None = None
        self._similar_names: dict[str, list[str]] = {}
        self._parsed: LRUCache[int, MatchKey] = LRUCache(_CACHED_KEYS)
        #: each target track's updated_at when its key was read
        self._stamps: dict[int, datetime] = {}

    def refresh_keys(self, provider: str) -> int:
        """Compute and store the keys of ``provider``'s tracks that lack fresh ones."""
        written = 0
        maker = KeyMaker()
        keys: list[dict[str, Any]] = []
        replace: list[int] = []
        for page in self._store.stale_keys(provider):
            keys += [key_columns(row, maker) for row in page]
            replace += [row.id for row in page if row.keyed]
            if len(keys) >= _KEYS_PER_WRITE:
                self._store.write_keys(provider, keys, replace)
                written, keys, replace = written + len(keys), [], []
        self._store.write_keys(provider, keys, replace)
        return written + len(keys)

    def match(
        self, source_ids: Sequence[int], rejected: set[tuple[int, int]], confirmed: set[int]
    ) -> list[Decision]:
        """A decision for every source track in ``source_ids`` (keys already stored)."""
        decisions: list[Decision] = []
        for chunk in iter_chunks(list(source_ids)):
            loaded = self._store.load_keys(chunk)
            sources = {i: (parse_key(row), row[7]) for i, row in loaded.items()}
            todo = {i: key for i, (key, _) in sources.items() if i not in confirmed}
            found = self._match_chunk(todo, rejected)
            for source_id, (_, updated) in sources.items():
                hit = found.get(source_id)
                if hit is None:
                    decisions.append(Decision(source_id, updated))
                else:
                    target_id, verdict = hit
                    decisions.append(
                        Decision(
                            source_id,
                            updated,
                            target_id,
                            self._stamps.get(target_id),
                            verdict.method,
                            verdict.score,
                            verdict.reasons,
                        )
                    )
        return decisions

    def candidates(self, source: MatchKey, rejected: set[int]) -> list[Candidate]:
        """Candidates of one source track for the unmatched report: steps 1-3 with looser
        filters (the closest tracks, not only those that could match)."""
        ids: list[int] = []
        if source.isrc:
            ids += [row[0] for row in self._store.keys_by_isrc(self._target, [source.isrc])]
        names = [source.artist, *self._similar(source.artist)] if source.artist else []
        for block in self._blocks(names, self._by_artist, self._store.titles_by_artist).values():
            ids += block.close_titles(source.title, _LOOSE)
        ids += self._blocks([source.title], self._by_title, self._store.artists_by_title)[
            source.title
        ].close_artists(source, _LOOSE)
        keys = self._keys(ids)
        return [(i, keys[i]) for i in dict.fromkeys(ids) if i in keys and i not in rejected]

    # -- internals ------------------------------------------------------------------------

    def _match_chunk(
        self, todo: dict[int, MatchKey], rejected: set[tuple[int, int]]
    ) -> dict[int, tuple[int, Any]]:
        found: dict[int, tuple[int, Any]] = {}
        by_isrc: dict[str, list[Candidate]] = {}
        for track_id, key in self._parse(
            self._store.keys_by_isrc(self._target, [k.isrc for k in todo.values() if k.isrc])
        ):
            by_isrc.setdefault(key.isrc or "", []).append((track_id, key))
        by_pair: dict[tuple[str, str], list[Candidate]] = {}
        pairs = [(k.artist, k.title) for k in todo.values() if k.artist]
        for track_id, key in self._parse(self._store.keys_by_pair(self._target, pairs)):
            by_pair.setdefault((key.artist, key.title), []).append((track_id, key))

        def step(
            keys: dict[int, MatchKey], lookup: Callable[[int, MatchKey], Iterable[Candidate]]
        ) -> dict[int, MatchKey]:
            left: dict[int, MatchKey] = {}
            for source_id, key in keys.items():
                cands = [
                    (t, k) for t, k in lookup(source_id, key) if (source_id, t) not in rejected
                ]
                best = self._rules.best(key, cands)
                if best is None:
                    left[source_id] = key
                else:
                    found[source_id] = best
            return left

        left = step(
            todo,
            lambda _, k: [*by_isrc.get(k.isrc or "", ()), *by_pair.get((k.artist, k.title), ())],
        )
        if not left:
            return found
        # Step 2: the artist's other titles and the title's other artists, narrowed in
        # memory to those that could pass the rules, then read whole.
        artists = self._blocks(
            [k.artist for k in left.values() if k.artist],
            self._by_artist,
            self._store.titles_by_artist,
        )
        titles = self._blocks(
            [k.title for k in left.values()], self._by_title, self._store.artists_by_title
        )
        wanted = {
            i: [
                *(artists[k.artist].close_titles(k.title, TITLE_MIN) if k.artist else ()),
                *titles[k.title].close_artists(k, _ARTIST_PREFILTER),
            ]
            for i, k in left.items()
        }
        keys = self._keys([t for ids in wanted.values() for t in ids])
        left = step(left, lambda i, _: [(t, keys[t]) for t in wanted[i] if t in keys])
        # Step 3, for artists the catalogue does not name at all: close names' titles.
        unknown = {i: k for i, k in left.items() if k.artist and not artists[k.artist].ids}
        if not unknown:
            return found
        similar = {i: self._similar(k.artist) for i, k in unknown.items()}
        blocks = self._blocks(
            [n for names in similar.values() for n in names],
            self._by_artist,
            self._store.titles_by_artist,
        )
        wanted = {
            i: [t for n in similar[i] for t in blocks[n].close_titles(k.title, TITLE_MIN)]
            for i, k in unknown.items()
        }
        keys = self._keys([t for ids in wanted.values() for t in ids])
        step(unknown, lambda i, _: [(t, keys[t]) for t in wanted[i] if t in keys])
        return found

    def _keys(self, ids: Sequence[int]) -> dict[int, MatchKey]:
        """Parsed keys of the target tracks ``ids`` (remembered for the run)."""
        missing = [i for i in dict.fromkeys(ids) if i not in self._parsed]
        if missing:
            for track_id, key in self._parse(self._store.load_keys(missing).values()):
                self._parsed[track_id] = key
        return {i: self._parsed[i] for i in ids if i in self._parsed}

    def _parse(self, rows: Iterable[KeyRow]) -> list[Candidate]:
        found = []
        for row in rows:
            self._stamps[row[0]] = row[7]
            found.append((row[0], parse_key(row)))
        return found

    def _blocks(
        self,
        values: Sequence[str],
        cache: LRUCache[str, _Block],
        fetch: Callable[[str, Sequence[str]], list[tuple[str, int, str]]],
    ) -> dict[str, _Block]:
        """The target tracks sharing each of ``values`` (a primary artist, or a title), as
        ``(id, other string)`` lists; each read once per run (cached)."""
        wanted = list(dict.fromkeys(values))
        blocks = {v: cache[v] for v in wanted if v in cache}
        missing = [v for v in wanted if v not in blocks]
        if missing:
            fetched: dict[str, _Block] = {v: _Block() for v in missing}
            for value, track_id, other in fetch(self._target, missing):
                block = fetched.get(value)
                if block is None:
                    block = fetched[value] = _Block()
                block.ids.append(track_id)
                block.strings.append(other)
            for value, block in fetched.items():
                blocks[value] = block
                if len(block.ids) < _CACHED_KEYS:
                    cache[value] = block
        return blocks

    def _similar(self, artist: str) -> list[str]:
        if not artist:
            return []
        found = self._similar_names.get(artist)
        if found is None:
            if self._names is None:
                self._names = _NameIndex(self._store.artist_names(self._target))
            found = self._similar_names[artist] = self._names.similar(artist)
        return found


class _Block:
    """Target tracks sharing a primary artist (``strings``: their titles) or a title
    (``strings``: their primary artists)."""

    __slots__ = ("ids", "strings")

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.strings: list[str] = []

    def close_titles(self, title: str, cutoff: float) -> list[int]:
        """Ids of the tracks whose title is at least ``cutoff`` similar to ``title`` (the
        rules' own title measure: a track below :data:`TITLE_MIN` can never match)."""
        if not self.ids:
            return []
        from rapidfuzz import fuzz, process

        hits = process.extract(
            title, self.strings, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
        )
        return [self.ids[index] for _, _, index in hits]

    def close_artists(self, source: MatchKey, cutoff: float) -> list[int]:
        """Ids of the tracks whose primary artist looks like ``source``'s artists."""
        if not self.ids or not source.artists:
            return []
        from rapidfuzz import fuzz, process

        near = process.extract(
            source.artist, self.strings, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
        )
        within = process.extract(
            " ".join(source.artists),
            self.strings,
            scorer=fuzz.token_set_ratio,
            score_cutoff=cutoff,
            limit=None,
        )
        return [self.ids[index] for index in sorted({h[2] for h in near} | {h[2] for h in within})]


class _NameIndex:
    """The target's primary artist names, bucketed by first letter and length and by last
    letter and length: a misspelt name nearly always keeps its first or its last letter,
    and a name close enough to match differs in length by a few letters at most, so a
    fuzzy lookup compares with a small share of the names."""

    def __init__(self, names: Iterable[str]) -> None:
        self._first: dict[tuple[str, int], list[str]] = {}
        self._last: dict[tuple[str, int], list[str]] = {}
        for name in names:
            self._first.setdefault((name[0], len(name)), []).append(name)
            self._last.setdefault((name[-1], len(name)), []).append(name)

    def similar(self, name: str) -> list[str]:
        from rapidfuzz import fuzz, process

        # ratio = 2 * common / (len_a + len_b) >= ARTIST_MIN / 100 allows lengths at most
        # 2 * len_a * (100 - ARTIST_MIN) / ARTIST_MIN apart.
        spread = int(2 * len(name) * (100 - ARTIST_MIN) / ARTIST_MIN) + 1
        pool: list[str] = []
        for length in range(len(name) - spread, len(name) + spread + 1):
            pool += self._first.get((name[0], length), ())
            pool += self._last.get((name[-1], length), ())
        found = process.extract(
            name,
            set(pool) - {name},
            scorer=fuzz.ratio,
            score_cutoff=ARTIST_MIN,
            limit=_SIMILAR_ARTISTS,
        )
        return [match[0] for match in found]


def _size(block: _Block) -> int:
    return max(1, len(block.ids))
