"""Engine construction and the unit of work (:class:`Database`)."""

from __future__ import annotations

import os
import select
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import PoolProxiedConnection, StaticPool
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from harmony._db.watch import DatabaseWatcher
from harmony._settings import HarmonySettings
from harmony.errors import (
    ContextClosed,
    DatabaseError,
    DatabaseUnavailable,
    MissingExtraError,
)

__all__ = ["Database", "build_engine", "sqlite_write_lock_held", "translate_db_errors"]

# Execution option read by the SQLite ``begin`` hook: write transactions take the write
# lock up front (BEGIN IMMEDIATE), so two writers queue on the busy timeout instead of
# failing with SQLITE_BUSY when a read transaction tries to upgrade.
_SQLITE_BEGIN = "harmony_sqlite_begin"
#: Execution option marking an engine that build_engine() made.
_HARMONY_ENGINE = "harmony_engine"
# Connection.info key: time.monotonic() when the current BEGIN IMMEDIATE got the write lock.
_LOCKED_AT = "harmony_sqlite_locked_at"


def _is_memory_sqlite(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)


def build_engine(settings: HarmonySettings) -> Engine:
    """Create the SQLAlchemy engine described by ``settings``.

    SQLite: WAL journal, foreign keys on, busy timeout, transactions begun explicitly so
    that SAVEPOINTs and ``BEGIN IMMEDIATE`` work. PostgreSQL: psycopg 3, a bounded pool with
    pre-ping, a connect timeout and, when configured, ``search_path`` set to the schema.
    """
    url = settings.url
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, settings)
    _require_psycopg()
    connect_args: dict[str, Any] = {
        "connect_timeout": settings.connect_timeout,
        "application_name": settings.application_name,
    }
    if settings.database_schema:
        connect_args["options"] = f"-c search_path={settings.database_schema}"
    engine = create_engine(
        url,
        echo=settings.echo_sql,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        pool_recycle=settings.pool_recycle,
        pool_pre_ping=False,  # see _ping_when_idle
        connect_args=connect_args,
        hide_parameters=True,  # bound values include credentials; never log them
    )
    _ping_when_idle(engine, _PING_AFTER_IDLE_SECONDS)
    return engine.execution_options(**{_HARMONY_ENGINE: True})


def _require_psycopg() -> None:
    # Without this check SQLAlchemy's dialect import fails deep in create_engine with a
    # long ModuleNotFoundError traceback that never says which extra is missing.
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(
            "PostgreSQL URLs need psycopg 3, which is not installed: "
            "pip install 'harmony[postgres]'"
        ) from exc


#: A pooled connection idle for less than this is used without a ping.
_PING_AFTER_IDLE_SECONDS = 2.0


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection at checkout when it sat idle for ``idle_seconds``, or when
    the server has said something on it since it was checked in.

    ``pool_pre_ping`` costs one round trip per checkout, which is one per transaction:
    a quarter of a single enqueue and two of the nine round trips of a worker batch. A
    connection checked in moments ago is alive unless the server closed it: a server
    that shuts down or restarts (or ``pg_terminate_backend``) sends every connection a
    FATAL message and closes it, which makes its socket readable. So a zero-timeout
    ``select()`` (a system call, no round trip; about a microsecond) tells whether to
    ping; a connection that sat idle (a firewall may have dropped it silently) is pinged
    anyway. A dead one is replaced: raising ``DisconnectionError`` makes the pool retry
    with a fresh connection, so the caller never sees the restart. Errors on connections
    that die mid-use are still caught by SQLAlchemy's disconnect handling.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["harmony_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("harmony_idle_since")
        if since is None:
            return  # new
        if time.monotonic() - since < idle_seconds and not _server_spoke(dbapi_connection):
            return  # just used, and the server has not closed it
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError("pooled connection is dead") from exc
            raise


def _checkin_autocommit(raw: PoolProxiedConnection) -> None:
    """Return a connection checked out for autocommit work to the pool in the mode the
    pool lends connections (not autocommit)."""
    try:
        driver: Any = raw.driver_connection
        if raw.is_valid and driver is not None and not driver.closed:
            driver.autocommit = False
    finally:
        raw.close()


def _server_spoke(dbapi_connection: Any) -> bool:
    """Whether the idle connection's socket is readable: the server sent something (a
    FATAL before closing it, a notice, a notification) or closed it."""
    try:
        fileno = dbapi_connection.fileno()
        readable, _, _ = select.select([fileno], [], [], 0)
    except (OSError, ValueError, AttributeError):
        return True  # no usable socket: let the ping decide
    return bool(readable)


def _sqlite_engine(url: URL, settings: HarmonySettings) -> Engine:
    memory = _is_memory_sqlite(url)
    kwargs: dict[str, Any] = {
        "echo": settings.echo_sql,
        "hide_parameters": True,  # bound values include credentials; never log them
        "connect_args": {
            "check_same_thread": False,
            "timeout": settings.sqlite_busy_timeout_ms / 1000,
        },
    }
    if memory:
        # One shared connection, or every checkout would see a new empty database.
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)
    install_sqlite_setup(engine, settings)
    return engine.execution_options(**{_HARMONY_ENGINE: True})


def install_sqlite_setup(engine: Engine, settings: HarmonySettings) -> None:
    """Give a SQLite engine harmony's connection setup: foreign keys, the busy timeout,
    WAL (for files) and transactions begun by SQLAlchemy (``BEGIN IMMEDIATE`` for writes).

    For an engine a host passes in, connections already pooled are left to the host
    (the pool is replaced, checked-out connections are not closed).
    """
    if event.contains(engine, "begin", _on_sqlite_begin):
        return  # installed already (an engine passed to a second context)
    memory = _is_memory_sqlite(engine.url)
    busy_ms = int(settings.sqlite_busy_timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms:d}")
            if not memory:
                _enable_wal(cursor, busy_ms / 1000)
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    event.listen(engine, "begin", _on_sqlite_begin)


def _on_sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_SQLITE_BEGIN, "")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")
    conn.info[_LOCKED_AT] = time.monotonic() if mode == "IMMEDIATE" else None


def built_by_harmony(engine: Engine) -> bool:
    """Whether :func:`build_engine` made ``engine`` (so it has harmony's setup)."""
    return bool(engine.get_execution_options().get(_HARMONY_ENGINE))


def sqlite_write_lock_held(conn: Connection) -> float:
    """Seconds the write transaction open on ``conn`` has held SQLite's write lock (0.0
    when none is open, or on PostgreSQL)."""
    if conn.dialect.name != "sqlite" or not conn.in_transaction():
        return 0.0
    locked_at = conn.info.get(_LOCKED_AT)
    return 0.0 if locked_at is None else time.monotonic() - locked_at


def _enable_wal(cursor: sqlite3.Cursor, patience: float) -> None:
    """Switch the file to WAL (a persistent property of the file) unless it already is.

    The switch needs an exclusive lock and SQLite does not always run the busy handler for
    it, so connections opening a new file at once can get "database is locked": retry
    with a short back-off for up to the busy timeout.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    for attempt in Retrying(
        stop=stop_after_delay(max(patience, 0.1)),
        wait=wait_random_exponential(multiplier=0.005, max=0.1),
        retry=retry_if_exception(_is_locked),
        reraise=True,
    ):
        with attempt:
            cursor.execute("PRAGMA journal_mode=WAL")


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


@contextmanager
def translate_db_errors(settings: HarmonySettings) -> Iterator[None]:
    """Turn driver errors into :class:`DatabaseUnavailable` / :class:`DatabaseError`.

    The driver's exception stays available as ``__cause__``. Messages carry the URL with
    its password masked, never the password.
    """
    try:
        yield
    except OperationalError as exc:
        if _is_connection_failure(exc):
            raise DatabaseUnavailable(_unavailable_message(settings, exc)) from exc
        raise DatabaseError(
            f"database error on {settings.safe_database_url}: {_first_line(exc)}"
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailable(_unavailable_message(settings, exc)) from exc
        # Integrity, programming and data errors: the driver's first line says what the
        # database refused (bound values are not part of it: the engine hides parameters).
        raise DatabaseError(f"database refused the operation: {_first_line(exc)}") from exc


def _is_connection_failure(exc: OperationalError) -> bool:
    if exc.connection_invalidated:
        return True
    message = str(exc.orig).lower()
    markers = (
        "connection",
        "could not translate host name",
        "unable to open database file",
        "password authentication failed",
        "does not exist",
        "timeout expired",
        "no such host",
        "server closed",
    )
    return any(marker in message for marker in markers)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _unavailable_message(settings: HarmonySettings, exc: BaseException) -> str:
    url = settings.url
    if url.get_backend_name() == "sqlite":
        path = url.database or ":memory:"
        folder = Path(path).resolve().parent
        hint = (
            f"the folder {str(folder)!r} does not exist; create it first"
            if not folder.exists()
            else "check the path and its permissions"
        )
        return f"cannot open SQLite database {path!r}: {hint} ({_first_line(exc)})"
    return (
        f"cannot reach PostgreSQL at {settings.safe_database_url}: {_first_line(exc)}; "
        "check host, port, database name and credentials, and that the server is running"
    )


class Database:
    """A context's engine and unit of work.

    ``transaction()`` is the write path (an ORM :class:`~sqlalchemy.orm.Session` committed on
    success, rolled back on error); ``connect()`` is a read-only Core connection.
    """

    def __init__(self, settings: HarmonySettings, engine: Engine | None = None) -> None:
        self.settings = settings
        #: Whether :meth:`dispose` closes the engine's pool (not for an engine passed in).
        self.owns_engine = engine is None
        if engine is not None and engine.dialect.name == "sqlite" and not built_by_harmony(engine):
            install_sqlite_setup(engine, settings)
            engine.dispose(close=False)  # new connections get the setup; in-use ones stay
        self.engine: Engine = engine if engine is not None else build_engine(settings)
        self.backend: str = self.engine.dialect.name
        self._memory = self.backend == "sqlite" and _is_memory_sqlite(self.engine.url)
        self._watcher: DatabaseWatcher | None = None
        self._watcher_lock = threading.Lock()
        self.schema: str | None = settings.database_schema
        #: The engine for write transactions: on SQLite they begin with BEGIN IMMEDIATE.
        self.write_engine: Engine = self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        self._sessions = sessionmaker(bind=self.write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._closed = False
        self._on_close: list[weakref.WeakMethod[Callable[[], None]]] = []
        # The connection parked_autocommit() keeps checked out between calls, the process
        # that checked it out, and when it was last used.
        self._parked: PoolProxiedConnection | None = None
        self._parked_pid = 0
        self._parked_at = 0.0
        self._parked_lock = threading.Lock()
        self._may_park = (
            self.backend == "postgresql"
            and self.owns_engine
            and settings.pool_size + settings.max_overflow >= 4
        )

    def __repr__(self) -> str:
        return f"Database(url={self.settings.safe_database_url!r}, backend={self.backend!r})"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session inside one write transaction; commit on success, roll back on error.

        On SQLite the transaction takes the write lock at ``BEGIN`` (``BEGIN IMMEDIATE``).
        """
        self._check_open()
        with translate_db_errors(self.settings), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Yield a Core connection inside one write transaction (the queue's hot path).

        Commits on success, rolls back on error; ``BEGIN IMMEDIATE`` on SQLite.
        """
        self._check_open()
        with translate_db_errors(self.settings), self.write_engine.begin() as conn:
            yield conn

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """Yield a connection on which each statement commits by itself.

        For writes that are one statement (or a statement and a read): no BEGIN and
        COMMIT round trips on PostgreSQL. On SQLite this is :meth:`write`.
        """
        if self.backend != "postgresql":
            with self.write() as conn:
                yield conn
            return
        with self.autocommit_connection() as conn, translate_db_errors(self.settings):
            yield conn

    def autocommit_connection(self) -> Connection:
        """A new connection on which each statement commits by itself; the caller closes it.

        For loops that keep one connection for single-statement work (a worker's leases).
        """
        self._check_open()
        with translate_db_errors(self.settings):
            return self.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def parked_autocommit(self) -> Iterator[PoolProxiedConnection]:
        """Yield a pooled PostgreSQL connection whose driver is in autocommit mode, for one
        statement run on the driver (a single enqueue); the caller translates errors and
        invalidates the connection when it broke.

        The connection stays checked out between calls (parked), so the hot path skips
        the pool's checkout and check-in events, its reset and two autocommit switches:
        about 50 us of an enqueue that takes 300-600 us. One thread uses it at a time;
        a thread that finds it busy gets a connection from the pool, as every thread did
        before. A parked connection that sat idle for ``_PING_AFTER_IDLE_SECONDS`` or
        that the server spoke on (a FATAL before it closed it) is pinged first, as the
        pool pings at checkout; one that broke is invalidated and replaced from the pool,
        so a server restart costs the caller no error. A forked child leaves its parent's
        alone. It is parked only on a pool of at least 4 connections that harmony built,
        so it never starves the rest of the context (a matching run needs 2 at once, a
        worker's pool check counts one for enqueues), and :meth:`checked_out_connections`
        does not count it.
        """
        self._check_open()
        if not self._may_park or not self._parked_lock.acquire(blocking=False):
            raw = self._autocommit_checkout()
            try:
                yield raw
            finally:
                _checkin_autocommit(raw)
            return
        try:
            self._check_open()  # dispose() may have run while this thread waited
            raw = self._parked_or_new()
            try:
                yield raw
            finally:
                self._parked_at = time.monotonic()
        finally:
            self._parked_lock.release()

    def _parked_or_new(self) -> PoolProxiedConnection:
        raw = self._parked
        if raw is not None and self._parked_pid != os.getpid():
            raw = self._parked = None  # the parent's connection: its socket is not ours
        if raw is not None and not (raw.is_valid and self._parked_alive(raw)):
            self._parked = None
            _checkin_autocommit(raw)
            raw = None
        if raw is None:
            raw = self._autocommit_checkout()
            self._parked, self._parked_pid = raw, os.getpid()
        return raw

    def _parked_alive(self, raw: PoolProxiedConnection) -> bool:
        """The pool's rule for the parked connection: used moments ago and not closed by
        the server, or else answering a ping (a broken one is invalidated)."""
        dbapi_connection = raw.dbapi_connection
        if dbapi_connection is None:
            return False
        idle = time.monotonic() - self._parked_at
        if idle < _PING_AFTER_IDLE_SECONDS and not _server_spoke(dbapi_connection):
            return True
        try:
            self.engine.dialect.do_ping(dbapi_connection)
        except self.engine.dialect.loaded_dbapi.Error as exc:
            raw.invalidate(exc)
            return False
        return True

    def _autocommit_checkout(self) -> PoolProxiedConnection:
        raw = self.write_engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            driver.autocommit = True
        except BaseException:
            raw.close()
            raise
        return raw

    def _unpark(self) -> None:
        with self._parked_lock:
            raw, self._parked = self._parked, None
            if raw is not None and self._parked_pid == os.getpid():
                _checkin_autocommit(raw)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yield a session for reads (a deferred transaction, rolled back at the end)."""
        self._check_open()
        with translate_db_errors(self.settings), self._read_sessions() as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """Yield a Core connection (reads, streaming); rolled back when the block ends."""
        self._check_open()
        with translate_db_errors(self.settings), self.engine.connect() as conn:
            yield conn

    def ping(self) -> None:
        """Run ``SELECT 1``; raise :class:`DatabaseUnavailable` when the database is unreachable."""
        with self.connect() as conn:
            conn.execute(text("SELECT 1"))

    def table_names(self) -> list[str]:
        """Names of the tables in harmony's schema, sorted."""
        with self.connect() as conn:
            return sorted(inspect(conn).get_table_names())

    def checked_out_connections(self) -> int:
        """Connections currently lent out by the pool (0 after :meth:`dispose`), not
        counting the idle one :meth:`parked_autocommit` keeps."""
        checkedout = getattr(self.engine.pool, "checkedout", None)
        if not callable(checkedout):
            return 0
        parked = self._parked is not None and self._parked_pid == os.getpid()
        return int(checkedout()) - parked

    @property
    def watcher(self) -> DatabaseWatcher | None:
        """Change signals from other connections and processes (built on first use);
        ``None`` for an in-memory SQLite database, which no other process can open."""
        if self._memory:
            return None
        if self._watcher is None:
            self._check_open()
            with self._watcher_lock:
                if self._watcher is None:
                    self._watcher = DatabaseWatcher(
                        self.engine,
                        schema=self.schema,
                        poll_interval=self.settings.sqlite_watch_interval,
                        follow=self.settings.listen_for_changes,
                    )
        return self._watcher

    @property
    def closed(self) -> bool:
        """Whether :meth:`dispose` ran (the context was closed)."""
        return self._closed

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call the bound method ``callback`` when the database is closed (a started
        :class:`~harmony.Worker` stops itself this way). Held weakly."""
        self._on_close.append(weakref.WeakMethod(callback))

    def dispose(self) -> None:
        """Stop the watcher and close every pooled connection (only the pool's connections
        of an engine passed in stay open: that engine belongs to its creator); the
        database refuses further use."""
        self._closed = True
        callbacks, self._on_close = self._on_close, []
        for ref in callbacks:
            callback = ref()
            if callback is not None:
                callback()
        with self._watcher_lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.close()
        self._unpark()
        if self.owns_engine:
            self.engine.dispose()

    def check_open(self) -> None:
        """Raise :class:`ContextClosed` when the database was closed (``ctx.close()``)."""
        self._check_open()

    def _check_open(self) -> None:
        # A disposed engine would silently open new connections: refuse instead.
        if self._closed:
            raise ContextClosed("this HarmonyContext is closed; create a new one")
