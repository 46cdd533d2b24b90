"""Scoring a candidate track against a search query.

After normalising case, accents, punctuation and featured-artist credits, the score (0 to
about 110) mixes how much of the query the track covers (its title, artists and album, in
any order, a typo counting partly), how much of the title the query mentions, and the
fuzzy closeness of query and title; then it rewards a candidate whose edition (live,
remaster, ...) matches the one asked for, prefers originals when none is asked for, and
rewards release years close to a year in the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from harmony._textnorm import (
    EDITION_TAGS,
    edition_tags,
    normalize,
    strip_credits,
    strip_edition,
    tags_of_words,
    tokens,
    years,
)

__all__ = ["PreparedQuery", "prepare_query", "score"]

_EDITION_WORDS = frozenset().union(*EDITION_TAGS.values())
_TAG_MATCH, _TAG_MISMATCH, _UNASKED_TAG = 8.0, -8.0, -3.0
_YEAR_WINDOW = 5
_TYPO_CUTOFF = 70.0


@dataclass(frozen=True, slots=True)
class PreparedQuery:
    """A query normalised once per search."""

    text: str  #: every word, credit words dropped
    core: str  #: without edition words (compared with titles)
    words: tuple[str, ...]
    tags: frozenset[str]
    years: tuple[int, ...]


def prepare_query(query: str) -> PreparedQuery:
    """Normalise ``query`` for :func:`score` and for the SQL pre-filter."""
    words = tokens(query)
    core = [w for w in words if w not in _EDITION_WORDS]
    return PreparedQuery(
        " ".join(words),
        " ".join(core) or " ".join(words),
        tuple(words),
        edition_tags(query),
        tuple(years(query)),
    )


def score(
    query: PreparedQuery,
    title: str,
    artists: Sequence[str],
    album: str | None,
    year: int | None,
) -> float:
    """How well a track matches ``query``; higher is better."""
    if not query.words:
        return 0.0
    title_core = normalize(strip_edition(strip_credits(title)))
    title_words = [w for w in title_core.split() if w not in _EDITION_WORDS] or title_core.split()
    # Normalised once each: normalize(a + " " + b) has the words of both, nothing else.
    title_album = normalize(title).split() + (normalize(album).split() if album else [])
    every_word = set(title_album).union(*(normalize(artist).split() for artist in artists))
    asked = list(query.core.split()) or list(query.words)
    # Recall: how much of the query the track covers (title, artists, album, any order).
    coverage = sum(_best(word, every_word) for word in asked) / len(asked)
    # Precision on the title: how much of the title the query mentions.
    title_precision = sum(_best(word, set(asked)) for word in title_words) / max(
        len(title_words), 1
    )
    closeness = fuzz.token_sort_ratio(query.core, " ".join(title_words))
    value = 0.6 * coverage + 0.25 * title_precision + 0.15 * closeness
    tags = tags_of_words(title_album)
    if query.tags:
        value += sum(_TAG_MATCH if tag in tags else _TAG_MISMATCH for tag in query.tags)
        value += _UNASKED_TAG * len(tags - query.tags)
    else:
        value += _UNASKED_TAG * len(tags)
    if query.years:
        known = ([year] if year else []) + years(f"{title} {album or ''}")
        if known:
            gap = min(abs(a - b) for a in known for b in query.years)
            value += max(0, _YEAR_WINDOW - gap)
    return round(value, 3)


def _best(word: str, words: set[str]) -> float:
    """Similarity (0-100) of ``word`` to its closest word in ``words``; typos count partly."""
    if word in words:
        return 100.0
    if not words:
        return 0.0
    found = process.extractOne(word, words, scorer=fuzz.ratio, score_cutoff=_TYPO_CUTOFF)
    return float(found[1]) if found else 0.0
