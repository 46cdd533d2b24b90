"""How SpotifyProvider talks HTTP: the bearer-token hook, and what each error answer means."""

from __future__ import annotations

import math
from typing import Any

import requests
from pydantic import SecretStr

from harmony.errors import ProviderError, RateLimited

__all__ = ["BearerAuth", "Transient", "classify"]


class Transient(Exception):
    """A failed try worth repeating; ``retry_after`` is the wait the server asked for."""

    def __init__(self, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class BearerAuth:
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
        return "BearerAuth(<redacted>)"


def classify(what: str, exc: Any, max_retry_after: float) -> Exception:
    """What a spotipy HTTP error means: a try worth repeating (:class:`Transient`), a
    :class:`RateLimited` for a wait beyond ``max_retry_after``, or a :class:`ProviderError`."""
    status = int(exc.http_status)
    message = _spotify_message(exc)
    if status == 429:
        retry_after = _retry_after(exc.headers)
        if retry_after is not None and retry_after > max_retry_after:
            return RateLimited(
                f"Spotify rate-limited {what} and asked to wait {retry_after:g} s, more "
                f"than max_retry_after={max_retry_after:g} s; try again later (a "
                "playlist.sync job runs again then) or raise max_retry_after",
                retry_after=retry_after,
            )
        return Transient(f"429 ({message})", retry_after)
    if status >= 500:
        return Transient(f"{status} ({message})")
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
            "(playlist-read-private, playlist-read-collaborative; user-library-read for "
            "Liked Songs and saved albums), this user may not use "
            "the app, or (apps in Development Mode) the playlist is neither owned nor "
            "collaborated on by the user; authorise again with those scopes"
        )
    if status == 404:
        return ProviderError(f"Spotify found nothing for {what} (404: {message}); check the id")
    return ProviderError(f"Spotify rejected {what} ({status}: {message})")


def _spotify_message(exc: Any) -> str:
    # spotipy's msg is "<url>:\n <Spotify's message>" for HTTP errors.
    text = str(exc.msg) if exc.msg is not None else "no message"
    return text.rsplit(":\n ", 1)[-1].strip() or "no message"


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        value = float(raw) if raw is not None else None
        return max(0.0, value) if value is not None and math.isfinite(value) else None
    except (TypeError, ValueError):
        return None  # an HTTP-date or garbage: fall back to exponential backoff
