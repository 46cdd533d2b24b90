"""Sync previews: :class:`SyncPlan`, what ``ctx.sync.run_once()`` would do, written nowhere.

The engine's fetch phase decides which playlists change (the same code a sync runs); this
module describes those changes per playlist: created, renamed, restored or removed, and
which tracks would be added, removed or moved, by comparing with what is stored.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harmony._repositories.sync_preview import StoredSlot, SyncPreviewReader
from harmony._repositories.sync_store import PlaylistChange, StoredPlaylist
from harmony._services.sync_types import REPORTED_REJECTIONS, RejectedItem
from harmony.providers.base import ProviderTrack

__all__ = ["PlannedTrack", "PlaylistPlan", "SyncPlan", "TrackUpdate", "describe_changes"]

PlanAction = Literal["create", "update", "remove", "touch"]


class PlannedTrack(BaseModel):
    """A track a sync would add (``position``), remove (``previous_position``) or move
    (both); positions count from 0."""

    model_config = ConfigDict(frozen=True)

    provider_id: str
    title: str
    position: int | None = None
    previous_position: int | None = None


class TrackUpdate(BaseModel):
    """A stored track whose metadata (``fields``: title, artists, ...) a sync would change."""

    model_config = ConfigDict(frozen=True)

    provider_id: str
    title: str
    fields: tuple[str, ...]


class PlaylistPlan(BaseModel):
    """What a sync would do to one playlist.

    ``action``: ``create`` (new), ``update`` (renamed, restored, new tracks or snapshot),
    ``remove`` (gone at the provider; marked removed or deleted per ``sync_removed_policy``)
    or ``touch`` (unchanged itself, but a track it shows gets new metadata, so its version
    and ETag move). ``playlist_id`` is harmony's id (``None`` for a playlist to create).
    """

    model_config = ConfigDict(frozen=True)

    provider: str
    provider_id: str
    playlist_id: int | None
    action: PlanAction
    name: str
    #: The stored name, when the sync renames the playlist.
    previous_name: str | None = None
    #: A playlist marked removed that is back at the provider.
    restored: bool = False
    #: Which of name, description and owner change.
    changed_fields: tuple[str, ...] = ()
    tracks_added: tuple[PlannedTrack, ...] = ()
    tracks_removed: tuple[PlannedTrack, ...] = ()
    tracks_moved: tuple[PlannedTrack, ...] = ()
    #: The track count after the sync (``None``: the track list is not rewritten).
    track_count: int | None = None

    @property
    def renamed(self) -> bool:
        """Whether the sync changes the playlist's name."""
        return self.previous_name is not None


class SyncPlan(BaseModel):
    """What ``run_once`` would do now, per playlist (``ctx.sync.plan()``); nothing written.

    ``playlists`` lists every playlist the sync would write; ``created``, ``updated``,
    ``removed`` and ``unchanged`` count as the following :class:`SyncReport` will.
    Providers that failed are in ``failed`` (a plan never raises for them).
    """

    model_config = ConfigDict(frozen=True)

    providers: tuple[str, ...] = ()
    playlists: tuple[PlaylistPlan, ...] = ()
    unchanged: int = 0
    #: Stored tracks the sync would give new metadata (title, artists, album, ...).
    tracks_updated: tuple[TrackUpdate, ...] = ()
    rejected: int = 0
    rejections: tuple[RejectedItem, ...] = ()
    failed: Mapping[str, str] = Field(default_factory=dict)
    removed_policy: Literal["mark", "delete"] = "mark"

    def _count(self, action: PlanAction) -> int:
        return sum(1 for p in self.playlists if p.action == action)

    @property
    def created(self) -> int:
        """Playlists the sync would create."""
        return self._count("create")

    @property
    def updated(self) -> int:
        """Playlists the sync would update (renames, restores, track changes)."""
        return self._count("update")

    @property
    def removed(self) -> int:
        """Playlists the sync would mark removed (or delete)."""
        return self._count("remove")

    @property
    def touched(self) -> int:
        """Unchanged playlists whose version moves because a track they show changes."""
        return self._count("touch")

    @property
    def ok(self) -> bool:
        """Whether every provider could be planned."""
        return not self.failed

    @property
    def changes_nothing(self) -> bool:
        """Whether the sync would write nothing."""
        return not self.playlists and not self.tracks_updated

    def __add__(self, other: SyncPlan) -> SyncPlan:
        return SyncPlan(
            providers=self.providers + other.providers,
            playlists=self.playlists + other.playlists,
            unchanged=self.unchanged + other.unchanged,
            tracks_updated=self.tracks_updated + other.tracks_updated,
            rejected=self.rejected + other.rejected,
            rejections=(self.rejections + other.rejections)[:REPORTED_REJECTIONS],
            failed={**self.failed, **other.failed},
            removed_policy=other.removed_policy,
        )


def describe_changes(
    reader: SyncPreviewReader,
    provider: str,
    stored: Mapping[str, StoredPlaylist],
    changes: Sequence[PlaylistChange],
    removed: Sequence[str],
    unchanged: set[int],
) -> tuple[list[PlaylistPlan], list[TrackUpdate], int]:
    """Plans for one provider's fetched changes; returns them, the track updates, and how
    many stored playlists stay unchanged (as the sync report will count them)."""
    rewritten = [
        stored[c.playlist.id].id
        for c in changes
        if c.tracks is not None and c.playlist.id in stored
    ]
    lists = reader.track_lists(rewritten)
    plans = [_plan_change(provider, stored.get(c.playlist.id), c, lists) for c in changes]
    wanted: dict[str, ProviderTrack] = {}
    for change in changes:
        for track in change.tracks or ():
            wanted[track.id] = track  # the last occurrence wins, as when writing
    updates = reader.track_updates(provider, wanted)
    updated_ids = {p.playlist_id for p in plans if p.playlist_id is not None}
    removing = [stored[pid] for pid in removed]
    # As the writer: playlists showing a changed track get a new version, unless the sync
    # writes them anyway; a playlist also being removed is listed as removed.
    showing = reader.playlists_showing(u.track_id for u in updates)
    touched = set(showing) - updated_ids - {row.id for row in removing}
    plans += [
        PlaylistPlan(
            provider=provider,
            provider_id=row.provider_id,
            playlist_id=row.id,
            action="remove",
            name=row.name,
        )
        for row in removing
    ]
    plans += [
        PlaylistPlan(
            provider=showing[pid][0],
            provider_id=showing[pid][1],
            playlist_id=pid,
            action="touch",
            name=showing[pid][2],
        )
        for pid in sorted(touched)
    ]
    track_updates = [
        TrackUpdate(provider_id=u.provider_id, title=u.title, fields=u.fields) for u in updates
    ]
    return plans, track_updates, len(unchanged - touched)


def _plan_change(
    provider: str,
    row: StoredPlaylist | None,
    change: PlaylistChange,
    lists: Mapping[int, list[StoredSlot]],
) -> PlaylistPlan:
    playlist = change.playlist
    tracks = change.tracks
    if row is None:
        added = tuple(
            PlannedTrack(provider_id=t.id, title=t.title, position=i)
            for i, t in enumerate(tracks or ())
        )
        return PlaylistPlan(
            provider=provider,
            provider_id=playlist.id,
            playlist_id=None,
            action="create",
            name=playlist.name,
            tracks_added=added,
            track_count=len(tracks) if tracks is not None else playlist.track_count or 0,
        )
    changed = tuple(
        field
        for field, old, new in (
            ("name", row.name, playlist.name),
            ("description", row.description, playlist.description),
            ("owner", row.owner, playlist.owner),
        )
        if old != new
    )
    plan = PlaylistPlan(
        provider=provider,
        provider_id=playlist.id,
        playlist_id=row.id,
        action="update",
        name=playlist.name,
        previous_name=row.name if "name" in changed else None,
        restored=row.status != "active",
        changed_fields=changed,
    )
    if tracks is None:
        return plan
    added, removed, moved = diff_tracks(lists.get(row.id, []), tracks)
    return plan.model_copy(
        update={
            "tracks_added": added,
            "tracks_removed": removed,
            "tracks_moved": moved,
            "track_count": len(tracks),
        }
    )


def diff_tracks(
    before: Sequence[StoredSlot], after: Sequence[ProviderTrack]
) -> tuple[tuple[PlannedTrack, ...], tuple[PlannedTrack, ...], tuple[PlannedTrack, ...]]:
    """Added, removed and moved tracks from ``before`` to ``after`` (duplicates allowed).

    The longest common subsequence stays in place (tracks that only shift because others
    were added or removed did not move); of the rest, an entry whose track id is both
    taken out and put in elsewhere moved, the others were added or removed.
    """
    old = [slot.provider_id for slot in before]
    new = [track.id for track in after]
    taken: list[int] = []
    put: list[int] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag in ("delete", "replace"):
            taken.extend(range(i1, i2))
        if tag in ("insert", "replace"):
            put.extend(range(j1, j2))
    spare: defaultdict[str, deque[int]] = defaultdict(deque)
    for i in taken:
        spare[old[i]].append(i)
    added: list[PlannedTrack] = []
    moved: list[PlannedTrack] = []
    for j in put:
        track = after[j]
        if spare[track.id]:
            moved.append(
                PlannedTrack(
                    provider_id=track.id,
                    title=track.title,
                    position=j,
                    previous_position=spare[track.id].popleft(),
                )
            )
        else:
            added.append(PlannedTrack(provider_id=track.id, title=track.title, position=j))
    removed = sorted(i for positions in spare.values() for i in positions)
    return (
        tuple(added),
        tuple(
            PlannedTrack(provider_id=old[i], title=before[i].title, previous_position=i)
            for i in removed
        ),
        tuple(moved),
    )
