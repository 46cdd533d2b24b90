"""Playlist reads refuse bad ids, cursors and limits with clear errors, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from harmony import HarmonyContext, InvalidInputError, NotFoundError
from harmony.testing import InMemoryProvider


class _Index:
    """An integer-like value, as numpy integers are (``__index__``)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


@pytest.fixture
def ctx(harmony_context: HarmonyContext) -> HarmonyContext:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [{"id": "t1", "title": "One", "artists": ["X"]}])
    with HarmonyContext(harmony_context.settings, providers={"m": provider}) as synced:
        synced.sync.run_once()
    return harmony_context


def test_integer_like_ids_and_limits_are_accepted(ctx: HarmonyContext) -> None:
    first = ctx.playlists.list_page(limit=_Index(5))[0]  # type: ignore[arg-type]
    assert ctx.playlists.get(_Index(first.id)).name == "A"  # type: ignore[arg-type]
    assert len(ctx.search.tracks("one", limit=_Index(3), offset=_Index(0)).items) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, True, 1.0, "1", None])
def test_bad_playlist_ids_are_invalid_input(ctx: HarmonyContext, bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="positive integers"):
        ctx.playlists.get(bad)


def test_ids_beyond_64_bits_are_simply_not_found(ctx: HarmonyContext) -> None:
    with pytest.raises(NotFoundError):
        ctx.playlists.get(2**63)
    with pytest.raises(NotFoundError):
        ctx.playlists.repository.get(2**70)


@pytest.mark.parametrize("cursor", ["9" * 19, "0", "²", "١", "-1", "1.5", "", "abc"])
def test_bad_cursors_are_invalid_input(ctx: HarmonyContext, cursor: str) -> None:
    with pytest.raises(InvalidInputError, match="next_cursor of a previous page"):
        ctx.playlists.list_page(cursor=cursor)


@pytest.mark.parametrize("limit", [0, 501, True, 2.0])
def test_bad_limits_are_invalid_input(ctx: HarmonyContext, limit: Any) -> None:
    with pytest.raises(InvalidInputError, match="limit must be an integer from 1 to 500"):
        ctx.playlists.list_page(limit=limit)


def test_a_provider_filter_with_a_nul_character_is_invalid_on_both_backends(
    ctx: HarmonyContext,
) -> None:
    with pytest.raises(InvalidInputError, match="provider must be a provider name"):
        ctx.playlists.list_page(provider="a\x00b")
