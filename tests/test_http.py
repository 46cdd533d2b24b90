"""harmony.http: error statuses and bodies, entity-tags, HTTP-dates, conditional requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

import harmony
import harmony.errors
from harmony import HarmonyError, SyncReport
from harmony.errors import (
    ContextClosed,
    DatabaseError,
    InvalidInputError,
    MissingExtraError,
    NotFoundError,
    SchemaDriftError,
    SyncFailed,
    UnknownProviderError,
)
from harmony.http import (
    ERROR_STATUS,
    INTERNAL_ERROR_TYPE,
    EntityTag,
    ErrorBody,
    Preconditions,
    check_conditional,
    error_body,
    format_http_date,
    parse_entity_tags,
    parse_http_date,
    status_for,
)
from tests.http_support import CASES, Case, harmony_error_classes, make_error

LAST_MODIFIED = datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)
WHOLE_SECOND = LAST_MODIFIED.replace(microsecond=0)
ETAG = '"v2-abc"'


# -- errors ---------------------------------------------------------------------------------


def test_every_harmony_error_class_has_a_status_of_its_own() -> None:
    classes = harmony_error_classes()
    assert set(harmony.errors.__all__) <= {cls.__name__ for cls in classes}
    missing = [cls.__qualname__ for cls in classes if cls not in ERROR_STATUS]
    assert missing == [], "add these to harmony.http.ERROR_STATUS"
    for cls in classes:
        assert status_for(make_error(cls)) == ERROR_STATUS[cls]
        assert 400 <= ERROR_STATUS[cls] <= 599


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("no playlist with id 7"), 404),
        (InvalidInputError("limit must be >= 1"), 400),
        (UnknownProviderError("no provider named 'x'"), 400),  # not ProviderError's 502
        (SyncFailed("spotify failed", SyncReport()), 502),
        (ContextClosed("this HarmonyContext is closed"), 503),
        (HarmonyError("harmony is not running"), 503),
        (MissingExtraError("needs psycopg"), 500),
        (RuntimeError("anything else"), 500),
    ],
)
def test_status_for_picks_the_class_entry_before_its_bases(error: Exception, status: int) -> None:
    assert status_for(error) == status


def test_a_sync_failed_by_the_database_alone_answers_503() -> None:
    try:
        cause = DatabaseError("disk full")
        raise SyncFailed("sync failed for x: disk full", SyncReport()) from cause
    except SyncFailed as failed:
        assert status_for(failed) == 503
    try:
        raise SyncFailed("sync failed for x: 500", SyncReport()) from RuntimeError("upstream")
    except SyncFailed as failed:
        assert status_for(failed) == 502


def test_a_host_subclass_gets_the_status_of_its_nearest_base() -> None:
    class PlaylistLocked(NotFoundError):
        pass

    assert status_for(PlaylistLocked("locked")) == 404


def test_error_bodies_share_one_shape() -> None:
    body = error_body(NotFoundError("no playlist with id 7"))
    assert body == {"error": {"type": "NotFoundError", "message": "no playlist with id 7"}}
    ErrorBody.model_validate(body)

    failed = error_body(SyncFailed("spotify failed", SyncReport(created=2)))
    assert failed["error"]["type"] == "SyncFailed"
    assert failed["error"]["report"]["created"] == 2
    ErrorBody.model_validate(failed)

    assert error_body(HarmonyError()) == {
        "error": {"type": "HarmonyError", "message": "HarmonyError"}
    }
    assert error_body(SchemaDriftError("drift", ["x"]))["error"]["message"] == "drift"


def test_unexpected_errors_never_show_their_text() -> None:
    body = error_body(RuntimeError("password=hunter2"))
    assert body == {"error": {"type": INTERNAL_ERROR_TYPE, "message": "internal server error"}}


# -- entity-tags and dates ------------------------------------------------------------------


def test_entity_tags_compare_strongly_and_weakly() -> None:
    strong, weak = EntityTag.parse('"a"'), EntityTag.parse('W/"a"')
    assert strong == EntityTag("a") and weak == EntityTag("a", weak=True)
    assert strong.strong_match(EntityTag("a")) and not strong.strong_match(weak)
    assert not weak.strong_match(weak)  # RFC 9110 8.8.3.2: weak tags never match strongly
    assert strong.weak_match(weak) and weak.weak_match(weak)
    assert not strong.weak_match(EntityTag("b"))
    assert str(weak) == 'W/"a"'
    for not_a_tag in ("a", '"a b"', 'w/"a"', '"a', ""):
        assert EntityTag.parse(not_a_tag) is None, not_a_tag


def test_entity_tag_lists_parse_per_rfc_9110() -> None:
    assert parse_entity_tags(" * ") == "*"
    assert parse_entity_tags('"a", W/"b",,"c,d"') == [
        EntityTag("a"),
        EntityTag("b", weak=True),
        EntityTag("c,d"),
    ]
    assert parse_entity_tags('junk, "a", "b" trailing, "c"') == [EntityTag("a"), EntityTag("c")]
    assert parse_entity_tags('"a", *') == [EntityTag("a")]
    assert parse_entity_tags("") == []


def test_http_dates_in_all_three_forms() -> None:
    expected = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == expected
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == expected
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == expected
    assert format_http_date(expected) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert format_http_date(expected.astimezone(timezone(timedelta(hours=2)))) == (
        "Sun, 06 Nov 1994 08:49:37 GMT"
    )


def test_two_digit_years_more_than_50_years_ahead_are_in_the_past() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_http_date("Friday, 01-Jan-79 00:00:00 GMT", now=now).year == 2079  # type: ignore[union-attr]
    assert parse_http_date("Friday, 01-Jan-81 00:00:00 GMT", now=now).year == 1981  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "yesterday",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "sun, 06 nov 1994 08:49:37 gmt",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:49:60 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "1994-11-06T08:49:37Z",
    ],
)
def test_anything_else_is_no_http_date(value: str) -> None:
    assert parse_http_date(value) is None


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="no time zone"):
        format_http_date(datetime(2024, 1, 1))
    with pytest.raises(InvalidInputError, match="no time zone"):
        check_conditional(Preconditions(), etag=ETAG, last_modified=datetime(2024, 1, 1))


def test_an_unquoted_etag_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="not an entity-tag"):
        check_conditional(Preconditions(), etag="abc")


# -- conditional requests -------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_conditional_get_answers_what_rfc_9110_requires(case: Case) -> None:
    headers = case.headers(ETAG, WHOLE_SECOND)
    result = check_conditional(
        Preconditions.from_headers(headers_as_asgi(headers)),
        etag=ETAG,
        last_modified=LAST_MODIFIED,
    )
    assert result.status == case.status


def headers_as_asgi(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


def test_a_200_carries_every_validator_and_a_304_only_what_rfc_9110_asks() -> None:
    fresh = check_conditional(Preconditions(), etag=ETAG, last_modified=LAST_MODIFIED)
    assert fresh.headers == {
        "ETag": ETAG,
        "Cache-Control": "no-cache",
        "Last-Modified": "Wed, 01 May 2024 12:00:00 GMT",
    }
    cached = check_conditional(
        Preconditions(if_none_match=ETAG), etag=ETAG, last_modified=LAST_MODIFIED
    )
    assert (cached.status, dict(cached.headers)) == (
        304,
        {"ETag": ETAG, "Cache-Control": "no-cache"},
    )
    # Without an ETag, Last-Modified is what lets a cache update its entry.
    by_date = check_conditional(
        Preconditions(if_modified_since="Wed, 01 May 2024 12:00:00 GMT"),
        etag=None,
        last_modified=LAST_MODIFIED,
        cache_control=None,
    )
    assert (by_date.status, dict(by_date.headers)) == (
        304,
        {"Last-Modified": "Wed, 01 May 2024 12:00:00 GMT"},
    )


def test_without_last_modified_dates_decide_nothing() -> None:
    for preconditions in (
        Preconditions(if_modified_since="Wed, 01 May 2024 12:00:00 GMT"),
        Preconditions(if_unmodified_since="Mon, 01 Jan 1990 00:00:00 GMT"),
    ):
        assert check_conditional(preconditions, etag=ETAG).status == 200


def test_unsafe_methods_get_412_where_get_gets_304() -> None:
    matching = Preconditions(if_none_match=ETAG)
    assert check_conditional(matching, etag=ETAG, method="HEAD").status == 304
    assert check_conditional(matching, etag=ETAG, method="PUT").status == 412
    # If-Modified-Since applies to GET and HEAD only.
    dated = Preconditions(if_modified_since="Wed, 01 May 2024 12:00:00 GMT")
    assert (
        check_conditional(dated, etag=ETAG, last_modified=LAST_MODIFIED, method="POST").status
        == 200
    )


def test_a_weak_current_etag_still_answers_if_none_match() -> None:
    weak = 'W/"v1"'
    assert check_conditional(Preconditions(if_none_match='"v1"'), etag=weak).status == 304
    assert check_conditional(Preconditions(if_match='"v1"'), etag=weak).status == 412
    assert check_conditional(Preconditions(if_match="*"), etag=None).status == 200


def test_preconditions_read_every_kind_of_header_source() -> None:
    class Getlist:
        def getlist(self, key: str) -> list[str]:
            return {"if-none-match": ['"a"', '"b"']}.get(key.lower(), [])

    assert Preconditions.from_headers(Getlist()).if_none_match == '"a", "b"'
    mapping = Preconditions.from_headers({"If-Match": '"x"', "IF-MODIFIED-SINCE": "d"})
    assert (mapping.if_match, mapping.if_modified_since, mapping.if_none_match) == (
        '"x"',
        "d",
        None,
    )
    raw = Preconditions.from_headers(
        [(b"if-unmodified-since", b"d1"), (b"If-Unmodified-Since", b"d2")]
    )
    assert raw.if_unmodified_since == "d1, d2"
