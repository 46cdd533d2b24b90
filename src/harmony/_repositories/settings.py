"""Key/value rows of the ``settings`` table, with one upsert per dialect, and
``ctx.options`` (:class:`OptionStore`) over its non-secret rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from harmony._clock import Clock
from harmony._db.engine import Database
from harmony._db.models import SettingRow
from harmony._validation import check_json, check_text
from harmony.errors import InvalidInputError

__all__ = ["OptionStore", "delete_setting", "get_setting", "keys_with_prefix", "upsert_setting"]


def upsert_setting(
    session: Session, key: str, value: dict[str, Any], *, is_secret: bool, now: datetime
) -> None:
    """Insert or replace one row (``INSERT ... ON CONFLICT (key) DO UPDATE`` on both dialects)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(SettingRow).values(key=key, value=value, is_secret=is_secret, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SettingRow.key],
        set_={
            "value": stmt.excluded.value,
            "is_secret": stmt.excluded.is_secret,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    session.execute(stmt)


def get_setting(session: Session, key: str) -> dict[str, Any] | None:
    """The stored value of ``key``, or ``None``."""
    return session.execute(select(SettingRow.value).where(SettingRow.key == key)).scalar()


def delete_setting(session: Session, key: str) -> bool:
    """Delete ``key``; whether a row was removed."""
    result = session.execute(delete(SettingRow).where(SettingRow.key == key))
    return bool(getattr(result, "rowcount", 0))


def keys_with_prefix(session: Session, prefix: str) -> list[str]:
    """Stored keys starting with ``prefix``, sorted."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = (
        select(SettingRow.key)
        .where(SettingRow.key.like(escaped + "%", escape="\\"))
        .order_by(SettingRow.key)
    )
    return list(session.execute(stmt).scalars())


#: Rows of the credential store: never read or written as options.
_SECRET_PREFIX = "credentials:"


class OptionStore:
    """``ctx.options``: non-secret key/value rows of the ``settings`` table (JSON objects),
    such as the sources the CLI remembers (``sources.<name>``).

    Keys are 1-255 characters; the credential store's rows (``credentials:*``) are not
    options and are refused.
    """

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def __repr__(self) -> str:
        return f"OptionStore({self._db!r})"

    def get(self, key: str) -> dict[str, Any] | None:
        """The value stored under ``key``, or ``None``."""
        _check_key(key)
        with self._db.read() as session:
            value = get_setting(session, key)
        return None if value is None else dict(value)

    def set(self, key: str, value: Mapping[str, Any]) -> None:
        """Store ``value`` (a JSON object) under ``key``, replacing what was there.

        Raises:
            InvalidInputError: a bad key, or a value that is not a storable JSON object.
        """
        _check_key(key)
        if not isinstance(value, Mapping):
            raise InvalidInputError(
                f"option {key!r} must be a JSON object, got {type(value).__name__}"
            )
        check_json(f"option {key!r}", value)
        with self._db.transaction() as session:
            upsert_setting(session, key, dict(value), is_secret=False, now=self._clock.now())

    def delete(self, key: str) -> bool:
        """Delete ``key``; whether it existed."""
        _check_key(key)
        with self._db.transaction() as session:
            return delete_setting(session, key)

    def with_prefix(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Every option whose key starts with ``prefix``, by key, in key order."""
        if not isinstance(prefix, str) or len(prefix) > 255:
            raise InvalidInputError(
                f"an option key prefix is a string of up to 255 characters, got {prefix!r:.80}"
            )
        with self._db.read() as session:
            keys = [
                k for k in keys_with_prefix(session, prefix) if not k.startswith(_SECRET_PREFIX)
            ]
            return {key: dict(get_setting(session, key) or {}) for key in keys}


def _check_key(key: Any) -> None:
    check_text("option key", key, max_length=255)
    if key.startswith(_SECRET_PREFIX):
        raise InvalidInputError(
            f"option key {key!r:.80} belongs to the credential store; use ctx.credentials"
        )
