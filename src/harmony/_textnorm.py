"""Text normalisation for matching track metadata: case, accents, credits, punctuation.

Pure functions with no dependencies, shared by the sync (which stores each track's
normalised ``search_key``) and by search (which normalises queries the same way).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = [
    "EDITION_TAGS",
    "edition_tags",
    "normalize",
    "search_key",
    "strip_credits",
    "strip_edition",
    "tags_of_words",
    "tokens",
    "years",
]

#: Letters NFKD does not decompose into a base letter plus marks.
_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "’": "'",
        "‘": "'",
    }
)
#: "(feat. X)", "[ft. X]", "- feat. X", "featuring X" at the end of a title.
_CREDIT = re.compile(
    r"\s*(?:[\(\[]\s*(?:feat\.?|ft\.?|featuring|with)\s+[^\)\]]*[\)\]]"
    r"|[-–]?\s*\b(?:feat\.?|ft\.?|featuring)\s+.*$)",
    re.IGNORECASE,
)
_CREDIT_WORDS = frozenset({"feat", "ft", "featuring"})
_WORD = re.compile(r"[^\W_]+")
_YEAR = re.compile(r"(?<!\d)(19\d{2}|20\d{2})(?!\d)")
#: Edition markers and the words that signal them.
EDITION_TAGS: dict[str, frozenset[str]] = {
    "live": frozenset({"live", "concert", "unplugged"}),
    "remaster": frozenset({"remaster", "remastered", "remasterizado"}),
    "acoustic": frozenset({"acoustic"}),
    "remix": frozenset({"remix", "rmx"}),
    "demo": frozenset({"demo"}),
    "instrumental": frozenset({"instrumental"}),
}
_MAX_TOKENS = 16
_EDITION_WORDS = frozenset().union(*EDITION_TAGS.values())
_NO_TAGS: frozenset[str] = frozenset()
#: Characters without which a title has no edition suffix (see _EDITION_SUFFIX).
_SUFFIX_MARKS = ("-", "–", "(", "[")
#: A trailing "- ..." part, or a bracketed "(...)"/"[...]" part, of a title.
_EDITION_SUFFIX = re.compile(r"\s+[-–]\s+[^-–]*$|\s*[\(\[][^\)\]]*[\)\]]")


def normalize(text: str) -> str:
    """Lowercase, accents and punctuation removed, whitespace collapsed."""
    if text.isascii():
        # NFKD, the folding table and the combining-mark filter change no ASCII character;
        # skipping them makes normalising a typical title 3-4x faster (search scores every
        # candidate, matching keys a whole catalogue).
        return " ".join(_WORD.findall(text.lower().replace("'", "")))
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD)).casefold()
    letters = "".join(ch for ch in folded if not unicodedata.combining(ch)).replace("'", "")
    return " ".join(_WORD.findall(letters))


def strip_credits(title: str) -> str:
    """A title without its featured-artist credit: ``Song (feat. X)`` -> ``Song``."""
    if title.isascii():  # (IGNORECASE also matches a few non-ASCII letters, e.g. "ı")
        lowered = title.lower()
        if "ft" not in lowered and "feat" not in lowered and "with" not in lowered:
            return title.strip() or title
    stripped = _CREDIT.sub("", title).strip()
    return stripped or title


def strip_edition(title: str) -> str:
    """A title without an edition suffix: ``Song - Live at X``, ``Song (2015 Remaster)``."""
    if not any(mark in title for mark in _SUFFIX_MARKS):
        return title.strip() or title
    stripped = _EDITION_SUFFIX.sub(_drop_if_edition, title).strip()
    return stripped or title


def _drop_if_edition(match: re.Match[str]) -> str:
    words = set(normalize(match.group(0)).split())
    return "" if words & _EDITION_WORDS else match.group(0)


def tokens(text: str) -> list[str]:
    """Normalised words of ``text`` without credit words, first 16 only, duplicates dropped."""
    words = [w for w in normalize(text).split() if w not in _CREDIT_WORDS]
    return list(dict.fromkeys(words))[:_MAX_TOKENS]


def edition_tags(text: str) -> frozenset[str]:
    """The edition tags (``live``, ``remaster``, ...) that ``text`` mentions."""
    return tags_of_words(normalize(text).split())


def tags_of_words(words: Iterable[str]) -> frozenset[str]:
    """The edition tags that already normalised ``words`` mention."""
    found = _EDITION_WORDS.intersection(words)
    if not found:
        return _NO_TAGS
    return frozenset(tag for tag, markers in EDITION_TAGS.items() if found & markers)


def years(text: str) -> list[int]:
    """Four-digit years (1900-2099) mentioned in ``text``."""
    return [int(y) for y in _YEAR.findall(text)]


def search_key(title: str, artists: Iterable[str], album: str | None) -> str:
    """The stored, normalised text a track is found by: title, artists, album."""
    parts = [title, *artists, album or ""]
    return " ".join(p for p in (normalize(part) for part in parts) if p)[:2000]
