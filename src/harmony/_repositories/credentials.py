"""Provider credentials, stored in ``settings`` and handed out only as secrets."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError

from harmony._clock import Clock
from harmony._db.engine import Database
from harmony._events.base import EventLogger
from harmony._repositories.settings import (
    delete_setting,
    get_setting,
    keys_with_prefix,
    upsert_setting,
)
from harmony._validation import check_text
from harmony.errors import (
    ConfigurationError,
    ContextClosed,
    CredentialsError,
    DatabaseError,
    DatabaseUnavailable,
    HarmonyError,
)
from harmony.providers.registry import PROVIDER_NAME

__all__ = ["PROVIDER_NAME", "CredentialStore", "ProviderCredentials"]

_PREFIX = "credentials:"
_PROVIDER = PROVIDER_NAME
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_MAX_VALUE = 16_384
_log = logging.getLogger("harmony.credentials")
_T = TypeVar("_T")


class _Cipher(Protocol):
    """What the store needs of ``cryptography.fernet.MultiFernet``."""

    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, token: bytes) -> bytes: ...

    def rotate(self, token: bytes) -> bytes: ...


def _cipher(key: SecretStr | None) -> _Cipher | None:
    """A MultiFernet of the comma-separated keys (newest first), or ``None`` without keys."""
    if key is None:
        return None
    keys = [part.strip() for part in key.get_secret_value().split(",") if part.strip()]
    if not keys:
        return None
    try:
        from cryptography.fernet import Fernet, MultiFernet
    except ImportError as exc:
        raise ConfigurationError(
            "credentials_key is set, but encrypting credentials needs the cryptography "
            "package: pip install 'harmony[crypto]'"
        ) from exc
    fernets = []
    for number, value in enumerate(keys, 1):
        try:
            fernets.append(Fernet(value))
        except (ValueError, TypeError):
            raise ConfigurationError(
                f"credentials_key: key {number} of {len(keys)} is not a Fernet key (32 "
                "url-safe base64-encoded bytes, as Fernet.generate_key() makes); the key is "
                "not shown"
            ) from None
    return MultiFernet(fernets)


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
    :class:`ProviderCredentials`. Events name the provider and the key names only. With
    ``key`` (the ``credentials_key`` setting: one or more Fernet keys, comma-separated,
    newest first) values are stored encrypted with the newest key and read with any of
    them; :meth:`rotate_key` re-encrypts every row with the newest. Without a key they are
    stored in clear text, and the store logs a warning saying so once.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventLogger,
        on_change: Callable[[str], object] | None = None,
        *,
        key: SecretStr | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        #: Called with the provider name after a set or clear committed (cache invalidation).
        self._on_change = on_change
        self._cipher = _cipher(key)
        self._warned_clear = False

    @property
    def encrypted(self) -> bool:
        """Whether values are stored encrypted (a ``credentials_key`` is configured)."""
        return self._cipher is not None

    def __repr__(self) -> str:
        return f"CredentialStore({self._db!r})"

    def set(self, provider: str, /, **values: str | SecretStr) -> ProviderCredentials:
        """Store (replace) ``provider``'s credentials, e.g. ``set("spotify", client_id=..., client_secret=...)``.

        Raises:
            CredentialsError: bad provider name, no values, a bad key name, or a value that
                is not a non-empty string of at most 16,384 characters that every backend
                can store (no NUL characters, no lone surrogates). The message never
                contains a value; nothing is written.
            DatabaseError: the database failed; the error carries neither the statement
                nor its values (no chained driver exception).
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
            check_text(
                f"credential {key!r} for provider {provider!r}",
                secret,
                max_length=_MAX_VALUE,
                secret=True,
                error=CredentialsError,
            )
            clear[key] = secret
        stored = self._seal(provider, clear)

        def store() -> None:
            with self._db.transaction() as tx:
                upsert_setting(
                    tx, _PREFIX + provider, stored, is_secret=True, now=self._clock.now()
                )

        _no_leaks("store", provider, store)
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

        def read() -> dict[str, Any] | None:
            with self._db.read() as session:
                return get_setting(session, _PREFIX + provider)

        stored = _no_leaks("read", provider, read)
        if stored is None:
            return None
        return ProviderCredentials(provider, self._open(provider, stored))

    def clear(self, provider: str) -> bool:
        """Remove ``provider``'s credentials; whether any were stored."""
        _check_provider(provider)

        def remove() -> bool:
            with self._db.transaction() as tx:
                return delete_setting(tx, _PREFIX + provider)

        removed = _no_leaks("remove", provider, remove)
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

    def rotate_key(self) -> int:
        """Re-encrypt every stored credential with the newest configured key (clear-text
        rows get encrypted too); return how many providers' rows were rewritten.

        Rotation: put the new key first in ``credentials_key`` (keep the old ones after
        it), call this once, then drop the old keys.

        Raises:
            ConfigurationError: no ``credentials_key`` is configured.
            CredentialsError: a row none of the keys can decrypt.
        """
        cipher = self._cipher
        if cipher is None:
            raise ConfigurationError("rotate_key() needs the credentials_key setting")

        def rewrite() -> int:
            rewritten = 0
            with self._db.transaction() as tx:
                for key in keys_with_prefix(tx, _PREFIX):
                    stored = get_setting(tx, key) or {}
                    provider = key[len(_PREFIX) :]
                    if isinstance(stored.get("encrypted"), str):
                        token = self._rotate(provider, cipher, stored["encrypted"])
                    else:
                        token = cipher.encrypt(json.dumps(_values(stored)).encode()).decode()
                    upsert_setting(
                        tx, key, {"encrypted": token}, is_secret=True, now=self._clock.now()
                    )
                    rewritten += 1
            return rewritten

        return _no_leaks("re-encrypt", "every provider", rewrite)

    # -- sealing ---------------------------------------------------------------------------

    def _seal(self, provider: str, clear: dict[str, str]) -> dict[str, Any]:
        if self._cipher is None:
            if not self._warned_clear:
                self._warned_clear = True
                _log.warning(
                    "harmony stores the credentials of %r in clear text (no credentials_key "
                    "setting): anyone who can read the database or a backup can read them; "
                    "see docs/security.md",
                    provider,
                )
            return {"values": clear}
        return {"encrypted": self._cipher.encrypt(json.dumps(clear).encode()).decode()}

    def _open(self, provider: str, stored: Mapping[str, Any]) -> dict[str, str]:
        token = stored.get("encrypted")
        if not isinstance(token, str):
            return _values(stored)
        cipher = self._cipher
        if cipher is None:
            raise CredentialsError(
                f"the credentials of {provider!r} are stored encrypted; configure the "
                "credentials_key setting (the key they were stored with) to read them"
            )
        opened = _attempt(lambda: _values({"values": json.loads(cipher.decrypt(token.encode()))}))
        if opened is not None:
            return opened
        raise CredentialsError(
            f"the credentials of {provider!r} cannot be decrypted with any configured "
            "credentials_key (a key was dropped before rotate_key() ran, or the row is damaged)"
        )

    def _rotate(self, provider: str, cipher: _Cipher, token: str) -> str:
        rotated = _attempt(lambda: cipher.rotate(token.encode()).decode())
        if rotated is not None:
            return rotated
        raise CredentialsError(
            f"the credentials of {provider!r} cannot be decrypted with any configured "
            "credentials_key; nothing was re-encrypted"
        )


def _attempt(call: Callable[[], _T]) -> _T | None:
    """``call()``, or ``None`` when it raises (``InvalidToken``: no key fits, or a damaged
    row). The caller raises its own error outside any ``except`` block, so nothing of the
    token or the key is chained to it."""
    try:
        return call()
    except Exception:  # see above: reported by the caller as a CredentialsError
        return None


def _no_leaks(action: str, provider: str, call: Callable[[], _T]) -> _T:
    """``call()``, with a database failure turned into a :class:`DatabaseError` that chains
    nothing: the driver's exception quotes the statement and, for values the database
    refused, the values themselves (PostgreSQL: ``CONTEXT: JSON data ...``)."""
    try:
        return call()
    except (CredentialsError, ContextClosed):  # neither quotes a value
        raise
    except (HarmonyError, SQLAlchemyError) as exc:
        failure = _withheld(action, provider, exc)
    # Raised outside the except block: no __cause__, no __context__, nothing of the driver's.
    raise failure


def _withheld(action: str, provider: str, exc: BaseException) -> DatabaseError:
    if isinstance(exc, HarmonyError) and exc.__cause__ is None and exc.__context__ is None:
        return DatabaseError(f"could not {action} the credentials of {provider!r}: {exc}")
    unavailable = isinstance(exc, DatabaseUnavailable)
    kind = DatabaseUnavailable if unavailable else DatabaseError
    return kind(
        f"could not {action} the credentials of {provider!r}: the database "
        f"{'is unreachable' if unavailable else 'refused the operation'} ({type(exc).__name__}; "
        "its details are withheld because they may quote the values)"
    )


def _values(stored: Mapping[str, Any]) -> dict[str, str]:
    values = stored.get("values", {})
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, Mapping) else {}


def _check_provider(provider: Any) -> None:
    if not isinstance(provider, str) or not _PROVIDER.fullmatch(provider):
        raise CredentialsError(
            f"provider name {provider!r:.80} is invalid; use a lowercase name such as 'spotify'"
        )
