"""Secrets: validated before the database sees them, withheld from database errors,
encrypted at rest with a configured key (Fernet, with rotation)."""

from __future__ import annotations

import logging
import traceback

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from harmony import HarmonyContext
from harmony._db.models import SettingRow
from harmony.errors import ConfigurationError, CredentialsError, DatabaseError
from harmony.testing.pytest_plugin import ContextFactory

SECRET = "refuse-me-s3cr3t-value"


def _refuse_secret_values(ctx: HarmonyContext) -> None:
    """Make the database itself refuse the row, quoting it in its error (as PostgreSQL's
    CHECK violation DETAIL and CONTEXT lines do)."""
    with ctx.db.write() as conn:
        if ctx.db.backend == "postgresql":
            conn.execute(
                text(
                    "ALTER TABLE settings ADD CONSTRAINT no_refused CHECK (value::text NOT LIKE '%refuse-me%')"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER no_refused BEFORE INSERT ON settings "
                    "WHEN NEW.value LIKE '%refuse-me%' "
                    "BEGIN SELECT RAISE(ABORT, 'row refused by no_refused'); END"
                )
            )


def _stored_rows(ctx: HarmonyContext) -> list[str]:
    with ctx.db.connect() as conn:
        return [str(value) for value in conn.execute(select(SettingRow.value)).scalars()]


def test_a_database_refusal_of_a_credential_never_shows_the_secret(
    harmony_context_factory: ContextFactory,
) -> None:
    ctx = harmony_context_factory()
    _refuse_secret_values(ctx)
    with pytest.raises(DatabaseError) as caught:
        ctx.credentials.set("spotify", client_id="id", client_secret=SECRET)
    shown = "".join(traceback.format_exception(caught.value))
    assert "refuse-me" not in shown and SECRET not in shown
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert "spotify" in str(caught.value)
    assert ctx.credentials.get("spotify") is None


@pytest.mark.parametrize(
    "value", ["nul\x00inside", "lone \udce9 surrogate"], ids=["nul", "surrogate"]
)
def test_an_unstorable_credential_is_refused_before_the_database_sees_it(
    harmony_context_factory: ContextFactory, value: str
) -> None:
    ctx = harmony_context_factory()
    ctx.credentials.set("spotify", client_id="old")
    with pytest.raises(CredentialsError) as caught:
        ctx.credentials.set("spotify", client_id="id", client_secret=value)
    shown = "".join(traceback.format_exception(caught.value))
    assert value not in shown and "inside" not in shown and "\udce9" not in shown
    stored = ctx.credentials.get("spotify")
    assert stored is not None and stored.reveal("client_id") == "old"


def test_credentials_are_encrypted_at_rest_and_read_back_with_the_key(
    harmony_context_factory: ContextFactory,
) -> None:
    key = Fernet.generate_key().decode()
    ctx = harmony_context_factory(settings={"credentials_key": key})
    assert ctx.credentials.encrypted
    ctx.credentials.set("spotify", client_id="id", client_secret=SECRET)
    assert all(SECRET not in row and "client_secret" not in row for row in _stored_rows(ctx))
    stored = ctx.credentials.get("spotify")
    assert stored is not None and stored.reveal("client_secret") == SECRET
    assert key not in repr(ctx.settings) and key not in str(ctx.settings) and key not in repr(ctx)


def test_key_rotation_re_encrypts_every_row_with_the_newest_key(
    harmony_settings_factory: object,
) -> None:
    from harmony.testing.pytest_plugin import SettingsFactory

    assert callable(harmony_settings_factory)
    factory: SettingsFactory = harmony_settings_factory  # type: ignore[assignment]
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    base = factory()
    url, schema = base.database_url, base.database_schema

    def context(key: str | None) -> HarmonyContext:
        return HarmonyContext.from_url(
            url, settings={"database_schema": schema, "credentials_key": key}
        )

    with context(None) as clear:
        clear.migrate()
        clear.credentials.set("plain", token="clear-value")  # stored before a key existed
    with context(old) as first:
        first.credentials.set("spotify", client_secret=SECRET)
    with context(f"{new},{old}") as both:
        assert both.credentials.get("spotify").reveal("client_secret") == SECRET  # type: ignore[union-attr]
        assert both.credentials.rotate_key() == 2
        assert all("clear-value" not in row for row in _stored_rows(both))
    with context(new) as only_new:
        assert only_new.credentials.get("spotify").reveal("client_secret") == SECRET  # type: ignore[union-attr]
        assert only_new.credentials.get("plain").reveal("token") == "clear-value"  # type: ignore[union-attr]
    with context(old) as only_old:
        with pytest.raises(CredentialsError, match="cannot be decrypted") as caught:
            only_old.credentials.get("spotify")
        assert SECRET not in "".join(traceback.format_exception(caught.value))
    with context(None) as no_key, pytest.raises(CredentialsError, match="credentials_key"):
        no_key.credentials.get("spotify")


def test_a_malformed_key_is_refused_without_showing_it(
    harmony_context_factory: ContextFactory,
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        harmony_context_factory(settings={"credentials_key": "not-a-fernet-key"})
    assert "not-a-fernet-key" not in str(caught.value)


def test_clear_text_storage_is_announced_once(
    harmony_context_factory: ContextFactory, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = harmony_context_factory()
    caplog.set_level(logging.WARNING, logger="harmony.credentials")
    ctx.credentials.set("spotify", client_secret=SECRET)
    ctx.credentials.set("other", client_secret=SECRET)
    warnings = [r for r in caplog.records if r.name == "harmony.credentials"]
    assert len(warnings) == 1 and "clear text" in warnings[0].getMessage()
    assert SECRET not in warnings[0].getMessage()
