"""HarmonySettings: defaults, validation errors that name the field, from_env, no leaks."""

from __future__ import annotations

import pytest

from harmony import ConfigurationError, HarmonySettings


def test_defaults_point_at_the_embedded_sqlite_database() -> None:
    settings = HarmonySettings()
    assert settings.database_url == "sqlite:///harmony.db"
    assert settings.backend == "sqlite"
    assert settings.cache_enabled is True


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
        ("sqlite://", "sqlite"),
    ],
)
def test_supported_urls_are_normalised_to_their_driver(url: str, normalised: str) -> None:
    assert HarmonySettings(database_url=url).url.drivername == normalised


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"database_url": "not a url"}, "database_url"),
        ({"database_url": "mysql://u@h/db"}, "mysql"),
        ({"database_url": "postgresql+asyncpg://u@h/db"}, "psycopg"),
        ({"database_url": "postgresql://u@h"}, "names no PostgreSQL database"),
        ({"pool_size": 0}, "pool_size"),
        ({"sqlite_busy_timeout_ms": -1}, "sqlite_busy_timeout_ms"),
        ({"database_schema": "Bad-Name"}, "database_schema"),
        ({"database_schema": "x; drop table y"}, "database_schema"),
        ({"database_schema": "harmony"}, "only supported on PostgreSQL"),
        ({"sync_removed_policy": "shred"}, "sync_removed_policy"),
        ({"activity_events": ("Not An Event",)}, "activity_events"),
        ({"scheduler_poll_interval": 5, "scheduler_max_poll_interval": 1}, "max_poll_interval"),
        ({"pool_sise": 3}, "pool_sise: is not a harmony setting"),
    ],
)
def test_invalid_settings_raise_configuration_error_naming_the_field(
    fields: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        HarmonySettings(**fields)  # type: ignore[arg-type]
    assert named in str(info.value)
    assert isinstance(info.value, ValueError)


def test_settings_are_frozen() -> None:
    settings = HarmonySettings()
    with pytest.raises(Exception):
        settings.pool_size = 3  # type: ignore[misc]


def test_password_in_url_is_masked_in_repr_str_and_errors() -> None:
    settings = HarmonySettings(database_url="postgresql://user:hunter2@db.local/app")
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)
    assert "***" in settings.safe_database_url
    with pytest.raises(ConfigurationError) as info:
        HarmonySettings(database_url="postgresql://user:hunter2@db.local:notaport/app")
    assert "hunter2" not in str(info.value)


def test_from_env_reads_harmony_variables_and_converts_types() -> None:
    settings = HarmonySettings.from_env(
        {
            "HARMONY_DATABASE_URL": "postgresql://u@h/db",
            "HARMONY_DATABASE_SCHEMA": "music",
            "HARMONY_POOL_SIZE": "7",
            "HARMONY_CACHE_ENABLED": "false",
            "HARMONY_ACTIVITY_EVENTS": "sync.*, db.migrate",
            "HARMONY_SCHEDULER_TYPE_WEIGHTS": '{"playlist.sync": 2.5}',
            "HARMONY_TEST_POSTGRES_URL": "ignored: test harness variable",
            "OTHER": "ignored",
        }
    )
    assert settings.database_schema == "music"
    assert settings.pool_size == 7
    assert settings.cache_enabled is False
    assert settings.activity_events == ("sync.*", "db.migrate")
    assert settings.scheduler_type_weights == {"playlist.sync": 2.5}


def test_from_env_keyword_overrides_win_over_the_environment() -> None:
    settings = HarmonySettings.from_env({"HARMONY_POOL_SIZE": "7"}, pool_size=9)
    assert settings.pool_size == 9


def test_from_env_activity_events_accepts_a_json_list() -> None:
    settings = HarmonySettings.from_env({"HARMONY_ACTIVITY_EVENTS": '["a.b", "c.*"]'})
    assert settings.activity_events == ("a.b", "c.*")


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"HARMONY_POOL_SIZ": "3"}, "HARMONY_POOL_SIZ"),
        ({"HARMONY_POOL_SIZE": "many"}, "pool_size"),
        ({"HARMONY_SCHEDULER_TYPE_WEIGHTS": "{nope"}, "HARMONY_SCHEDULER_TYPE_WEIGHTS"),
        ({"HARMONY_CACHE_ENABLED": "perhaps"}, "cache_enabled"),
    ],
)
def test_from_env_rejects_unknown_or_malformed_variables(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        HarmonySettings.from_env(environ)
