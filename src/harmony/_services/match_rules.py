"""Whether two tracks are the same recording: the rules of ``ctx.matching``, on
:class:`~harmony._services.match_keys.MatchKey` values (needs rapidfuzz, the ``search`` extra).

In this order, for a source track and one candidate of the target catalogue:

1. Two known ISRCs that differ: never a match (whatever else agrees).
2. Durations, when both are known, more than the tolerance apart: no match (an ISRC
   match included: the same recording has the same length, so a far-off one is a
   mistagged or cut file, left for review).
3. Different edition tags (live, acoustic, remix, demo, instrumental): no match.
4. The same ISRC: a match, method ``"isrc"``, score 100.
5. Otherwise, method ``"fuzzy"``: titles with different numbers never match; the titles'
   similarity (rapidfuzz ``ratio`` of the normalised titles, 0-100) must reach
   :data:`TITLE_MIN` and the artists' :data:`ARTIST_MIN` (the best of: either side's
   primary artist against any artist of the other, and all names sorted and joined; a
   featured artist alone never makes two tracks the same artist's); with a duration
   unknown on either side both must reach :data:`UNKNOWN_DURATION_MIN`. Score: 0.6 x
   title + 0.4 x artists, less up to 4 points for the duration gap (4 when unknown), plus
   1 when both or neither are marked as remasters.

Among several candidates that match, an ISRC match wins, then the higher score, then the
closer duration, then the lower track id. Two fuzzy candidates within half a point of
each other that are different recordings (their durations further apart than the
tolerance, or different ISRCs) make the source track *ambiguous*: no match, it is listed
as unmatched for a person to decide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from harmony._services.match_keys import MatchKey

__all__ = ["ARTIST_MIN", "TITLE_MIN", "UNKNOWN_DURATION_MIN", "MatchRules", "Verdict"]

#: Rules version, part of every run's fingerprint: a change re-checks every automatic match.
RULES_VERSION = 1
#: Least title similarity (0-100) of a fuzzy match.
TITLE_MIN = 88.0
#: Least artist similarity (0-100) of a fuzzy match.
ARTIST_MIN = 85.0
#: Least title and artist similarity when a duration is unknown.
UNKNOWN_DURATION_MIN = 95.0
_DURATION_POINTS = 4.0
_SAME_MARK_POINTS = 1.0
#: Fuzzy candidates closer than this in score are told apart by nothing but chance.
_TIE = 0.5


@dataclass(frozen=True, slots=True)
class Verdict:
    """The rules' answer for one pair: ``matched``, how, how well, and why (or why not)."""

    matched: bool
    method: str
    score: float
    reasons: tuple[str, ...]
    #: the ``duration_ms`` gap (``None`` when a duration is unknown)
    gap_ms: int | None
    #: the first rule the pair failed, when it did not match
    why_not: str | None = None


class MatchRules:
    """The matching rules with one duration tolerance."""

    def __init__(self, tolerance_ms: int) -> None:
        self.tolerance_ms = tolerance_ms

    def __repr__(self) -> str:
        return f"MatchRules(tolerance_ms={self.tolerance_ms})"

    @property
    def fingerprint(self) -> str:
        """Changes whenever the rules could decide differently."""
        return f"v{RULES_VERSION}:tolerance={self.tolerance_ms}"

    def judge(self, source: MatchKey, target: MatchKey) -> Verdict:
        """Whether ``target`` is ``source``'s recording."""
        gap = (
            abs(source.duration_ms - target.duration_ms)
            if source.duration_ms is not None and target.duration_ms is not None
            else None
        )
        if source.isrc and target.isrc and source.isrc != target.isrc:
            return _no(gap, f"ISRCs differ ({source.isrc} / {target.isrc})")
        if gap is not None and gap > self.tolerance_ms:
            return _no(
                gap,
                f"durations {gap / 1000:.1f} s apart (tolerance {self.tolerance_ms / 1000:.1f} s)",
            )
        if source.tags != target.tags:
            return _no(gap, f"editions differ ({_tags(source)} / {_tags(target)})")
        title = fuzz.ratio(source.title, target.title)
        artist = _artist_similarity(source.artists, target.artists)
        reasons = [
            f"title {source.title!r} {'=' if title == 100 else '~'} {target.title!r} ({title:.0f})",
            f"artists {', '.join(source.artists) or '(none)'} ~ {', '.join(target.artists) or '(none)'} "
            f"({artist:.0f})",
            f"durations {gap / 1000:.1f} s apart" if gap is not None else "duration unknown",
        ]
        if source.tags:
            reasons.append(f"edition {_tags(source)} on both")
        if source.isrc and source.isrc == target.isrc:
            return Verdict(True, "isrc", 100.0, (f"ISRC {source.isrc} on both", *reasons), gap)
        if source.numbers != target.numbers:
            return _no(
                gap,
                f"titles name different numbers ({' '.join(source.numbers) or '-'} / "
                f"{' '.join(target.numbers) or '-'})",
                reasons,
            )
        title_min, artist_min = (
            (TITLE_MIN, ARTIST_MIN)
            if gap is not None
            else (UNKNOWN_DURATION_MIN, UNKNOWN_DURATION_MIN)
        )
        if not source.artists or not target.artists:
            return _no(gap, "no artist on one side", reasons)
        if title < title_min:
            return _no(gap, f"title similarity {title:.0f} < {title_min:.0f}", reasons)
        if artist < artist_min:
            return _no(gap, f"artist similarity {artist:.0f} < {artist_min:.0f}", reasons)
        penalty = _DURATION_POINTS * (gap / max(self.tolerance_ms, 1) if gap is not None else 1.0)
        bonus = _SAME_MARK_POINTS if source.remaster == target.remaster else 0.0
        score = round(0.6 * title + 0.4 * artist - penalty + bonus, 2)
        return Verdict(True, "fuzzy", score, tuple(reasons), gap)

    def best(
        self, source: MatchKey, candidates: Iterable[tuple[int, MatchKey]]
    ) -> tuple[int, Verdict] | None:
        """The best matching candidate ``(track id, verdict)``, or ``None`` (none matches,
        or the best fuzzy ones are different recordings equally close: ambiguous)."""
        ranked: list[tuple[tuple[bool, float, int, int], int, MatchKey, Verdict]] = []
        for track_id, key in candidates:
            verdict = self.judge(source, key)
            if verdict.matched:
                rank = (
                    verdict.method == "isrc",
                    verdict.score,
                    -(verdict.gap_ms if verdict.gap_ms is not None else 10**9),
                    -track_id,
                )
                ranked.append((rank, track_id, key, verdict))
        if not ranked:
            return None
        ranked.sort(key=lambda item: item[0], reverse=True)
        _, best_id, best_key, best = ranked[0]
        if best.method == "fuzzy":
            for _, other_id, other_key, verdict in ranked[1:]:
                if best.score - verdict.score >= _TIE:
                    break
                if other_id != best_id and self._different(best_key, other_key):
                    return None
        return best_id, best

    def _different(self, a: MatchKey, b: MatchKey) -> bool:
        """Whether two catalogue tracks are different recordings, as far as one can tell."""
        if a.isrc and b.isrc:
            return a.isrc != b.isrc
        if a.duration_ms is None or b.duration_ms is None:
            return False
        return abs(a.duration_ms - b.duration_ms) > self.tolerance_ms

    def similarity(self, source: MatchKey, target: MatchKey) -> float:
        """How alike two tracks look (0-100), for ordering candidates that did not match."""
        if source.isrc and source.isrc == target.isrc:
            return 100.0
        title = fuzz.ratio(source.title, target.title)
        return round(0.6 * title + 0.4 * _artist_similarity(source.artists, target.artists), 2)


def _no(gap: int | None, why: str, reasons: Iterable[str] = ()) -> Verdict:
    return Verdict(False, "fuzzy", 0.0, tuple(reasons), gap, why)


def _tags(key: MatchKey) -> str:
    return "+".join(sorted(key.tags)) or "studio"


def _artist_similarity(source: tuple[str, ...], target: tuple[str, ...]) -> float:
    if not source or not target:
        return 0.0
    if source[0] == target[0]:
        return 100.0
    # A primary artist on one side against any artist on the other: "A feat. X" is
    # A's (and "X feat. A" is X's), but two tracks sharing only a guest are not the same.
    primary = max(
        max(fuzz.ratio(source[0], b) for b in target), max(fuzz.ratio(a, target[0]) for a in source)
    )
    joined = fuzz.token_sort_ratio(" ".join(source), " ".join(target))
    return max(primary, joined)
