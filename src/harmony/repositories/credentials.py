"""Provider credentials, stored in ``settings`` and handed out only as secrets."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from pydantic import SecretStr

from harmony.clock import Clock
from harmony.db.engine import Database
from harmony.errors import CredentialsError
from harmony.events.base import EventLogger
from harmony.providers.registry import PROVIDER_NAME
from harmony.repositories.settings import (
    delete_setting,
    get_setting,
    keys_with_prefix,
    upsert_setting,
)

__all__ = ["PROVIDER_NAME", "CredentialStore", "ProviderCredentials"]

_PREFIX = "credentials:"
_PROVIDER = PROVIDER_NAME
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_MAX_VALUE = 16_384


class ProviderCredentials(Mapping[str, SecretStr]):
    """A provider's credentials: a read-only mapping of names to :class:`~pydantic.SecretStr`.

    ``repr``/``str`` show the key names only; call :meth:`reveal` (or
    ``creds["token"].get_secret_value()``) where the clear value is really needed.
    """

    __slots__ = ("_values", "provider")

    def __init__(self, provider: str, values: Mapping[str, str]) -> None:
        self.provider = provider
        self._values: Mapping[str, SecretStr] = MappingProxyType(
            {k: SecretStr(v) for k, v in values.items()}
        )

    def __getitem__(self, key: str) -> SecretStr:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def reveal(self, key: str) -> str:
        """The clear value of ``key``: for handing to a provider client, never for logging."""
        return self._values[key].get_secret_value()

    def __repr__(self) -> str:
        return f"ProviderCredentials(provider={self.provider!r}, keys={sorted(self._values)!r})"

    __str__ = __repr__


class CredentialStore:
    """``ctx.credentials``: set, get and clear provider credentials.

    Values are stored in the ``settings`` table flagged as secret and come back as
    :class:`ProviderCredentials`. Events name the provider and the key names only.
    """

    def __init__(
        self, db: Database, clock: Clock, events: EventLogger,
        on_change: Callable[[str], object] | None = None,
    ) -> None:  # fmt: skip
        self._db = db
        self._clock = clock
        self._events = events
        #: Called with the provider name after a set or clear committed (cache invalidation).
        self._on_change = on_change

    def __repr__(self) -> str:
        return f"CredentialStore({self._db!r})"

    def set(self, provider: str, /, **values: str | SecretStr) -> ProviderCredentials:
        """Store (replace) ``provider``'s credentials, e.g. ``set("spotify", client_id=..., client_secret=...)``.

        Raises:
            CredentialsError: bad provider name, no values, a bad key name, or a value that
                is not a non-empty string. The message never contains a value; nothing is
                written.
        """
        _check_provider(provider)
        if not values:
            raise CredentialsError(
                f"no credentials given for provider {provider!r}; pass them as keywords, "
                "e.g. set('spotify', client_id='...', client_secret='...')"
            )
        clear: dict[str, str] = {}
        for key, value in values.items():
            if not _KEY.fullmatch(key):
                raise CredentialsError(
                    f"credential name {key!r} for provider {provider!r} is invalid; use an "
                    "identifier such as 'client_secret'"
                )
            secret = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not isinstance(secret, str) or not secret or len(secret) > _MAX_VALUE:
                raise CredentialsError(
                    f"credential {key!r} for provider {provider!r} must be a non-empty string "
                    f"of at most {_MAX_VALUE} characters (got {type(secret).__name__}); the "
                    "value is not shown"
                )
            clear[key] = secret
        with self._db.transaction() as tx:
            upsert_setting(
                tx, _PREFIX + provider, {"values": clear}, is_secret=True, now=self._clock.now()
            )
        self._changed(provider)
        self._events.emit(
            "credentials.set",
            provider=provider,
            status="ok",
            key_count=len(clear),
            meta={"keys": sorted(clear)},
        )
        return ProviderCredentials(provider, clear)

    def get(self, provider: str) -> ProviderCredentials | None:
        """``provider``'s credentials, or ``None`` when none are stored. Read on every call."""
        _check_provider(provider)
        with self._db.read() as session:
            stored = get_setting(session, _PREFIX + provider)
        if stored is None:
            return None
        return ProviderCredentials(provider, _values(stored))

    def clear(self, provider: str) -> bool:
        """Remove ``provider``'s credentials; whether any were stored."""
        _check_provider(provider)
        with self._db.transaction() as tx:
            removed = delete_setting(tx, _PREFIX + provider)
        self._changed(provider)
        self._events.emit(
            "credentials.clear", provider=provider, status="cleared" if removed else "absent"
        )
        return removed

    def _changed(self, provider: str) -> None:
        if self._on_change is not None:
            self._on_change(provider)

    def providers(self) -> list[str]:
        """Providers that have credentials stored, sorted."""
        with self._db.read() as session:
            keys = keys_with_prefix(session, _PREFIX)
        return [key[len(_PREFIX) :] for key in keys]


def _values(stored: Mapping[str, Any]) -> dict[str, str]:
    values = stored.get("values", {})
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, Mapping) else {}


def _check_provider(provider: Any) -> None:
    if not isinstance(provider, str) or not _PROVIDER.fullmatch(provider):
        raise CredentialsError(
            f"provider name {provider!r:.80} is invalid; use a lowercase name such as 'spotify'"
        )
