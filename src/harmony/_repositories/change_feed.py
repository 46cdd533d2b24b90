"""The change feed: every committed write that changes what a cached response shows.

A writer calls :meth:`ChangeFeed.record` inside its own transaction. That takes the next
change number from ``change_feed_head`` (``UPDATE ... SET last = last + 1``: the row lock
orders concurrent writers, so numbers are handed out in commit order), stores the affected
playlist ids under it and, on PostgreSQL, sends ``NOTIFY`` (delivered only if the
transaction commits). A reader that sees ``last = n`` has therefore seen every change up
to ``n``, and learns what changed since it last looked from :meth:`ChangeFeed.since`.

The feed keeps the newest ``retention`` entries; a reader further behind than that cannot
tell what changed and must drop everything it cached (:attr:`FeedSlice.complete` is false).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Text, cast, delete, func, insert, select, update

from harmony._db.models import ChangeFeedHeadRow, ChangeFeedRow, PlaylistRow
from harmony._db.watch import CHANGES_CHANNEL, channel_name

__all__ = [
    "HEAD_SQL",
    "ChangeFeed",
    "FeedSlice",
]

#: Entries kept; a reader that fell further behind drops its whole cache.
DEFAULT_RETENTION = 10_000

#: The head read on a raw DBAPI connection (the watcher's probe, on the hot read path).
HEAD_SQL = "SELECT last FROM change_feed_head WHERE id = 1"

H = ChangeFeedHeadRow
F = ChangeFeedRow


@dataclass(frozen=True, slots=True)
class FeedSlice:
    """What changed after one change number up to another."""

    after: int
    upto: int
    #: Every change in the range is still in the feed (none was pruned).
    complete: bool
    playlist_ids: frozenset[int]
    tags: frozenset[str]


class ChangeFeed:
    """Records changes (inside the writer's transaction) and reads them back."""

    def __init__(self, *, schema: str | None, retention: int = DEFAULT_RETENTION) -> None:
        self._channel = channel_name(CHANGES_CHANNEL, schema)
        self.retention = retention

    def __repr__(self) -> str:
        return f"ChangeFeed(channel={self._channel!r}, retention={self.retention})"

    def record(
        self,
        conn: Connection,
        now: datetime,
        playlist_ids: Collection[int],
        tags: Collection[str] = (),
    ) -> int:
        """Record a change in ``conn``'s open transaction; returns its number.

        The caller's transaction holds the head row's lock until it ends, so keep the
        call late in the transaction.
        """
        stmt = update(H).where(H.id == 1).values(last=H.last + 1)
        if conn.dialect.name == "postgresql":
            # NOTIFY is transactional: listeners hear the number only once it commits.
            stmt = stmt.returning(H.last, func.pg_notify(self._channel, cast(H.last, Text)))
        else:
            stmt = stmt.returning(H.last)
        number = int(conn.execute(stmt).scalar_one())
        conn.execute(
            insert(F).values(
                id=number,
                created_at=now,
                playlist_ids=sorted(set(playlist_ids)),
                tags=sorted(set(tags)),
            )
        )
        if number % 64 == 0:  # prune now and then: one indexed range delete
            conn.execute(delete(F).where(F.id <= number - self.retention))
        return number

    def head(self, conn: Connection) -> int:
        """The newest committed change number (0 before the first change)."""
        return int(conn.execute(select(H.last).where(H.id == 1)).scalar_one())

    @staticmethod
    def playlist_ids(conn: Connection) -> frozenset[int]:
        """Every stored playlist's id (what a host's cache must drop when freshness cannot
        be proven)."""
        return frozenset(conn.execute(select(PlaylistRow.id)).scalars())

    def since(
        self, conn: Connection, after: int, upto: int, *, exclude: Collection[int] = ()
    ) -> FeedSlice:
        """The changes numbered ``after + 1`` to ``upto``, leaving out ``exclude`` (changes
        the reader applied itself); ``complete`` is false if any of them was pruned."""
        skip = {n for n in exclude if after < n <= upto}
        ids: set[int] = set()
        tags: set[str] = set()
        seen = 0
        if upto > after:
            stmt = select(F.id, F.playlist_ids, F.tags).where(F.id > after, F.id <= upto)
            for row in conn.execute(stmt):
                seen += 1
                if row.id in skip:
                    continue
                ids.update(int(pid) for pid in row.playlist_ids or ())
                tags.update(str(tag) for tag in row.tags or ())
        return FeedSlice(after, upto, seen == upto - after, frozenset(ids), frozenset(tags))
