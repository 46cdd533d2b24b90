"""``harmony sync --dry-run``: a sync plan for people (or as JSON)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from harmony import PlannedTrack, PlaylistPlan, SyncPlan
from harmony._cli._output import print_json

__all__ = ["print_plan"]

#: Tracks listed per kind of change and playlist; the rest are counted.
_SHOWN_TRACKS = 5


def print_plan(plan: SyncPlan, as_json: bool, out: TextIO) -> int:
    """Print ``plan``; exit code 1 (with one error line) when a source failed."""
    if as_json:
        print_json(
            {
                **plan.model_dump(mode="json"),
                "created": plan.created,
                "updated": plan.updated,
                "removed": plan.removed,
                "touched": plan.touched,
            },
            out,
        )
    else:
        _print_text(plan, out)
    if plan.failed:
        failures = "; ".join(f"{name}: {error}" for name, error in plan.failed.items())
        print(f"harmony: error: cannot plan {failures}", file=sys.stderr)
        return 1
    return 0


def _print_text(plan: SyncPlan, out: TextIO) -> None:
    print(f"dry run of a sync of {', '.join(plan.providers)}: nothing is written", file=out)
    for item in plan.playlists:
        print(f"  {item.action:<7} {_headline(item)}", file=out)
        for sign, tracks in (
            ("+", item.tracks_added),
            ("-", item.tracks_removed),
            ("~", item.tracks_moved),
        ):
            _print_tracks(sign, tracks, out)
    for update in plan.tracks_updated[:_SHOWN_TRACKS]:
        print(
            f"  track   {update.title!r} ({update.provider_id}) gets a new "
            f"{', '.join(update.fields) or 'search key'}",
            file=out,
        )
    if len(plan.tracks_updated) > _SHOWN_TRACKS:
        print(
            f"  ... {len(plan.tracks_updated) - _SHOWN_TRACKS} more tracks get new metadata",
            file=out,
        )
    gone = "delete" if plan.removed_policy == "delete" else "remove"
    print(
        f"  would create {plan.created}, update {plan.updated}, {gone} {plan.removed}, "
        f"touch {plan.touched}; {plan.unchanged} unchanged; {len(plan.tracks_updated)} "
        f"tracks with new metadata; rejected {plan.rejected}",
        file=out,
    )


def _headline(item: PlaylistPlan) -> str:
    where = f"{item.provider}:{item.provider_id}"
    where += f", id {item.playlist_id}" if item.playlist_id is not None else ""
    text = f"{item.name!r} ({where})"
    if item.action == "create":
        return f"{text}: {item.track_count} tracks"
    if item.action == "remove":
        return f"{text}: gone at the source"
    if item.action == "touch":
        return f"{text}: a track it shows gets new metadata"
    notes = []
    if item.previous_name is not None:
        notes.append(f"renamed from {item.previous_name!r}")
    notes += [f"new {field}" for field in item.changed_fields if field != "name"]
    if item.restored:
        notes.append("back at the source")
    if item.track_count is not None:
        moves = (len(item.tracks_added), len(item.tracks_removed), len(item.tracks_moved))
        if any(moves):
            notes.append("+{} -{} ~{} tracks".format(*moves))
        else:
            notes.append("same tracks, new snapshot")
    return f"{text}: {', '.join(notes)}" if notes else text


def _print_tracks(sign: str, tracks: Sequence[PlannedTrack], out: TextIO) -> None:
    for track in tracks[:_SHOWN_TRACKS]:
        if sign == "~":
            where = f"{_pos(track.previous_position)} -> {_pos(track.position)}"
        else:
            where = _pos(track.position if sign == "+" else track.previous_position)
        print(f"          {sign} {where:>8}  {track.title} ({track.provider_id})", file=out)
    if len(tracks) > _SHOWN_TRACKS:
        print(f"          {sign} ... {len(tracks) - _SHOWN_TRACKS} more", file=out)


def _pos(position: int | None) -> str:
    return "?" if position is None else f"#{position + 1}"
