"""ctx.credentials: set, get, clear and list providers; secrets never leave in clear."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from pydantic import SecretStr

from harmony import HarmonyContext, ProviderCredentials
from harmony.errors import CredentialsError
from harmony.testing import ManualClock, RecordingEventLogger
from harmony.testing.pytest_plugin import SettingsFactory

SECRET = "s3cr3t-Zebra-Quokka-7f41c9"


def _exception_text(exc: BaseException) -> str:
    """str and repr of an exception and of every exception chained to it."""
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    return caplog.text + "\n".join(repr(vars(r)) for r in caplog.records)


def _activity_text(ctx: HarmonyContext) -> str:
    return "\n".join(json.dumps(e.to_dict()) + repr(e) for e in ctx.activity.iter())


# --- set / get / clear / providers ----------------------------------------------------


def test_set_then_get_returns_the_values_as_secrets(harmony_context: HarmonyContext) -> None:
    harmony_context.credentials.set("spotify", client_id="id-1", client_secret="secret-1")
    creds = harmony_context.credentials.get("spotify")
    assert isinstance(creds, ProviderCredentials)
    assert creds.provider == "spotify"
    assert sorted(creds) == ["client_id", "client_secret"]
    assert isinstance(creds["client_secret"], SecretStr)
    assert creds.reveal("client_secret") == "secret-1"
    assert creds["client_id"].get_secret_value() == "id-1"


def test_get_of_a_provider_without_credentials_is_none(harmony_context: HarmonyContext) -> None:
    assert harmony_context.credentials.get("spotify") is None


def test_set_accepts_secret_str_values(harmony_context: HarmonyContext) -> None:
    harmony_context.credentials.set("spotify", token=SecretStr("wrapped"))
    creds = harmony_context.credentials.get("spotify")
    assert creds is not None and creds.reveal("token") == "wrapped"


def test_set_replaces_all_previous_values(harmony_context: HarmonyContext) -> None:
    harmony_context.credentials.set("spotify", client_id="old-id", client_secret="old")
    harmony_context.credentials.set("spotify", token="new")
    creds = harmony_context.credentials.get("spotify")
    assert creds is not None
    assert {k: creds.reveal(k) for k in creds} == {"token": "new"}


def test_set_emits_key_names_and_count(
    harmony_context: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    harmony_context.credentials.set("spotify", client_secret="x", client_id="y")
    (event,) = harmony_events.named("credentials.set")
    assert dict(event.fields) == {
        "provider": "spotify",
        "status": "ok",
        "key_count": 2,
        "meta": {"keys": ["client_id", "client_secret"]},
    }


def test_providers_lists_providers_with_credentials_sorted(
    harmony_context: HarmonyContext,
) -> None:
    for name in ("tidal", "apple-music", "my_provider", "spotify", "x.y"):
        harmony_context.credentials.set(name, token="t")
    harmony_context.credentials.clear("tidal")
    assert harmony_context.credentials.providers() == [
        "apple-music",
        "my_provider",
        "spotify",
        "x.y",
    ]


def test_providers_is_empty_without_credentials(harmony_context: HarmonyContext) -> None:
    assert harmony_context.credentials.providers() == []


def test_clear_removes_only_that_provider(harmony_context: HarmonyContext) -> None:
    harmony_context.credentials.set("spotify", token="a")
    harmony_context.credentials.set("tidal", token="b")
    assert harmony_context.credentials.clear("spotify") is True
    assert harmony_context.credentials.get("spotify") is None
    tidal = harmony_context.credentials.get("tidal")
    assert tidal is not None and tidal.reveal("token") == "b"


def test_clear_reports_cleared_then_absent(
    harmony_context: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    harmony_context.credentials.set("spotify", token="a")
    assert harmony_context.credentials.clear("spotify") is True
    assert harmony_context.credentials.clear("spotify") is False
    assert [(e["provider"], e["status"]) for e in harmony_events.named("credentials.clear")] == [
        ("spotify", "cleared"),
        ("spotify", "absent"),
    ]


def test_credential_changes_are_stored_in_the_activity_log(
    harmony_context: HarmonyContext,
) -> None:
    harmony_context.credentials.set("spotify", token="a")
    harmony_context.credentials.clear("spotify")
    stored = [
        (e.type, e.status, dict(e.details))
        for e in harmony_context.activity.list()
        if e.type.startswith("credentials.")
    ]
    assert stored == [
        ("credentials.clear", "cleared", {"provider": "spotify"}),
        (
            "credentials.set",
            "ok",
            {"provider": "spotify", "key_count": 1, "meta": {"keys": ["token"]}},
        ),
    ]


# --- secrets never appear -------------------------------------------------------------


def test_reprs_events_and_activity_never_show_the_secret(
    harmony_context: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    stored = harmony_context.credentials.set("spotify", client_secret=SECRET)
    fetched = harmony_context.credentials.get("spotify")
    assert fetched is not None
    harmony_context.credentials.clear("spotify")
    texts = [
        repr(stored),
        str(stored),
        repr(fetched),
        str(fetched),
        repr(fetched["client_secret"]),
        str(fetched["client_secret"]),
        repr(dict(fetched)),
        repr(harmony_context.credentials),
        "\n".join(repr(e) for e in harmony_events.events),
        _activity_text(harmony_context),
    ]
    assert len(harmony_events) == 2  # the events were really captured
    assert [t for t in texts if SECRET in t] == []
    assert fetched.reveal("client_secret") == SECRET


def test_log_output_never_shows_the_secret(
    harmony_settings_factory: SettingsFactory,
    harmony_clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="harmony")
    with HarmonyContext(harmony_settings_factory(), clock=harmony_clock) as ctx:  # logging events
        ctx.migrate()
        ctx.credentials.set("spotify", client_secret=SECRET)
        creds = ctx.credentials.get("spotify")
        logging.getLogger("harmony.test").debug("got %s / %r", creds, creds)
        ctx.credentials.clear("spotify")
        activity = _activity_text(ctx)
    assert "credentials.set" in [r.getMessage() for r in caplog.records]
    assert SECRET not in _log_text(caplog)
    assert SECRET not in activity


def test_sql_echo_never_shows_the_secret(
    harmony_settings_factory: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with HarmonyContext(harmony_settings_factory(echo_sql=True)) as ctx:
        ctx.migrate()
        ctx.credentials.set("x", pw="Qz9-Kw")  # short: SQLAlchemy truncates long parameters
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    assert "Qz9-Kw" not in _log_text(caplog)


@pytest.mark.parametrize(
    "values",
    [
        {"bad-key": SECRET},
        {"1key": SECRET},
        {"ok_key": SECRET, "k" * 65: SECRET},
        {"token": [SECRET]},
        {"token": {"nested": SECRET}},
        {"token": SECRET.encode()},
        {"token": SECRET * 1000},
        {"token": 12345, "other": SECRET},
    ],
    ids=["dash-key", "digit-key", "long-key", "list", "dict", "bytes", "too-long", "int"],
)
def test_error_messages_never_show_the_secret(
    harmony_context: HarmonyContext, values: dict[str, Any]
) -> None:
    with pytest.raises(CredentialsError) as info:
        harmony_context.credentials.set("spotify", **values)
    assert SECRET not in _exception_text(info.value)


def test_bad_provider_error_never_shows_the_secret(harmony_context: HarmonyContext) -> None:
    with pytest.raises(CredentialsError) as info:
        harmony_context.credentials.set("Bad Provider", token=SECRET)
    assert SECRET not in _exception_text(info.value)


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider", ["", "Spotify", "1spotify", "spo tify", "a" * 64, "-x", None, 42]
)
@pytest.mark.parametrize("operation", ["set", "get", "clear"])
def test_invalid_provider_name_is_rejected(
    harmony_context: HarmonyContext, provider: Any, operation: str
) -> None:
    method = getattr(harmony_context.credentials, operation)
    args = {"token": "t"} if operation == "set" else {}
    with pytest.raises(CredentialsError, match="provider name"):
        method(provider, **args)
    assert harmony_context.credentials.providers() == []


@pytest.mark.parametrize(
    "values",
    [{}, {"token": ""}, {"token": SecretStr("")}, {"bad-key": "v"}, {"token": 1}, {"token": None}],
    ids=["no-values", "empty", "empty-secret", "bad-key", "int", "none"],
)
def test_bad_input_is_rejected_and_keeps_previous_credentials(
    harmony_context: HarmonyContext,
    harmony_events: RecordingEventLogger,
    values: dict[str, Any],
) -> None:
    harmony_context.credentials.set("spotify", token="original")
    harmony_events.clear()
    rows_before = len(harmony_context.activity.list(limit=1000))
    with pytest.raises(CredentialsError):
        harmony_context.credentials.set("spotify", **values)
    creds = harmony_context.credentials.get("spotify")
    assert creds is not None and {k: creds.reveal(k) for k in creds} == {"token": "original"}
    assert harmony_events.events == []
    assert len(harmony_context.activity.list(limit=1000)) == rows_before


def test_a_bad_value_after_good_ones_writes_none_of_them(
    harmony_context: HarmonyContext,
) -> None:
    with pytest.raises(CredentialsError, match="'second'"):
        harmony_context.credentials.set("spotify", first="fine", second="")
    assert harmony_context.credentials.get("spotify") is None
