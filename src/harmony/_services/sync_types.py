"""Values shared by sync runs and sync plans."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["REPORTED_REJECTIONS", "RejectedItem"]

#: Rejections kept in a report or plan (all are counted, and a sync emits each as an event).
REPORTED_REJECTIONS = 100


class RejectedItem(BaseModel):
    """A provider item a sync skipped, and why."""

    model_config = ConfigDict(frozen=True)

    provider: str
    kind: Literal["playlist", "track"]
    item_id: str | None
    reason: str
    playlist_id: str | None = None
