"""Reading matches and setting them by hand: ``ctx.matching.get``, ``confirm``, ``reject``,
the counts of a run's report and the list of unmatched source tracks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    and_,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)

from harmony._clock import Clock
from harmony._db.engine import Database
from harmony._db.models import MatchCheckRow, TrackMatchRow, TrackRow
from harmony._repositories.match_sql import among
from harmony._repositories.match_types import TrackMatch
from harmony._repositories.playlist_types import Track
from harmony._repositories.playlists import TRACK_COLUMNS, track_from_row

__all__ = ["MatchPairs"]

_MATCH_COLUMNS = (
    TrackMatchRow.source_track_id,
    TrackMatchRow.target_track_id,
    TrackMatchRow.target_provider,
    TrackMatchRow.status,
    TrackMatchRow.method,
    TrackMatchRow.score,
    TrackMatchRow.reasons,
    TrackMatchRow.updated_at,
)


class MatchPairs:
    """The ``track_matches`` rows as users see them."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def __repr__(self) -> str:
        return f"MatchPairs({self._db!r})"

    def in_use(self, source_track_ids: Sequence[int], target: str) -> dict[int, TrackMatch]:
        """The match in use (automatic or confirmed) of each source track that has one."""
        found: dict[int, TrackMatch] = {}
        with self._db.connect() as conn:
            for condition in among(
                conn, TrackMatchRow.source_track_id, source_track_ids, BigInteger()
            ):
                stmt = select(*_MATCH_COLUMNS).where(
                    condition,
                    TrackMatchRow.target_provider == target,
                    TrackMatchRow.status != "rejected",
                )
                for row in conn.execute(stmt):
                    found[row.source_track_id] = _match(row)
        return found

    def set_status(self, source: Track, target: Track, status: str) -> TrackMatch:
        """Confirm or reject ``source`` -> ``target`` by hand (``status``), in one transaction.

        Confirming replaces the source's match in use for ``target.provider``. Rejecting
        keeps the pair as rejected (never proposed again) and drops the source's check, so
        the next run looks for another match for it (and for nothing else).
        """
        now = self._clock.now()
        with self._db.write() as conn:
            pair = and_(
                TrackMatchRow.source_track_id == source.id,
                TrackMatchRow.target_track_id == target.id,
            )
            existing = conn.execute(
                select(TrackMatchRow.method, TrackMatchRow.score, TrackMatchRow.reasons).where(pair)
            ).first()
            if status == "confirmed":
                conn.execute(
                    delete(TrackMatchRow).where(
                        TrackMatchRow.source_track_id == source.id,
                        TrackMatchRow.target_provider == target.provider,
                        TrackMatchRow.status != "rejected",
                        TrackMatchRow.target_track_id != target.id,
                    )
                )
                values: dict[str, Any] = {
                    "method": "manual",
                    "score": 100.0,
                    "reasons": ["confirmed by hand"],
                }
            else:
                values = {"method": "manual", "score": 0.0, "reasons": ["rejected by hand"]}
                if existing is not None and existing.method != "manual":
                    values = {
                        "method": existing.method,
                        "score": existing.score,
                        "reasons": [*existing.reasons, "rejected by hand"],
                    }
                # The next run looks at this source again (and never proposes this pair).
                conn.execute(
                    delete(MatchCheckRow).where(
                        MatchCheckRow.source_track_id == source.id,
                        MatchCheckRow.target_provider == target.provider,
                    )
                )
            if existing is None:
                conn.execute(
                    insert(TrackMatchRow).values(
                        source_track_id=source.id,
                        target_track_id=target.id,
                        target_provider=target.provider,
                        status=status,
                        created_at=now,
                        updated_at=now,
                        **values,
                    )
                )
            else:
                conn.execute(
                    update(TrackMatchRow)
                    .where(pair)
                    .values(status=status, updated_at=now, **values)
                )
            row = conn.execute(select(*_MATCH_COLUMNS).where(pair)).one()
        return _match(row)

    def counts(self, source: str, target: str) -> tuple[int, int, int]:
        """``(tracks of source, with a match in use for target, of which confirmed)``."""
        src = TrackRow
        with self._db.connect() as conn:
            total = conn.execute(select(func.count()).where(src.provider == source)).scalar_one()
            matched, confirmed = conn.execute(
                select(func.count(), func.count().filter(TrackMatchRow.status == "confirmed"))
                .select_from(TrackMatchRow)
                .join(src, src.id == TrackMatchRow.source_track_id)
                .where(
                    src.provider == source,
                    TrackMatchRow.target_provider == target,
                    TrackMatchRow.status != "rejected",
                )
            ).one()
        return int(total), int(matched), int(confirmed)

    def unmatched(self, source: str, target: str, limit: int, offset: int) -> list[Track]:
        """Tracks of ``source`` without a match in use for ``target``, by id."""
        in_use = exists().where(
            TrackMatchRow.source_track_id == TrackRow.id,
            TrackMatchRow.target_provider == target,
            TrackMatchRow.status != "rejected",
        )
        stmt = (
            select(*TRACK_COLUMNS)
            .where(TrackRow.provider == source, ~in_use)
            .order_by(TrackRow.id)
            .limit(limit)
            .offset(offset)
        )
        with self._db.connect() as conn:
            return [track_from_row(row) for row in conn.execute(stmt)]

    def rejected(self, source_track_id: int, target: str) -> set[int]:
        """Target track ids rejected for ``source_track_id``."""
        stmt = select(TrackMatchRow.target_track_id).where(
            TrackMatchRow.source_track_id == source_track_id,
            TrackMatchRow.target_provider == target,
            TrackMatchRow.status == "rejected",
        )
        with self._db.connect() as conn:
            return set(conn.execute(stmt).scalars())

    def tracks(self, ids: Sequence[int]) -> dict[int, Track]:
        """The stored tracks ``ids`` (missing ones left out)."""
        found: dict[int, Track] = {}
        with self._db.connect() as conn:
            found.update(_tracks(conn, ids))
        return found


def _tracks(conn: Connection, ids: Sequence[int]) -> dict[int, Track]:
    found: dict[int, Track] = {}
    for condition in among(conn, TrackRow.id, ids, BigInteger()):
        for row in conn.execute(select(*TRACK_COLUMNS).where(condition)):
            found[row.id] = track_from_row(row)
    return found


def _match(row: Any) -> TrackMatch:
    updated: datetime = row.updated_at
    return TrackMatch(
        source_track_id=row.source_track_id,
        target_track_id=row.target_track_id,
        target_provider=row.target_provider,
        status=row.status,
        method=row.method,
        score=row.score,
        reasons=tuple(row.reasons or ()),
        updated_at=updated,
    )
