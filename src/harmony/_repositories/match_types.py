"""Values ``ctx.matching`` returns: matches, run reports, unmatched tracks with candidates."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from harmony._repositories.playlist_types import Track

__all__ = [
    "MatchCandidate",
    "MatchMethod",
    "MatchReport",
    "MatchStatus",
    "TrackMatch",
    "UnmatchedTrack",
]

#: ``auto``: proposed by a run; ``confirmed`` / ``rejected``: set by hand, kept by every run.
MatchStatus = Literal["auto", "confirmed", "rejected"]
#: ``isrc``: same ISRC; ``fuzzy``: title, artists and duration; ``manual``: set by hand.
MatchMethod = Literal["isrc", "fuzzy", "manual"]

_CONFIG = ConfigDict(frozen=True)


class TrackMatch(BaseModel):
    """A source track paired with a track of the target provider."""

    model_config = _CONFIG

    source_track_id: int
    target_track_id: int
    target_provider: str
    status: MatchStatus
    method: MatchMethod
    #: 100 for an ISRC or hand-confirmed match; about 88-100 for a fuzzy one
    score: float
    #: what agreed (and how well), readable
    reasons: tuple[str, ...]
    updated_at: datetime


class MatchReport(BaseModel):
    """What one ``ctx.matching.run(source, target)`` did, and where the pair stands."""

    model_config = _CONFIG

    source: str
    target: str
    #: source tracks of ``source`` with a match in use (automatic or confirmed), after the run
    matched: int
    #: source tracks without one
    unmatched: int
    #: of ``matched``, confirmed by hand
    confirmed: int
    #: source tracks this run looked at (new, changed, or unmatched while the target's
    #: catalogue changed); 0 when nothing changed
    checked: int
    #: matches this run created, replaced or dropped
    changed: int
    #: whether the target's catalogue changed since the pair's previous run
    catalogue_changed: bool
    duration_ms: float


class MatchCandidate(BaseModel):
    """A target track that looks like an unmatched source track, and why it is not its match."""

    model_config = _CONFIG

    track: Track
    #: similarity of title and artists (0-100; 100 for the same ISRC)
    score: float
    reasons: tuple[str, ...]
    #: the rule it failed (``None``: it would match, e.g. the catalogue changed since the run)
    why_not: str | None


class UnmatchedTrack(BaseModel):
    """A source track without a match in use, with the target's closest tracks."""

    model_config = _CONFIG

    track: Track
    candidates: tuple[MatchCandidate, ...]
