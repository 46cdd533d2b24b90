"""What matching compares a track by: its normalised keys (pure functions, no dependencies).

* ``isrc``: the ISRC in canonical form (``us-rc1-76-07839`` -> ``USRC17607839``), or
  ``None`` when missing or not shaped like an ISRC (two letters, three letters or digits,
  seven digits).
* ``title``: the title normalised (:func:`harmony._textnorm.normalize`: case, accents,
  punctuation) without its featured-artist credit and without the parts that describe the
  recording rather than name the song (``- Remastered 2011``, ``(Live)``, ``(Radio
  Edit)``, ``- Mono``, ...).
* ``artists``: every credited artist, normalised, a leading "the" dropped: the provider's
  artist list, each entry split at ``;``, ``/`` and ``feat.``/``ft.``/``featuring`` (tags
  of local files often hold "A; B" or "A feat. B" in one field), then the artists named
  in the title's credit. The first is the *primary* artist.
* ``tags``: the edition tags that make a different recording (``live``, ``acoustic``,
  ``remix``, ``demo``, ``instrumental``) mentioned in the title or album; ``remaster`` is
  not among them (a remaster is the same performance) but kept apart (``remaster``), so
  that of an original and its remaster the one marked like the source is preferred.
* ``numbers``: the numbers in the title (``Part 2``, ``Symphony No. 5``): two titles with
  different numbers name different pieces, however similar the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harmony._textnorm import EDITION_TAGS, normalize, tags_of_words

__all__ = ["KeyMaker", "MatchKey", "canonical_isrc", "match_key", "split_artists"]

_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
#: The credit of a title, its names captured: "(feat. X & Y)", "- ft. X", "featuring X".
_CREDIT = re.compile(
    r"\s*(?:[\(\[]\s*(?:feat\.?|ft\.?|featuring|with)\s+(?P<inner>[^\)\]]*)[\)\]]"
    r"|[-–]?\s*\b(?:feat\.?|ft\.?|featuring)\s+(?P<tail>.*)$)",
    re.IGNORECASE,
)
#: Separators inside one artist field.
_ARTIST_SPLIT = re.compile(r"\s*(?:;|/|\bfeat\.?\s|\bft\.?\s|\bfeaturing\s)\s*", re.IGNORECASE)
#: Separators between the names of a title's credit ("feat. X, Y & Z").
_CREDIT_SPLIT = re.compile(r"\s*(?:,|&|\band\b|\bx\b)\s*", re.IGNORECASE)
#: A "- ..." tail or a bracketed part of a title.
_SUFFIX = re.compile(r"\s+[-–]\s+[^-–]*$|\s*[\(\[][^\)\]]*[\)\]]")
#: Words that make a title part describe the recording rather than name the song.
_VERSION_WORDS = frozenset().union(*EDITION_TAGS.values()) | frozenset(
    [
        "version",
        "versions",
        "edit",
        "mix",
        "mixed",
        "mono",
        "stereo",
        "single",
        "radio",
        "album",
        "bonus",
        "track",
        "deluxe",
        "explicit",
        "clean",
        "original",
        "extended",
        "take",
        "session",
        "sessions",
        "recording",
        "recorded",
        "anniversary",
        "edition",
        "reissue",
        "digital",
        "re",
        "master",
        "mastered",
    ]
)
#: Tags that make a different recording (a remaster is the same performance).
_RECORDING_TAGS = frozenset(EDITION_TAGS) - {"remaster"}
_NUMBER = re.compile(r"\d+")
#: Characters without which a title has no suffix part (see _SUFFIX).
_SUFFIX_MARKS = ("-", "–", "(", "[")


@dataclass(frozen=True, slots=True)
class MatchKey:
    """A track's matching keys (see the module docstring)."""

    isrc: str | None
    title: str
    artists: tuple[str, ...]
    tags: frozenset[str]
    numbers: tuple[str, ...]
    duration_ms: int | None
    remaster: bool = False

    @property
    def artist(self) -> str:
        """The primary artist, ``""`` when none is credited."""
        return self.artists[0] if self.artists else ""


def canonical_isrc(value: str | None) -> str | None:
    """``value`` as a canonical ISRC (upper case, no separators), or ``None``."""
    if not value:
        return None
    code = (value if value.isalnum() else _NOT_ALNUM.sub("", value)).upper()
    return code if _ISRC.fullmatch(code) else None


def split_artists(artists: Iterable[str]) -> list[str]:
    """Normalised artist names, split at ``;``, ``/`` and featured-artist words."""
    names: list[str] = []
    for field in artists:
        for part in _ARTIST_SPLIT.split(field):
            name = _artist_name(part)
            if name and name not in names:
                names.append(name)
    return names


def _artist_name(text: str) -> str:
    name = normalize(text)
    return name[4:] if name.startswith("the ") and len(name) > 4 else name


def _credited(title: str) -> tuple[str, list[str]]:
    """The title without its credit, and the names in the credit."""
    if title.isascii():  # (IGNORECASE also matches a few non-ASCII letters, e.g. "ı")
        lowered = title.lower()
        if "ft" not in lowered and "feat" not in lowered and "with" not in lowered:
            return title.strip() or title, []
    names: list[str] = []

    def collect(match: re.Match[str]) -> str:
        inner = match.group("inner") if match.group("inner") is not None else match.group("tail")
        names.extend(_CREDIT_SPLIT.split(inner or ""))
        return ""

    stripped = _CREDIT.sub(collect, title).strip()
    return (stripped or title), names


def _drop_version_part(match: re.Match[str]) -> str:
    words = set(normalize(match.group(0)).split())
    return "" if words & _VERSION_WORDS else match.group(0)


def match_key(
    title: str,
    artists: Sequence[str],
    album: str | None,
    isrc: str | None,
    duration_ms: int | None,
) -> MatchKey:
    """The :class:`MatchKey` of one track."""
    return KeyMaker().key(title, artists, album, isrc, duration_ms)


class KeyMaker:
    """Computes :class:`MatchKey` values, remembering the artist lists and albums it has
    seen: a catalogue names the same artists and albums over and over, so keying a
    million tracks normalises each of them once."""

    def __init__(self, memory: int = 200_000) -> None:
        self._memory = memory
        self._artists: dict[tuple[str, ...], list[str]] = {}
        self._albums: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        return f"KeyMaker(artists={len(self._artists)}, albums={len(self._albums)})"

    def key(
        self,
        title: str,
        artists: Sequence[str],
        album: str | None,
        isrc: str | None,
        duration_ms: int | None,
    ) -> MatchKey:
        """The :class:`MatchKey` of one track."""
        plain, featured = _credited(title)
        if any(mark in plain for mark in _SUFFIX_MARKS):
            core = _SUFFIX.sub(_drop_version_part, plain).strip() or plain
        else:
            core = plain.strip() or plain
        full = normalize(title)
        title_key = (normalize(core) if core != title else full) or full
        names = list(self._names(tuple(artists)))
        for name in split_artists(featured):
            if name not in names:
                names.append(name)
        words = full.split() + (self._album_words(album) if album else [])
        tags = tags_of_words(words)
        return MatchKey(
            isrc=canonical_isrc(isrc),
            title=title_key,
            artists=tuple(names),
            tags=tags & _RECORDING_TAGS,
            numbers=tuple(_NUMBER.findall(title_key)),
            duration_ms=duration_ms,
            remaster="remaster" in tags,
        )

    def _names(self, artists: tuple[str, ...]) -> list[str]:
        found = self._artists.get(artists)
        if found is None:
            found = split_artists(artists)
            if len(self._artists) >= self._memory:
                self._artists.clear()
            self._artists[artists] = found
        return found

    def _album_words(self, album: str) -> list[str]:
        found = self._albums.get(album)
        if found is None:
            found = normalize(album).split()
            if len(self._albums) >= self._memory:
                self._albums.clear()
            self._albums[album] = found
        return found
