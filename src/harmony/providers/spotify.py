"""Spotify as a playlist and track-search provider, through spotipy.

spotipy sends the requests; harmony owns the retry policy (tenacity): a 429 waits exactly
its ``Retry-After`` seconds, 5xx answers and transport errors back off exponentially, any
other 4xx fails at once with a :class:`~harmony.errors.ProviderError` that says what to do.
Needs the ``spotify`` extra (``pip install 'harmony[spotify]'``).
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from types import TracebackType
from typing import Any, Literal

from pydantic import SecretStr
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from harmony.errors import (
    ConfigurationError,
    CredentialsError,
    InvalidInputError,
    MissingExtraError,
    ProviderError,
)

try:
    import requests
    import spotipy  # type: ignore[import-untyped]
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

__all__ = ["SpotifyProvider"]

_log = logging.getLogger("harmony.providers.spotify")

_AuthKind = Literal["client", "token", "auth_manager"]
_SEARCH_PAGE = 50  # Spotify's largest search page
_SEARCH_MAX_OFFSET = 1000  # Spotify refuses search offsets beyond this


class _Transient(Exception):
    """A failed try worth repeating; ``retry_after`` is the wait the server asked for."""

    def __init__(self, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class _BearerAuth:
    """A requests auth hook that adds the token when a request is sent.

    spotipy logs its request headers at DEBUG level; giving it no token and letting the
    session add the header keeps the token out of spotipy's logs.
    """

    def __init__(self, token: SecretStr | None, auth_manager: Any) -> None:
        self._token = token
        self._auth_manager = auth_manager

    def _current(self) -> str:
        if self._token is not None:
            return self._token.get_secret_value()
        try:  # the same call spotipy makes, for every kind of auth manager
            value = self._auth_manager.get_access_token(as_dict=False)
        except TypeError:
            value = self._auth_manager.get_access_token()
        return str(value)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._current()}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(<redacted>)"


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
    ) -> None:
        sources: tuple[tuple[_AuthKind, object], ...] = (
            ("client", client), ("token", token), ("auth_manager", auth_manager))
        given = [kind for kind, value in sources if value is not None]
        if len(given) != 1:
            raise ConfigurationError(
                "SpotifyProvider needs exactly one of client=, token= or auth_manager=; "
                f"got {', '.join(given) or 'none'}"
            )
        _check_int("max_attempts", max_attempts, 1, 100)
        _check_int("playlist_page_size", playlist_page_size, 1, 50)
        _check_int("track_page_size", track_page_size, 1, 100)
        for field, value in (("max_retry_after", max_retry_after),
                             ("backoff_initial", backoff_initial),
                             ("backoff_max", backoff_max),
                             ("requests_timeout", requests_timeout)):
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
        self._session.auth = _BearerAuth(secret, auth_manager)
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
        """Every playlist the account follows, following ``next`` links page by page."""
        first = partial(self._client.current_user_playlists, limit=self._playlist_page_size)
        for page in self._pages("GET me/playlists", first):
            for item in page["items"]:
                yield _playlist_mapping(item)

    def iter_tracks(self, playlist_id: str) -> Iterator[dict[str, Any]]:
        """A playlist's entries in order, duplicates kept.

        Entries that are not usable Spotify tracks (``track: null``, local files, episodes,
        missing fields) come out as mappings that fail :class:`ProviderTrack` validation,
        so the sync engine rejects and reports them.
        """
        first = partial(self._client.playlist_items, playlist_id,
                        limit=self._track_page_size, additional_types=("track",))
        for page in self._pages(f"GET items of playlist {playlist_id!r}", first):
            for item in page["items"]:
                yield _item_mapping(item)

    def search_tracks(self, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """Up to ``limit`` tracks matching ``query`` (Spotify search syntax), best first."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError(f"a search query must be a non-blank string, got {query!r}")
        _check_int("limit", limit, 1, _SEARCH_MAX_OFFSET, error=InvalidInputError)
        found: list[dict[str, Any]] = []
        offset = 0
        while len(found) < limit and offset < _SEARCH_MAX_OFFSET:
            size = min(_SEARCH_PAGE, limit - len(found))
            call = partial(self._client.search, q=query.strip(), limit=size, offset=offset,
                           type="track")
            response = self._call("GET search", call)
            page = self._page("GET search", response.get("tracks"))
            found.extend(_track_mapping(t, added_at=None) for t in page["items"])
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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
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
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            before_sleep=partial(self._log_retry, what),
            reraise=True,
        )
        try:
            return retrying(self._attempt, what, call)
        except _Transient as exc:
            raise ProviderError(
                f"Spotify {what} failed {self._max_attempts} times, last with {exc}; "
                "Spotify or the network may be down, try again later"
            ) from exc

    def _attempt(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except SpotifyException as exc:
            raise self._classify(what, exc) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Transient(f"{type(exc).__name__} ({exc})") from exc
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
        status = int(exc.http_status)
        message = _spotify_message(exc)
        if status == 429:
            retry_after = _retry_after(exc.headers)
            if retry_after is not None and retry_after > self._max_retry_after:
                return ProviderError(
                    f"Spotify rate-limited {what} and asked to wait {retry_after:g} s, more "
                    f"than max_retry_after={self._max_retry_after:g} s; try again later or "
                    "raise max_retry_after"
                )
            return _Transient(f"429 ({message})", retry_after)
        if status >= 500:
            return _Transient(f"{status} ({message})")
        if status == 401:
            return ProviderError(
                f"Spotify refused the access token for {what} (401: {message}): it is invalid "
                "or has expired. Get a new one (run the OAuth flow again or refresh it) and "
                "pass it as token=, or pass an auth_manager= such as spotipy.SpotifyOAuth "
                "that refreshes tokens itself"
            )
        if status == 403:
            return ProviderError(
                f"Spotify denied {what} (403: {message}): the token lacks a scope "
                "(playlist-read-private, playlist-read-collaborative), this user may not use "
                "the app, or (apps in Development Mode) the playlist is neither owned nor "
                "collaborated on by the user; authorise again with those scopes"
            )
        if status == 404:
            return ProviderError(f"Spotify found nothing for {what} (404: {message}); check the id")
        return ProviderError(f"Spotify rejected {what} ({status}: {message})")

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return error.retry_after
        return float(self._backoff(state))

    def _log_retry(self, what: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        _log.warning("Spotify %s failed with %s; attempt %d of %d in %.2f s", what, error,
                     state.attempt_number + 1, self._max_attempts, delay)


# -- mapping Spotify JSON to provider items ----------------------------------------------------


def _playlist_mapping(item: Any) -> dict[str, Any]:
    data = _mapping(item)
    owner = _mapping(data.get("owner"))
    description = data.get("description")
    tracks = _mapping(data.get("items")) or _mapping(data.get("tracks"))  # new name, then old
    return {
        "id": data.get("id"),
        "name": data.get("name"),
        # Spotify HTML-escapes descriptions ("Rock &amp; Roll").
        "description": html.unescape(description) if isinstance(description, str) else None,
        "owner": owner.get("display_name") or owner.get("id"),
        "snapshot_id": data.get("snapshot_id"),
        "track_count": tracks.get("total"),
    }


def _item_mapping(item: Any) -> dict[str, Any]:
    data = _mapping(item)
    # Spotify's February 2026 API names the entry "item"; "track" is its deprecated alias.
    track = next((v for v in (data.get("item"), data.get("track")) if isinstance(v, Mapping)),
                 None)
    if track is None:
        # Removed or unavailable entries come as ``track: null``: no id, so it is rejected.
        return {"id": None, "title": None, "added_at": data.get("added_at")}
    mapped = _track_mapping(track, added_at=data.get("added_at"))
    if data.get("is_local"):
        mapped["id"] = None
    return mapped


def _track_mapping(track: Any, *, added_at: Any) -> dict[str, Any]:
    data = _mapping(track)
    usable = data.get("type", "track") == "track" and not data.get("is_local")
    artists = data.get("artists")
    return {
        # Local files (and episodes) have no Spotify track id; id None makes them rejected.
        "id": data.get("id") if usable else None,
        "title": data.get("name"),
        "artists": [_mapping(a).get("name") for a in artists] if isinstance(artists, list) else [],
        "album": _mapping(data.get("album")).get("name"),
        "duration_ms": data.get("duration_ms"),
        "isrc": _mapping(data.get("external_ids")).get("isrc"),
        "year": _mapping(data.get("album")).get("release_date"),
        "added_at": added_at,
    }


# -- helpers -----------------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _spotify_message(exc: Any) -> str:
    # spotipy's msg is "<url>:\n <Spotify's message>" for HTTP errors.
    text = str(exc.msg) if exc.msg is not None else "no message"
    return text.rsplit(":\n ", 1)[-1].strip() or "no message"


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP-date or garbage: fall back to exponential backoff


def _secret(token: object) -> SecretStr:
    value = token.get_secret_value() if isinstance(token, SecretStr) else token
    if (not isinstance(value, str) or not value or value.startswith("Bearer ")
            or any(c.isspace() or not c.isprintable() for c in value)):
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


def _check_int(field: str, value: Any, low: int, high: int,
               error: type[Exception] = ConfigurationError) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise error(f"{field} must be an integer from {low} to {high}, got {value!r}")
