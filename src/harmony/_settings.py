"""Validated settings for a :class:`~harmony.HarmonyContext`."""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import warnings
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic import field_validator, model_validator
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from harmony.errors import ConfigurationError

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ENV_PREFIX",
    "HarmonySettings",
    "ProviderRateLimit",
    "UnknownSettingWarning",
    "parse_database_url",
]

DEFAULT_DATABASE_URL = "sqlite:///harmony.db"
ENV_PREFIX = "HARMONY_"
#: ``HARMONY_*`` variables that belong to harmony's tools, not to its settings: the test
#: suite (``HARMONY_TEST_POSTGRES_URL``), ``scripts/pg.sh`` (``HARMONY_PG_BINDIR``) and
#: the examples (``HARMONY_EXAMPLE_EXPORTS``). :meth:`HarmonySettings.from_env` skips them.
_TOOL_PREFIXES = (ENV_PREFIX + "TEST_", ENV_PREFIX + "PG_", ENV_PREFIX + "EXAMPLE_")


class UnknownSettingWarning(UserWarning):
    """A ``HARMONY_*`` environment variable names no setting; it is ignored."""


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_CREDENTIALS_IN_URL = re.compile(r"^([A-Za-z0-9+.-]+://)?[^@]*@")
_EVENT_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.([a-z][a-z0-9_]*|\*))*$")


def parse_database_url(value: str) -> URL:
    """Parse and normalise a database URL.

    ``sqlite:///path.db`` and ``sqlite://`` (in memory) use the standard library driver;
    ``postgresql://``, ``postgres://`` and ``postgresql+psycopg://`` all use psycopg 3.

    Raises:
        ConfigurationError: the URL is malformed or names an unsupported database.
    """
    try:
        url = make_url(value)
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(
            f"database_url {_describe(value)} is not a valid URL; expected "
            "'sqlite:///path/to/file.db' or 'postgresql+psycopg://user:pass@host:5432/db'"
        ) from exc
    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("pysqlite", ""):
            raise ConfigurationError(
                f"database_url driver 'sqlite+{driver}' is not supported; use 'sqlite:///path.db'"
            )
        return url
    if backend in ("postgresql", "postgres"):
        if url.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
            raise ConfigurationError(
                f"database_url driver {url.drivername!r} is not supported; harmony talks to "
                "PostgreSQL through psycopg 3: use 'postgresql+psycopg://user:pass@host/db'"
            )
        if not url.database:
            raise ConfigurationError(
                "database_url names no PostgreSQL database; expected "
                "'postgresql+psycopg://user:pass@host:5432/dbname'"
            )
        return url.set(drivername="postgresql+psycopg")
    raise ConfigurationError(
        f"database_url backend {backend!r} is not supported; use SQLite "
        "('sqlite:///path.db') or PostgreSQL ('postgresql+psycopg://user:pass@host/db')"
    )


def _describe(value: str) -> str:
    """Describe a URL for a message without leaking a password it may contain."""
    try:
        return repr(make_url(value).render_as_string(hide_password=True))
    except Exception:  # not even parseable: mask everything before the last '@'
        return repr(_CREDENTIALS_IN_URL.sub(lambda m: (m.group(1) or "") + "***@", value))


class ProviderRateLimit(BaseModel):
    """A provider's request budget (see :class:`harmony.providers.RateBudget`):
    ``requests_per_second`` on average, up to ``burst`` at once after a quiet spell, and at
    most ``max_concurrency`` in flight (``None``: no cap)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_second: float = Field(gt=0, le=1e6, allow_inf_nan=False)
    burst: int = Field(default=1, ge=1, le=1_000_000)
    max_concurrency: int | None = Field(default=None, ge=1, le=10_000)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except PydanticValidationError as exc:
            raise ConfigurationError(
                _format_validation_error(exc).replace(
                    "invalid harmony settings", "invalid rate limit"
                )
            ) from None


class HarmonySettings(BaseModel):
    """Everything a context needs to know, validated once at construction.

    Build it directly, with :meth:`from_env` (``HARMONY_*`` variables), or let
    :meth:`HarmonyContext.from_url` do it. Invalid values raise
    :class:`~harmony.errors.ConfigurationError` naming the field and the expected form.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    # storage
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///file.db (default) or postgresql+psycopg://...",
        repr=False,
    )
    database_schema: str | None = Field(
        default=None,
        description="PostgreSQL schema holding harmony's tables (created by migrate()).",
    )
    pool_size: int = Field(default=5, ge=1, le=1000, description="PostgreSQL pool size.")
    max_overflow: int = Field(default=10, ge=0, le=1000, description="Extra pooled connections.")
    pool_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds to wait for a pooled connection.",
    )
    pool_recycle: int = Field(
        default=1800,
        ge=-1,
        le=7 * 86400,
        description="Recycle connections older than this (s); -1 never.",
    )
    connect_timeout: int = Field(
        default=10, ge=1, le=600, description="Seconds to wait when connecting to PostgreSQL."
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=0, le=3_600_000, description="SQLite busy timeout in milliseconds."
    )
    application_name: str = Field(
        default="harmony",
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Reported to PostgreSQL as application_name (visible in pg_stat_activity).",
    )
    echo_sql: bool = Field(default=False, description="Log every SQL statement (debugging).")

    # events
    activity_events: tuple[str, ...] = Field(
        default=("db.migrate", "credentials.*", "sync.run"),
        description="Event names (or 'family.*' patterns) persisted into activity_events.",
    )

    # scheduler (used by the job queue)
    scheduler_poll_interval: float = Field(
        default=0.5,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds between polls when work is flowing.",
    )
    scheduler_max_poll_interval: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Upper bound of the idle poll back-off.",
    )
    scheduler_backoff_multiplier: float = Field(
        default=2.0, ge=1.0, le=100, allow_inf_nan=False, description="Idle poll back-off factor."
    )
    scheduler_visibility_timeout: float = Field(
        default=60.0,
        gt=0,
        le=10_000_000,
        allow_inf_nan=False,
        description="Default lease length in seconds.",
    )
    scheduler_type_weights: dict[str, float] = Field(
        default_factory=dict, description="Per job type priority weights."
    )
    job_payload_max_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=268_435_456,
        description="Largest job payload or result accepted, in bytes of JSON (UTF-8).",
    )

    # credentials
    credentials_key: SecretStr | None = Field(
        default=None,
        repr=False,
        description="Fernet key(s) that encrypt stored credentials; comma-separated, newest first.",
    )

    # sync
    sync_removed_policy: Literal["mark", "delete"] = Field(
        default="mark", description="What a sync does with playlists gone from the provider."
    )

    # providers
    provider_rate_limits: dict[str, ProviderRateLimit] = Field(
        default_factory=dict,
        description="Request budgets by provider name, for ctx.rate_budget(name).",
    )

    # cache
    cache_enabled: bool = Field(default=True, description="Build a ResponseCache for the context.")
    cache_max_entries: int = Field(
        default=4096, ge=1, le=10_000_000, description="LRU bound of the response cache."
    )
    cache_ttl_seconds: float = Field(
        default=300.0,
        gt=0,
        le=31_536_000,
        allow_inf_nan=False,
        description="Time to live of cache entries.",
    )
    change_feed_retention: int = Field(
        default=10_000,
        ge=100,
        le=10_000_000,
        description="Change-feed entries kept; a cache further behind drops everything.",
    )
    listen_for_changes: bool = Field(
        default=True,
        description="Follow other processes' commits (PostgreSQL LISTEN, SQLite data_version) to wake idle workers and tell host invalidators.",
    )
    sqlite_watch_interval: float = Field(
        default=0.05,
        gt=0,
        le=10,
        description="Seconds between SQLite data_version polls of the change follower and idle workers.",
    )

    # diagnostics
    diagnostics_disk_path: str = Field(
        default="/",
        min_length=1,
        description="File system path whose disk usage ctx.system.stats() reports.",
    )

    # search
    search_max_limit: int = Field(
        default=100, ge=1, le=10_000, description="Cap on search result limits."
    )
    matching_duration_tolerance_ms: int = Field(
        default=2000,
        ge=0,
        le=60_000,
        description="Largest duration gap (ms) of two tracks ctx.matching pairs automatically.",
    )

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        try:
            parse_database_url(value)
        except ConfigurationError as exc:
            raise ValueError(str(exc).removeprefix("database_url ")) from None
        return value

    @field_validator("database_schema")
    @classmethod
    def _check_schema(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.match(value):
            raise ValueError(
                "must be a plain lowercase SQL identifier (a-z, 0-9, underscore; not "
                "starting with a digit; at most 63 characters), e.g. 'harmony'"
            )
        return value

    @field_validator("scheduler_type_weights")
    @classmethod
    def _check_weights(cls, value: dict[str, float]) -> dict[str, float]:
        for job_type, weight in value.items():
            if not math.isfinite(weight) or not 0 <= weight <= 1_000_000:
                raise ValueError(
                    f"the weight of {job_type!r} must be a finite number from 0 to 1000000, "
                    f"got {weight!r}"
                )
        return value

    @field_validator("activity_events")
    @classmethod
    def _check_event_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if not _EVENT_PATTERN.match(pattern):
                raise ValueError(
                    f"{pattern!r} is not an event name or 'family.*' pattern "
                    "(lowercase dotted words, e.g. 'sync.run' or 'credentials.*')"
                )
        return value

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except PydanticValidationError as exc:
            raise ConfigurationError(_format_validation_error(exc)) from None

    @model_validator(mode="after")
    def _check_combinations(self) -> HarmonySettings:
        if self.database_schema is not None and self.backend != "postgresql":
            raise ValueError(
                "database_schema is only supported on PostgreSQL; remove it for SQLite URLs"
            )
        if self.scheduler_max_poll_interval < self.scheduler_poll_interval:
            raise ValueError(
                "scheduler_max_poll_interval must be >= scheduler_poll_interval "
                f"(got {self.scheduler_max_poll_interval} < {self.scheduler_poll_interval})"
            )
        return self

    @property
    def url(self) -> URL:
        """The parsed, normalised database URL."""
        return parse_database_url(self.database_url)

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.url.get_backend_name()

    @property
    def safe_database_url(self) -> str:
        """The database URL with any password masked, for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    def __repr_args__(self) -> Any:
        yield "database_url", self.safe_database_url
        yield from super().__repr_args__()

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> HarmonySettings:
        """Build settings from ``HARMONY_<FIELD>`` variables (``os.environ`` by default).

        ``HARMONY_DATABASE_URL=postgresql+psycopg://...`` sets ``database_url``; list and
        mapping fields take JSON (``HARMONY_ACTIVITY_EVENTS='["sync.*"]'``) and a list
        field also a comma-separated string. Keyword ``overrides`` win over the environment.

        A ``HARMONY_*`` name that is no setting is ignored with an
        :class:`UnknownSettingWarning` naming the closest setting, so a typo is not silent
        and a variable meant for another tool never stops an application from starting.
        Python's default warning filter shows each such warning once per call site.
        ``HARMONY_TEST_*``, ``HARMONY_PG_*`` and ``HARMONY_EXAMPLE_*`` belong to harmony's
        tools and are skipped without a warning.
        """
        env = os.environ if environ is None else environ
        fields = cls.model_fields
        data: dict[str, Any] = {}
        for key, raw in sorted(env.items()):
            if not key.startswith(ENV_PREFIX) or key.startswith(_TOOL_PREFIXES):
                continue
            name = key[len(ENV_PREFIX) :].lower()
            if name not in fields:
                warnings.warn(UnknownSettingWarning(_unknown_variable(key, name)), stacklevel=2)
                continue
            data[name] = _env_value(key, name, raw)
        data.update(overrides)
        return cls(**data)


def _unknown_variable(key: str, name: str) -> str:
    close = difflib.get_close_matches(name, list(HarmonySettings.model_fields), n=1, cutoff=0.6)
    hint = (
        f"did you mean {ENV_PREFIX}{close[0].upper()}?"
        if close
        else "the settings are listed in docs/configuration.md"
    )
    return f"environment variable {key} is not a harmony setting and is ignored; {hint}"


def _env_value(key: str, name: str, raw: str) -> Any:
    if name == "scheduler_type_weights":
        try:
            return json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"{key} must be a JSON object such as '{{\"playlist.sync\": 2.0}}'"
            ) from exc
    if name == "provider_rate_limits":
        try:
            return json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"{key} must be a JSON object such as "
                '\'{"spotify": {"requests_per_second": 5, "burst": 10, "max_concurrency": 4}}\''
            ) from exc
    if name == "activity_events":
        text = raw.strip()
        if text.startswith("["):
            try:
                return tuple(json.loads(text))
            except json.JSONDecodeError as exc:
                raise ConfigurationError(
                    f"{key} must be a JSON list or a comma-separated list of event names"
                ) from exc
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if name in ("database_schema", "credentials_key") and not raw.strip():
        return None
    return raw


def _format_validation_error(exc: PydanticValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in error["loc"])
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if error["type"] == "extra_forbidden":
            message = "is not a harmony setting (check the spelling)"
        parts.append(f"{field}: {message}" if field else message)
    return "invalid harmony settings: " + "; ".join(parts)
