"""HarmonySettings: defaults, validation errors that name the field, from_env, no leaks."""

from __future__ import annotations

import warnings

import pytest

from harmony import ConfigurationError, HarmonySettings, UnknownSettingWarning


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
        ({"HARMONY_POOL_SIZE": "many"}, "pool_size"),
        ({"HARMONY_SCHEDULER_TYPE_WEIGHTS": "{nope"}, "HARMONY_SCHEDULER_TYPE_WEIGHTS"),
        ({"HARMONY_CACHE_ENABLED": "perhaps"}, "cache_enabled"),
    ],
)
def test_from_env_rejects_malformed_variables(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        HarmonySettings.from_env(environ)


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("HARMONY_POOL_SIZ", "did you mean HARMONY_POOL_SIZE?"),
        ("HARMONY_DATABASE_ULR", "did you mean HARMONY_DATABASE_URL?"),
        ("HARMONY_NOTEBOOK_DB", "the settings are listed in docs/configuration.md"),
    ],
)
def test_from_env_warns_about_unknown_variables_and_ignores_them(variable: str, hint: str) -> None:
    with pytest.warns(UnknownSettingWarning) as caught:
        settings = HarmonySettings.from_env({variable: "3", "HARMONY_POOL_SIZE": "7"})
    assert settings.pool_size == 7
    assert [str(w.message) for w in caught] == [
        f"environment variable {variable} is not a harmony setting and is ignored; {hint}"
    ]
    assert caught[0].filename == __file__  # points at the caller, not at harmony


@pytest.mark.parametrize(
    "variable", ["HARMONY_TEST_POSTGRES_URL", "HARMONY_PG_BINDIR", "HARMONY_EXAMPLE_EXPORTS"]
)
def test_from_env_skips_the_variables_of_harmonys_tools_silently(variable: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert HarmonySettings.from_env({variable: "x"}) == HarmonySettings()


def test_an_unknown_variable_is_reported_once_per_call_site() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            HarmonySettings.from_env({"HARMONY_POOL_SIZ": "3"})
    assert len(caught) == 1
