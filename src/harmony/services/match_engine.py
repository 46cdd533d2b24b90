"""One matching run's work: keying tracks and finding each source track's candidates.

Candidates come from the stored keys of the target's catalogue (``track_match_keys``), by
indexed lookups, cheapest first, for 500 source tracks at a time:

1. the same canonical ISRC, and the same primary artist and title (after normalising:
   case, accents, punctuation, credits, "- Remastered 2011", "(Live)" ...): one query each
   per 500 tracks; most tracks of a real library end here;
2. for those without a match yet: every track of their primary artist and every track of
   their title (a misspelt title, a misspelt or differently credited artist);
3. for those still without: every track of the artists whose names are close to theirs
   (a misspelt artist *and* title), found in memory among the catalogue's artist names
   that share their first or last letter.

Lookups of step 2 and 3 are cached for the run (an artist's tracks are read once however
many source tracks name them). Each candidate is judged by :class:`MatchRules`; rejected
pairs are never candidates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from cachetools import LRUCache

from harmony.repositories.match_store import Decision, KeyRow, MatchStore, SourceRow, iter_chunks
from harmony.services.match_keys import KeyMaker, MatchKey
from harmony.services.match_rules import ARTIST_MIN, TITLE_MIN, MatchRules

__all__ = ["MatchEngine", "key_columns", "parse_key"]

_NUMBER = re.compile(r"\d+")
_NO_TAGS: frozenset[str] = frozenset()
_REMASTER = frozenset({"remaster"})
#: Target keys kept in the run's lookup cache (about 200 bytes each).
_CACHED_KEYS = 400_000
#: Similar artist names followed per source track.
_SIMILAR_ARTISTS = 5

Candidate = tuple[int, MatchKey]


def key_columns(row: SourceRow, maker: KeyMaker) -> dict[str, Any]:
    """The ``track_match_keys`` columns of one track."""
    key = maker.key(row.title, row.artists, row.album, row.isrc, row.duration_ms)
    return {
        "track_id": row.id, "track_updated_at": row.updated_at, "isrc": key.isrc,
        "title": key.title[:500], "artist": key.artist[:500], "artists": "|".join(key.artists),
        "tags": "+".join(sorted(key.tags | ({"remaster"} if key.remaster else set()))),
        "duration_ms": row.duration_ms,
    }  # fmt: skip


def parse_key(row: KeyRow) -> MatchKey:
    """A stored key row as a :class:`MatchKey`."""
    _, isrc, title, _, artists, tags, duration_ms, _ = row
    marks = frozenset(tags.split("+")) if tags else _NO_TAGS
    return MatchKey(
        isrc=isrc, title=title, artists=tuple(artists.split("|")) if artists else (),
        tags=marks - _REMASTER, numbers=tuple(_NUMBER.findall(title)), duration_ms=duration_ms,
        remaster="remaster" in marks,
    )  # fmt: skip


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
        #: each target track's updated_at when its key was read
        self._stamps: dict[int, datetime] = {}

    def refresh_keys(self, provider: str) -> int:
        """Compute and store the keys of ``provider``'s tracks that lack fresh ones."""
        written = 0
        maker = KeyMaker()
        for page in self._store.stale_keys(provider):
            self._store.write_keys(
                provider, [key_columns(row, maker) for row in page],
                replace=[row.id for row in page if row.keyed],
            )
            written += len(page)
        return written

    def match(self, source_ids: Sequence[int], rejected: set[tuple[int, int]],
              confirmed: set[int]) -> list[Decision]:  # fmt: skip
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
                    decisions.append(Decision(
                        source_id, updated, target_id, self._stamps.get(target_id),
                        verdict.method, verdict.score, verdict.reasons,
                    ))  # fmt: skip
        return decisions

    def candidates(self, source: MatchKey, rejected: set[int]) -> list[Candidate]:
        """Every candidate of one source track (for the unmatched report), steps 1-3,
        without the title filter of steps 2 and 3."""
        rows: list[KeyRow] = []
        if source.isrc:
            rows += self._store.keys_by_isrc(self._target, [source.isrc])
        names = [source.artist, *self._similar(source.artist)] if source.artist else []
        for block in self._blocks(names, self._by_artist, self._store.keys_by_artist, 3).values():
            rows += block.rows
        rows += self._blocks([source.title], self._by_title, self._store.keys_by_title, 2)[source.title].rows
        return [c for c in self._parse(rows) if c[0] not in rejected]

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

        def step(keys: dict[int, MatchKey], lookup: Callable[[int, MatchKey], Iterable[Candidate]]) -> dict[int, MatchKey]:
            left: dict[int, MatchKey] = {}
            for source_id, key in keys.items():
                cands = [(t, k) for t, k in lookup(source_id, key) if (source_id, t) not in rejected]
                best = self._rules.best(key, cands)
                if best is None:
                    left[source_id] = key
                else:
                    found[source_id] = best
            return left

        left = step(todo, lambda _, k: [*by_isrc.get(k.isrc or "", ()), *by_pair.get((k.artist, k.title), ())])
        if left:
            artists = self._blocks([k.artist for k in left.values() if k.artist], self._by_artist,
                                   self._store.keys_by_artist, 3)  # fmt: skip
            titles = self._blocks([k.title for k in left.values()], self._by_title,
                                  self._store.keys_by_title, 2)  # fmt: skip
            left = step(left, lambda _, k: [
                *(self._close(artists[k.artist], k.title) if k.artist else ()),
                *self._parse(titles[k.title].rows),
            ])  # fmt: skip
        if left:
            similar = {i: self._similar(k.artist) for i, k in left.items() if k.artist}
            blocks = self._blocks([n for names in similar.values() for n in names], self._by_artist,
                                  self._store.keys_by_artist, 3)  # fmt: skip
            left = step(left, lambda i, k: [c for name in similar.get(i, ()) for c in self._close(blocks[name], k.title)])
        return found

    def _close(self, block: _Block, title: str) -> list[Candidate]:
        """The tracks of ``block`` whose title could pass the rules' title test."""
        if not block.rows:
            return []
        from rapidfuzz import fuzz, process

        hits = process.extract(title, block.titles, scorer=fuzz.ratio, score_cutoff=TITLE_MIN, limit=None)
        return self._parse([block.rows[index] for _, _, index in hits])

    def _parse(self, rows: Iterable[KeyRow]) -> list[Candidate]:
        found = []
        for row in rows:
            self._stamps[row[0]] = row[7]
            found.append((row[0], parse_key(row)))
        return found

    def _blocks(
        self, values: Sequence[str], cache: LRUCache[str, _Block],
        fetch: Callable[[str, Sequence[str]], list[KeyRow]], column: int,
    ) -> dict[str, _Block]:  # fmt: skip
        """Every target key whose ``column`` (3: primary artist, 2: title) is one of
        ``values``, by value; read once per run (cached)."""
        wanted = list(dict.fromkeys(values))
        blocks = {v: cache[v] for v in wanted if v in cache}
        missing = [v for v in wanted if v not in blocks]
        if missing:
            fetched: dict[str, list[KeyRow]] = {v: [] for v in missing}
            for row in fetch(self._target, missing):
                fetched.setdefault(str(row[column]), []).append(row)
            for value, rows in fetched.items():
                block = _Block(rows)
                blocks[value] = block
                if len(rows) < _CACHED_KEYS:
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
    """Target keys sharing an artist or a title, and their titles (for rapidfuzz)."""

    __slots__ = ("rows", "titles")

    def __init__(self, rows: list[KeyRow]) -> None:
        self.rows = rows
        self.titles = [row[2] for row in rows]


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
        found = process.extract(name, set(pool) - {name}, scorer=fuzz.ratio, score_cutoff=ARTIST_MIN,
                                limit=_SIMILAR_ARTISTS)  # fmt: skip
        return [match[0] for match in found]


def _size(block: _Block) -> int:
    return max(1, len(block.rows))
