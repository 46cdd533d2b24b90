"""Spotify as a playlist and track-search provider, through spotipy.

spotipy sends the requests; harmony owns the retry policy (tenacity): a 429 waits exactly
its ``Retry-After`` seconds, 5xx answers and transport errors back off exponentially, any
other 4xx fails at once with a :class:`~harmony.errors.ProviderError` that says what to do.
Needs the ``spotify`` extra (``pip install 'harmony[spotify]'``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from types import TracebackType
from typing import Any, Literal, Protocol

from pydantic import SecretStr
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from harmony._validation import check_int
from harmony.errors import (
    ConfigurationError,
    CredentialsError,
    InvalidInputError,
    MissingExtraError,
    ProviderError,
    RateLimited,
)
from harmony.providers import _spotify_map as spotify_json
from harmony.providers._spotify_http import BearerAuth, Transient, classify
from harmony.providers.budget import RateBudget

try:
    import requests
    import spotipy  # type: ignore[import-untyped]
    from spotipy.cache_handler import CacheHandler  # type: ignore[import-untyped]
    from spotipy.exceptions import (  # type: ignore[import-untyped]
        SpotifyBaseException,
        SpotifyException,
    )
except ImportError as exc:  # depends on the installed extras; tested in a subprocess
    _missing = (exc.name or "spotipy").partition(".")[0]
    raise MissingExtraError(
        f"the Spotify provider needs {_missing}, which is not installed: "
        "pip install 'harmony[spotify]'"
    ) from exc

__all__ = ["CredentialCacheHandler", "SpotifyProvider"]

_log = logging.getLogger("harmony.providers.spotify")

_AuthKind = Literal["client", "token", "auth_manager"]
_SEARCH_PAGE = 50  # Spotify's largest search page
_SEARCH_MAX_OFFSET = 1000  # Spotify refuses search offsets beyond this


class _Credentials(Protocol):
    """What :class:`CredentialCacheHandler` needs of ``ctx.credentials``."""

    def get(self, provider: str) -> Any: ...

    def set(self, provider: str, /, **values: str) -> Any: ...


class CredentialCacheHandler(CacheHandler):  # type: ignore[misc]
    """A spotipy token cache kept in harmony's credential store, not in a file.

    spotipy's auth managers cache their token in ``.cache`` in the working directory by
    default (a clear-text file next to whatever the process runs in). Pass this instead::

        auth = spotipy.SpotifyOAuth(..., cache_handler=CredentialCacheHandler(ctx.credentials))

    The token is stored as the credentials of ``name`` (default ``"spotify.oauth"``, key
    ``token_info``), so it gets what every credential gets: encryption at rest with a
    ``credentials_key``, no echo in events, logs or reprs.
    """

    def __init__(self, credentials: _Credentials, name: str = "spotify.oauth") -> None:
        self._credentials = credentials
        self.name = name

    def get_cached_token(self) -> dict[str, Any] | None:
        """The cached token info, or ``None`` when none is stored (or it is unreadable)."""
        stored = self._credentials.get(self.name)
        if stored is None or "token_info" not in stored:
            return None
        try:
            token = json.loads(stored.reveal("token_info"))
        except ValueError:
            _log.warning(
                "the cached Spotify token in credentials %r is not JSON; ignoring it", self.name
            )
            return None
        return token if isinstance(token, dict) else None

    def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
        """Store ``token_info`` (replacing the previous one)."""
        self._credentials.set(self.name, token_info=json.dumps(token_info))

    def __repr__(self) -> str:
        return f"CredentialCacheHandler(name={self.name!r})"


class SpotifyProvider:
    """Playlists and track search from the Spotify Web API (implements
    :class:`~harmony.providers.PlaylistProvider` and
    :class:`~harmony.providers.TrackSearchProvider`).

    Give exactly one of ``client`` (a ready ``spotipy.Spotify``, built with ``retries=0,
    status_retries=0`` so that only harmony retries; note that spotipy logs its own
    client's token at DEBUG level), ``token`` (an access token) or ``auth_manager`` (e.g.
    ``spotipy.SpotifyOAuth``, which refreshes tokens). With ``token``/``auth_manager``
    harmony builds the client: ``api_prefix`` points it elsewhere (a
    :class:`~harmony.testing.spotify_server.FakeSpotifyServer`), ``requests_timeout`` is
    in seconds.

    Each API call is tried at most ``max_attempts`` times. A 429 waits its ``Retry-After``
    (a wait longer than ``max_retry_after`` seconds fails at once); 5xx answers, connection
    errors and timeouts wait ``backoff_initial * 2**(n-1)`` seconds, at most ``backoff_max``.
    ``sleep`` does the waiting (inject a recorder in tests). Pages hold
    ``playlist_page_size`` playlists and ``track_page_size`` entries (Spotify documents at
    most 50 for both; older API versions allowed 100 entries).

    A 429 whose ``Retry-After`` exceeds ``max_retry_after`` (or 429s until the tries run
    out) raises :class:`~harmony.errors.RateLimited` with ``retry_after``: a
    ``playlist.sync`` job then runs again at that time instead of failing.
    ``rate_budget`` (a :class:`~harmony.providers.RateBudget`, e.g.
    ``ctx.rate_budget("spotify")``) paces every request, retries included, so the provider
    stays under its limit in the first place; without one requests are not paced.

    ``liked_songs=True`` adds the user's Liked Songs as a playlist with id
    ``"liked-songs"``; ``saved_albums=True`` adds each saved album as a playlist
    ``"album:<album id>"`` (owner: the album's artists). Both need the
    ``user-library-read`` scope.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        token: str | SecretStr | None = None,
        auth_manager: Any = None,
        api_prefix: str | None = None,
        requests_timeout: float = 10.0,
        name: str = "spotify",
        max_attempts: int = 5,
        max_retry_after: float = 60.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        playlist_page_size: int = 50,
        track_page_size: int = 50,
        sleep: Callable[[float], None] = time.sleep,
        rate_budget: RateBudget | None = None,
        liked_songs: bool = False,
        saved_albums: bool = False,
    ) -> None:
        sources: tuple[tuple[_AuthKind, object], ...] = (
            ("client", client),
            ("token", token),
            ("auth_manager", auth_manager),
        )
        given = [kind for kind, value in sources if value is not None]
        if len(given) != 1:
            raise ConfigurationError(
                "SpotifyProvider needs exactly one of client=, token= or auth_manager=; "
                f"got {', '.join(given) or 'none'}"
            )
        max_attempts = check_int(
            "max_attempts", max_attempts, low=1, high=100, error=ConfigurationError
        )
        playlist_page_size = check_int(
            "playlist_page_size", playlist_page_size, low=1, high=50, error=ConfigurationError
        )
        track_page_size = check_int(
            "track_page_size", track_page_size, low=1, high=100, error=ConfigurationError
        )
        for field, value in (
            ("max_retry_after", max_retry_after),
            ("backoff_initial", backoff_initial),
            ("backoff_max", backoff_max),
            ("requests_timeout", requests_timeout),
        ):
            low = 0.0 if field != "requests_timeout" else 1e-3  # requests refuses a 0 timeout
            if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
                raise ConfigurationError(f"{field} must be a number >= {low:g}, got {value!r}")

        self.name = name
        self._max_attempts = max_attempts
        self._max_retry_after = float(max_retry_after)
        self._backoff = wait_exponential(multiplier=backoff_initial, max=backoff_max)
        self._playlist_page_size = playlist_page_size
        self._track_page_size = track_page_size
        self._sleep = sleep
        if rate_budget is not None and not isinstance(rate_budget, RateBudget):
            raise ConfigurationError(
                f"rate_budget must be a harmony RateBudget (or None), got {type(rate_budget).__name__}"
            )
        self.rate_budget = rate_budget
        self.liked_songs = bool(liked_songs)
        self.saved_albums = bool(saved_albums)
        self._session: requests.Session | None = None
        self._auth_kind = given[0]
        if client is not None:
            if api_prefix is not None:
                raise ConfigurationError(
                    "api_prefix= applies only when harmony builds the client; "
                    "set prefix on your spotipy.Spotify instead"
                )
            self._client = client
            return
        secret = _secret(token) if token is not None else None
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(max_retries=0)  # tenacity retries, not urllib3
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.auth = BearerAuth(secret, auth_manager)
        self._client = spotipy.Spotify(
            requests_session=self._session,
            requests_timeout=requests_timeout,
            retries=0,
            status_retries=0,
        )
        if api_prefix is not None:
            self._client.prefix = _prefix(api_prefix)

    # -- protocols ---------------------------------------------------------------------------

    def iter_playlists(self) -> Iterator[dict[str, Any]]:
        """Every playlist the account follows, following ``next`` links page by page; then
        Liked Songs and the saved albums when enabled."""
        first = partial(self._client.current_user_playlists, limit=self._playlist_page_size)
        for page in self._pages("GET me/playlists", first):
            for item in page["items"]:
                yield spotify_json.playlist(item)
        if self.liked_songs:
            newest = partial(self._client.current_user_saved_tracks, limit=1)
            yield spotify_json.liked_songs_playlist(
                self._page("GET me/tracks", self._call("GET me/tracks", newest))
            )
        if self.saved_albums:
            albums = partial(self._client.current_user_saved_albums, limit=self._playlist_page_size)
            for page in self._pages("GET me/albums", albums):
                for item in page["items"]:
                    yield spotify_json.album_playlist(item)

    def iter_tracks(self, playlist_id: str) -> Iterator[dict[str, Any]]:
        """A playlist's entries in order, duplicates kept.

        Entries that are not usable Spotify tracks (``track: null``, local files, episodes,
        missing fields) come out as mappings that fail :class:`ProviderTrack` validation,
        so the sync engine rejects and reports them.
        """
        if playlist_id == spotify_json.LIKED_SONGS_ID and self.liked_songs:
            liked = partial(self._client.current_user_saved_tracks, limit=self._track_page_size)
            for page in self._pages("GET me/tracks", liked):
                yield from (spotify_json.item_track(item) for item in page["items"])
            return
        if playlist_id.startswith(spotify_json.ALBUM_PREFIX) and self.saved_albums:
            yield from self._album_tracks(playlist_id.removeprefix(spotify_json.ALBUM_PREFIX))
            return
        first = partial(
            self._client.playlist_items,
            playlist_id,
            limit=self._track_page_size,
            additional_types=("track",),
        )
        for page in self._pages(f"GET items of playlist {playlist_id!r}", first):
            for item in page["items"]:
                yield spotify_json.item_track(item)

    def _album_tracks(self, album_id: str) -> Iterator[dict[str, Any]]:
        # The album object carries its name, date and first page of tracks: one request
        # for most albums, then the tracks' own ``next`` links.
        what = f"GET album {album_id!r}"
        album = spotify_json.mapping(self._call(what, partial(self._client.album, album_id)))
        first = self._page(what, album.get("tracks"))
        pages = self._pages(what, lambda: first)
        for page in pages:
            yield from (spotify_json.album_track(t, album) for t in page["items"])

    def search_tracks(self, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """Up to ``limit`` tracks matching ``query`` (Spotify search syntax), best first."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError(f"a search query must be a non-blank string, got {query!r}")
        limit = check_int("limit", limit, low=1, high=_SEARCH_MAX_OFFSET)
        found: list[dict[str, Any]] = []
        offset = 0
        while len(found) < limit and offset < _SEARCH_MAX_OFFSET:
            size = min(_SEARCH_PAGE, limit - len(found))
            call = partial(
                self._client.search, q=query.strip(), limit=size, offset=offset, type="track"
            )
            response = self._call("GET search", call)
            page = self._page("GET search", response.get("tracks"))
            found.extend(spotify_json.track(t, added_at=None) for t in page["items"])
            if not page.get("next") or not page["items"]:
                break
            offset += len(page["items"])
        return found[:limit]

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP session harmony built (a client you passed in is left alone)."""
        if self._session is not None:
            self._session.close()

    def __enter__(self) -> SpotifyProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        prefix = getattr(self._client, "prefix", None)
        return f"SpotifyProvider(name={self.name!r}, api_prefix={prefix!r}, auth={self._auth_kind})"

    # -- HTTP with retries -------------------------------------------------------------------

    def _pages(self, what: str, first: Callable[[], Any]) -> Iterator[Mapping[str, Any]]:
        page = self._page(what, self._call(what, first))
        fetched: set[str] = set()
        while True:
            yield page
            next_url = page.get("next")
            if not next_url:
                return
            if next_url in fetched:
                raise ProviderError(f"Spotify paging for {what} loops: {next_url} came twice")
            fetched.add(next_url)
            page = self._page(what, self._call(what, partial(self._client.next, page)))

    def _page(self, what: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, Mapping) or not isinstance(value.get("items"), list):
            raise ProviderError(
                f"Spotify answered {what} with an unexpected shape (no paging object with an "
                "'items' list); the API may have changed or a proxy is in the way"
            )
        return value

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(Transient),
            sleep=self._sleep,
            before_sleep=partial(self._log_retry, what),
            reraise=True,
        )
        try:
            return retrying(self._attempt, what, call)
        except Transient as exc:
            if exc.retry_after is not None:  # rate-limited to the end: come back later
                raise RateLimited(
                    f"Spotify rate-limited {what} {self._max_attempts} times, last asking to "
                    f"wait {exc.retry_after:g} s; try again later",
                    retry_after=exc.retry_after,
                ) from exc
            raise ProviderError(
                f"Spotify {what} failed {self._max_attempts} times, last with {exc}; "
                "Spotify or the network may be down, try again later"
            ) from exc

    def _attempt(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            if self.rate_budget is None:
                result = call()
            else:
                with self.rate_budget.acquire():
                    result = call()
        except SpotifyException as exc:
            raise self._classify(what, exc) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Transient(f"{type(exc).__name__} ({exc})") from exc
        except requests.RequestException as exc:
            raise ProviderError(f"Spotify {what} failed: {type(exc).__name__} ({exc})") from exc
        except SpotifyBaseException as exc:
            raise ProviderError(
                f"could not get a Spotify access token for {what}: {exc}; check the auth "
                "manager's client id, secret and cached token"
            ) from exc
        if result is None:
            raise ProviderError(f"Spotify answered {what} with a body that is not JSON")
        return result

    def _classify(self, what: str, exc: Any) -> Exception:
        return classify(what, exc, self._max_retry_after)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, Transient) and error.retry_after is not None:
            return error.retry_after
        return float(self._backoff(state))

    def _log_retry(self, what: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        _log.warning(
            "Spotify %s failed with %s; attempt %d of %d in %.2f s",
            what,
            error,
            state.attempt_number + 1,
            self._max_attempts,
            delay,
        )


# -- helpers -----------------------------------------------------------------------------------


def _secret(token: object) -> SecretStr:
    value = token.get_secret_value() if isinstance(token, SecretStr) else token
    if (
        not isinstance(value, str)
        or not value
        or value.startswith("Bearer ")
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        # Never echo the value: it is a credential.
        raise CredentialsError(
            "the Spotify access token must be a non-empty string without whitespace or a "
            "'Bearer ' prefix; pass the bare token"
        )
    return SecretStr(value)


def _prefix(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ConfigurationError(f"api_prefix must be an http(s) URL, got {value!r}")
    return value if value.endswith("/") else value + "/"
