"""ctx.providers: status straight from the credential store, cache entries dropped on change."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from harmony import (
    ConfigurationError,
    HarmonyContext,
    HarmonySettings,
    InvalidInputError,
)
from harmony._cache import provider_status_key, provider_tag
from harmony.providers.sample import sample_provider
from harmony.testing import RecordingEventLogger

SECRET = "s3cr3t-Value-71"


@pytest.fixture
def ctx(
    harmony_settings: HarmonySettings, harmony_events: RecordingEventLogger
) -> Iterator[HarmonyContext]:
    with HarmonyContext(
        harmony_settings, events=harmony_events, providers={"sample": sample_provider()}
    ) as context:
        context.migrate()
        yield context


def test_status_follows_credential_changes_on_the_very_next_call(ctx: HarmonyContext) -> None:
    assert not ctx.providers.status("spotify").configured
    ctx.credentials.set("spotify", client_id="id", client_secret=SECRET)
    app_only = ctx.providers.status("spotify")
    assert (app_only.configured, app_only.credentials_present, app_only.pro_features) == (
        True,
        True,
        False,
    )
    assert app_only.credential_keys == ("client_id", "client_secret")
    ctx.credentials.set("spotify", access_token=SECRET)
    assert ctx.providers.status("spotify").pro_features
    ctx.credentials.set("spotify", client_id="id")  # replaces: not enough on its own
    assert not ctx.providers.status("spotify").configured
    ctx.credentials.clear("spotify")
    cleared = ctx.providers.status("spotify")
    assert (cleared.configured, cleared.credentials_present, cleared.credential_keys) == (
        False,
        False,
        (),
    )


def test_cached_status_is_never_served_after_a_credential_change(ctx: HarmonyContext) -> None:
    assert ctx.cache is not None
    before = ctx.providers.cached_status("spotify")
    assert ctx.providers.cached_status("spotify") is not None
    assert provider_status_key("spotify") in ctx.cache
    host_key = "host:GET /providers/spotify"
    ctx.cache.set(host_key, {"configured": False}, tags=[provider_tag("spotify")])
    ctx.credentials.set("spotify", refresh_token=SECRET)  # no cache clearing by the test
    assert host_key not in ctx.cache
    after = ctx.providers.cached_status("spotify")
    assert after.value.configured and after.etag != before.etag
    ctx.credentials.clear("spotify")
    assert not ctx.providers.cached_status("spotify").value.configured
    # Another provider's entries are untouched by spotify's changes.
    other = ctx.providers.cached_status("sample")
    ctx.credentials.set("spotify", access_token=SECRET)
    assert ctx.providers.cached_status("sample").etag == other.etag


def test_registered_providers_are_configured_without_credentials(ctx: HarmonyContext) -> None:
    sample = ctx.providers.status("sample")
    assert (sample.configured, sample.registered, sample.pro_features, sample.search) == (
        True,
        True,
        True,
        False,
    )
    ctx.credentials.set("lastfm", api_key=SECRET)
    assert ctx.providers.status("lastfm").configured  # no rule for it: any credentials do
    assert ctx.providers.names() == ["lastfm", "sample"]


def test_secrets_never_appear_in_status_reprs_events_or_logs(
    ctx: HarmonyContext, harmony_events: RecordingEventLogger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ctx.credentials.set("spotify", client_id="id", client_secret=SECRET, access_token=SECRET)
    status = ctx.providers.status("spotify")
    cached = ctx.providers.cached_status("spotify")
    for text in (
        repr(status),
        str(status),
        status.model_dump_json(),
        repr(cached),
        repr(ctx.providers),
        caplog.text,
        str([e.fields for e in harmony_events]),
    ):
        assert SECRET not in text


def test_a_bad_provider_name_is_a_clear_error(ctx: HarmonyContext) -> None:
    with pytest.raises(InvalidInputError, match="lowercase name"):
        ctx.providers.status("")


def test_cached_status_is_fresh_even_when_another_context_changed_the_credentials(
    ctx: HarmonyContext,
) -> None:
    first = ctx.providers.cached_status("spotify")
    assert ctx.providers.cached_status("spotify").etag == first.etag  # stable while unchanged
    with HarmonyContext(ctx.settings) as other:  # e.g. another process
        other.credentials.set("spotify", access_token=SECRET)
    after = ctx.providers.cached_status("spotify")
    assert after.value.configured and after.etag != first.etag


@pytest.mark.parametrize("name", ["My Mix", "spotify\n", "x" * 64, "-a"])
def test_provider_names_follow_one_rule_everywhere(ctx: HarmonyContext, name: str) -> None:
    with pytest.raises(InvalidInputError, match="lowercase name"):
        ctx.providers.status(name)
    with pytest.raises(InvalidInputError, match="invalid"):
        ctx.credentials.set(name, token=SECRET)
    with pytest.raises(ConfigurationError, match="lowercase name"):
        HarmonyContext(ctx.settings, providers={name: sample_provider()})
