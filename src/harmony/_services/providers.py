"""``ctx.providers``: the status of each provider, computed fresh on every call."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from harmony._cache.keys import provider_status_key, provider_tag, strong_etag
from harmony._cache.response_cache import CacheEntry, ResponseCache
from harmony._clock import Clock
from harmony._repositories.credentials import PROVIDER_NAME, CredentialStore
from harmony.errors import InvalidInputError
from harmony.providers.base import PlaylistProvider, TrackSearchProvider

__all__ = ["ProviderStatus", "ProviderStatusService"]

#: Credential sets that make a provider usable without a registered provider object; any
#: one set suffices. Providers not listed count as configured with any credentials.
_REQUIRED_KEYS: Mapping[str, tuple[frozenset[str], ...]] = {
    "spotify": (
        frozenset({"access_token"}),
        frozenset({"refresh_token"}),
        frozenset({"client_id", "client_secret"}),
    ),
}
#: Keys that mean a user authorised harmony (user-level features: their playlists, ...).
_USER_TOKEN_KEYS = frozenset({"access_token", "refresh_token"})


class ProviderStatus(BaseModel):
    """What harmony can do with a provider right now. Never holds a secret value."""

    model_config = ConfigDict(frozen=True)

    name: str
    #: Usable: a provider object is registered, or the stored credentials suffice.
    configured: bool
    #: A provider object is registered on this context.
    registered: bool
    credentials_present: bool
    #: Names of the stored credential keys (never their values).
    credential_keys: tuple[str, ...]
    #: User-level features (the user's own playlists): a user token is stored, or a
    #: registered provider syncs playlists.
    pro_features: bool
    #: The provider can search its catalogue.
    search: bool
    checked_at: datetime


class ProviderStatusService:
    """Provider status from the credential store, read on every call (never cached).

    Credential changes also drop the ``provider:<name>`` tag from the context's
    :class:`ResponseCache`, so a host that cached a status response (see
    :meth:`cached_status`) cannot serve it after the change.
    """

    def __init__(
        self,
        credentials: CredentialStore,
        providers: Mapping[str, object],
        clock: Clock,
        cache: ResponseCache | None,
    ) -> None:
        self._credentials = credentials
        self._providers = providers
        self._clock = clock
        self._cache = cache

    def __repr__(self) -> str:
        return f"ProviderStatusService(registered={sorted(self._providers)!r})"

    def names(self) -> list[str]:
        """Every provider harmony knows of: registered ones and those with credentials."""
        return sorted(set(self._providers) | set(self._credentials.providers()))

    def status(self, name: str) -> ProviderStatus:
        """The status of ``name``, from the credential store as it is now."""
        if not isinstance(name, str) or not PROVIDER_NAME.fullmatch(name):
            raise InvalidInputError(
                f"provider name {name!r:.80} is invalid; use a lowercase name such as 'spotify'"
            )
        stored = self._credentials.get(name)
        keys = frozenset(stored or ())
        provider = self._providers.get(name)
        registered = provider is not None
        sets = _REQUIRED_KEYS.get(name)
        enough = bool(keys) and (sets is None or any(s <= keys for s in sets))
        return ProviderStatus(
            name=name,
            configured=registered or enough,
            registered=registered,
            credentials_present=bool(keys),
            credential_keys=tuple(sorted(keys)),
            pro_features=bool(keys & _USER_TOKEN_KEYS) or isinstance(provider, PlaylistProvider),
            search=isinstance(provider, TrackSearchProvider),
            checked_at=self._clock.now(),
        )

    def cached_status(self, name: str) -> CacheEntry[ProviderStatus]:
        """The status with a strong ETag, kept in the response cache for HTTP hosts.

        Each call reads the credential store (one small query, as :meth:`status`) and
        returns the cached entry only when it still describes the same status, so its
        ETag is stable while nothing changes and never stale, even when another process
        changed the credentials. Cached under ``provider_status_key(name)`` with tag
        ``provider_tag(name)``.
        """
        status = self.status(name)
        etag = strong_etag("provider-status", status.model_dump(exclude={"checked_at"}))
        if self._cache is None:
            return CacheEntry(status, etag, status.checked_at)
        key = provider_status_key(name)
        cached = self._cache.get(key)
        if cached is not None and cached.etag == etag:
            return cached
        return self._cache.set(
            key, status, etag=etag, last_modified=status.checked_at, tags=(provider_tag(name),)
        )

    def invalidate(self, name: str) -> int:
        """Drop cached responses derived from ``name``'s credentials (called on changes)."""
        return 0 if self._cache is None else self._cache.invalidate_tags(provider_tag(name))
