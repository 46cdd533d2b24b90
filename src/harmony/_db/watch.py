"""Cheap signals from the database that something changed in another process.

One :class:`DatabaseWatcher` per :class:`~harmony._db.engine.Database`, built on first use:

- **Probe**: a connection of its own (outside the pool, autocommit) for one-row reads on
  the hot path: the change-feed head, SQLite's ``PRAGMA data_version`` (changes whenever
  another connection, in any process, commits to the file), and whether a job is ready.
- **Follower**: a background thread that tells subscribers about changes. PostgreSQL:
  ``LISTEN`` on the installation's channels (``NOTIFY`` is sent by the writing
  transaction at commit); after a lost connection it reconnects and tells every
  subscriber that it may have missed something. SQLite: polls ``data_version`` every
  ``poll_interval`` seconds (a few microseconds each).

Nothing here knows what the signals mean; the coherence service and the worker decide.
In-memory SQLite databases live in one connection of one process and get no watcher.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

from sqlalchemy import Engine

__all__ = ["CHANGES_CHANNEL", "JOBS_CHANNEL", "DatabaseWatcher", "SignalKind", "channel_name"]

_log = logging.getLogger("harmony.db.watch")

#: What a signal is about: the change feed or the queue.
SignalKind = Literal["changes", "jobs"]
#: Called in the follower thread with the notification's payload, or ``None`` when the
#: follower cannot say (SQLite's data_version moved, or a reconnect may have lost some).
Callback = Callable[[str | None], None]

#: LISTEN/NOTIFY channel of the change feed (payload: the change number).
CHANGES_CHANNEL = "harmony.changes"
#: LISTEN/NOTIFY channel of new and re-armed jobs (payload: the job type), sent by the
#: ``queue_jobs`` triggers of migration 0005 (which spell the name out too).
JOBS_CHANNEL = "harmony.jobs"


def channel_name(base: str, schema: str | None) -> str:
    """The channel of ``base`` for one installation: channels are per database, so two
    harmony schemas in one database must not hear each other (``harmony.jobs:public``)."""
    return f"{base}:{schema or 'public'}"


_KEEPALIVE_SECONDS = 15.0
_RECONNECT_BACKOFF = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0)


class _Probe:
    """A dedicated autocommit DBAPI connection, used under a lock by any thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._raw: Any = None

    def _connection(self) -> Any:
        if self._raw is None:
            raw = self._engine.raw_connection()
            driver: Any = raw.driver_connection
            raw.detach()  # ours until close(), never handed to anyone by the pool
            if self._engine.dialect.name == "postgresql":
                driver.autocommit = True
            else:
                driver.isolation_level = None  # sqlite3: no implicit transactions
            self._raw = raw
        return self._raw

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement and return the first column of its first row (or ``None``)."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    cursor = self._connection().cursor()
                    try:
                        cursor.execute(sql, tuple(params))
                        row = cursor.fetchone()
                    finally:
                        cursor.close()
                    return None if row is None else row[0]
                except self._engine.dialect.loaded_dbapi.Error as exc:
                    disconnected = self._engine.dialect.is_disconnect(exc, None, None)
                    self._discard()
                    if attempt == 2 or not disconnected:
                        raise
        return None  # pragma: no cover  (the loop returns or raises)

    def _discard(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.close()

    def close(self) -> None:
        with self._lock:
            self._discard()


class DatabaseWatcher:
    """Probe reads and change signals of one database (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        schema: str | None,
        poll_interval: float = 0.05,
        follow: bool = True,
    ) -> None:
        self._engine = engine
        #: Whether subscriptions start the follower; without it subscribers are never
        #: called (behind a pooler that breaks LISTEN, e.g. PgBouncer transaction mode).
        self.follow = follow
        self.backend: str = engine.dialect.name
        self.poll_interval = poll_interval
        self._probe = _Probe(engine)
        self._channels: dict[str, SignalKind] = {
            channel_name(CHANGES_CHANNEL, schema): "changes",
            channel_name(JOBS_CHANNEL, schema): "jobs",
        }
        self._lock = threading.Lock()
        self._subscribers: dict[SignalKind, list[Callback]] = {"changes": [], "jobs": []}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._stop_sockets: tuple[socket.socket, socket.socket] | None = None
        self._closed = False
        #: Whether the follower is connected and listening (PostgreSQL) or polling (SQLite).
        self.following = False
        #: Reconnects of the follower after a lost connection (for diagnostics and tests).
        self.reconnects = 0

    def __repr__(self) -> str:
        return f"DatabaseWatcher(backend={self.backend!r}, following={self.following})"

    # -- probe ------------------------------------------------------------------------------

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """First column of the first row of ``sql`` on the probe connection."""
        return self._probe.scalar(sql, params)

    def data_version(self) -> int | None:
        """SQLite's ``PRAGMA data_version`` on the probe; ``None`` on PostgreSQL."""
        if self.backend != "sqlite":
            return None
        return int(self._probe.scalar("PRAGMA data_version"))

    # -- signals ----------------------------------------------------------------------------

    def subscribe(self, kind: SignalKind, callback: Callback) -> Callable[[], None]:
        """Call ``callback`` on every signal of ``kind``; returns the unsubscribe function.

        Callbacks run in the follower thread and must be quick; an exception is logged.
        The follower starts with the first subscription (never when ``follow`` is off).
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the database watcher is closed")
            self._subscribers[kind].append(callback)
            if self._thread is None and self.follow:
                self._start()

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._subscribers[kind].remove(callback)

        return unsubscribe

    def _fire(self, kind: SignalKind, payload: str | None) -> None:
        with self._lock:
            callbacks = list(self._subscribers[kind])
        for callback in callbacks:
            try:
                callback(payload)
            except Exception:  # one subscriber must not silence the others
                _log.exception("harmony: a %s-signal subscriber raised", kind)

    def _fire_all(self) -> None:
        self._fire("changes", None)
        self._fire("jobs", None)

    def _start(self) -> None:
        target = self._listen if self.backend == "postgresql" else self._poll
        if self.backend == "postgresql":
            self._stop_sockets = socket.socketpair()
        self._thread = threading.Thread(target=target, name="harmony-db-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the follower and close both connections. Idempotent."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._stop.set()
        if self._stop_sockets is not None:
            with contextlib.suppress(OSError):
                self._stop_sockets[1].send(b"x")
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        if self._stop_sockets is not None:
            for sock in self._stop_sockets:
                sock.close()
            self._stop_sockets = None
        self._probe.close()

    # -- SQLite: poll data_version --------------------------------------------------------

    def _poll(self) -> None:
        last: int | None = None
        failures = 0
        while not self._stop.is_set():
            try:
                version = self._sqlite_version()
                failures = 0
                self.following = True
            except Exception as exc:  # the file went away, a disk error: keep trying
                failures += 1
                self.following = False
                if failures == 1:
                    _log.warning("harmony: cannot read the SQLite data_version: %s", exc)
                version = None
            if version is not None and version != last:
                if last is not None:
                    self._fire_all()
                last = version
            self._stop.wait(self.poll_interval)
        self.following = False

    def _sqlite_version(self) -> int:
        # A connection of the follower's own: the probe's data_version is read by other
        # threads too, and each reader compares with the value it saw last.
        return int(self._probe.scalar("PRAGMA data_version"))

    # -- PostgreSQL: LISTEN ---------------------------------------------------------------

    def _listen(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            raw = None
            try:
                raw = self._engine.raw_connection()
                conn: Any = raw.driver_connection
                raw.detach()
                conn.autocommit = True
                for channel in self._channels:
                    conn.execute('LISTEN "' + channel.replace('"', '""') + '"')
                self.following = True
                if attempt:
                    self.reconnects += 1
                    _log.info("harmony: change listener reconnected")
                # Anything sent while not listening (or before the first LISTEN) is lost:
                # subscribers re-check what they care about.
                self._fire_all()
                attempt = 0
                self._wait_loop(conn)
            except Exception as exc:  # lost connection, server restart, failover
                if self._stop.is_set():
                    break
                self.following = False
                delay = _RECONNECT_BACKOFF[min(attempt, len(_RECONNECT_BACKOFF) - 1)]
                if attempt == 0:
                    _log.warning("harmony: change listener lost its connection: %s", exc)
                attempt += 1
                self._stop.wait(delay)
            finally:
                self.following = False
                if raw is not None:
                    with contextlib.suppress(Exception):
                        raw.close()

    def _wait_loop(self, conn: Any) -> None:
        assert self._stop_sockets is not None
        stop_socket = self._stop_sockets[0]
        while not self._stop.is_set():
            ready, _, _ = select.select([conn.fileno(), stop_socket], [], [], _KEEPALIVE_SECONDS)
            if stop_socket in ready:
                return
            if not ready:  # idle: prove the connection is alive (raises when it is not)
                conn.execute("SELECT 1")
            # Read what arrived (timeout 0 reads once without waiting); on a connection
            # the server closed this raises, and _listen reconnects.
            for notify in conn.notifies(timeout=0):
                self._on_notify(notify)

    def _on_notify(self, notify: Any) -> None:
        kind = self._channels.get(notify.channel)
        if kind is not None:
            self._fire(kind, notify.payload)
