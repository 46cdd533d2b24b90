"""Key/value rows of the ``settings`` table, with one upsert per dialect."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from harmony.db.models import SettingRow

__all__ = ["delete_setting", "get_setting", "keys_with_prefix", "upsert_setting"]


def upsert_setting(
    session: Session, key: str, value: dict[str, Any], *, is_secret: bool, now: datetime
) -> None:
    """Insert or replace one row (``INSERT ... ON CONFLICT (key) DO UPDATE`` on both dialects)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(SettingRow).values(key=key, value=value, is_secret=is_secret, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SettingRow.key],
        set_={"value": stmt.excluded.value, "is_secret": stmt.excluded.is_secret,
              "updated_at": stmt.excluded.updated_at},
    )  # fmt: skip
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
