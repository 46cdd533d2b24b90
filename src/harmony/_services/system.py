"""``ctx.system``: runtime diagnostics (injectable psutil) and a health report."""

from __future__ import annotations

import importlib
import os
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from harmony._clock import Clock
from harmony._migrations.runner import MigrationRunner
from harmony._repositories.activity import ActivityRepository
from harmony._repositories.diagnostics import DatabaseProbe
from harmony._repositories.jobs import JobQueue
from harmony._validation import check_seconds
from harmony.errors import DiagnosticsUnavailable, HarmonyError

__all__ = [
    "CpuStats",
    "DiskStats",
    "HealthPart",
    "HealthReport",
    "MemoryStats",
    "NetworkStats",
    "ProcessStats",
    "PsutilLike",
    "SystemService",
    "SystemStats",
]


class PsutilLike(Protocol):
    """The psutil functions harmony calls; any object with them can stand in for psutil.

    ``cpu_percent(interval=None)``, ``cpu_count(logical=True)``,
    ``cpu_times_percent(interval=None)`` (``.idle``, ``.user``, ``.system``),
    ``virtual_memory()`` (``.total``, ``.available``, ``.used``, ``.free``, ``.percent``),
    ``disk_usage(path)`` (``.total``, ``.used``, ``.free``, ``.percent``),
    ``net_io_counters()`` (``.bytes_sent``, ``.bytes_recv``, ``.packets_sent``,
    ``.packets_recv``) and ``Process(pid)`` (``.memory_info().rss``, ``.num_threads()``).
    """

    def cpu_percent(self, interval: float | None = None) -> float: ...
    def cpu_count(self, logical: bool = True) -> int | None: ...
    def cpu_times_percent(self, interval: float | None = None) -> Any: ...
    def virtual_memory(self) -> Any: ...
    def disk_usage(self, path: str) -> Any: ...
    def net_io_counters(self) -> Any: ...
    def Process(self, pid: int | None = None) -> Any: ...


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class CpuStats(_Model):
    """CPU use since the previous call (the first call of a process reports 0.0)."""

    percent: float
    logical_cores: int | None
    idle: float
    user: float
    system: float


class MemoryStats(_Model):
    """Virtual memory, in bytes (``percent`` used)."""

    total: int
    available: int
    used: int
    free: int
    percent: float


class DiskStats(_Model):
    """Usage of the file system holding ``path``, in bytes."""

    path: str
    total: int
    used: int
    free: int
    percent: float


class NetworkStats(_Model):
    """Counters summed over all interfaces since boot."""

    bytes_sent: int
    bytes_recv: int
    packets_sent: int
    packets_recv: int


class ProcessStats(_Model):
    """This process."""

    pid: int
    rss: int
    threads: int


class SystemStats(_Model):
    """One snapshot of the machine and this process."""

    collected_at: datetime
    cpu: CpuStats
    memory: MemoryStats
    disk: DiskStats
    network: NetworkStats
    process: ProcessStats


class HealthPart(_Model):
    """One checked part: ``up`` or ``down``, whether readiness needs it, and details."""

    status: Literal["up", "down"]
    required: bool
    detail: str
    data: dict[str, Any] = {}


class HealthReport(_Model):
    """``ready`` when every required part is up."""

    ready: bool
    checked_at: datetime
    parts: dict[str, HealthPart]


class SystemService:
    """``ctx.system``: :meth:`stats`, :meth:`health` and :meth:`table_rows`."""

    def __init__(
        self,
        probe: DatabaseProbe,
        migrations: MigrationRunner,
        clock: Clock,
        *,
        jobs: JobQueue,
        activity: ActivityRepository,
        psutil: PsutilLike | None = None,
        disk_path: str = "/",
    ) -> None:
        self._probe = probe
        self._jobs = jobs
        self._activity = activity
        self._migrations = migrations
        self._clock = clock
        self._psutil = psutil
        self._disk_path = disk_path

    def __repr__(self) -> str:
        return f"SystemService(disk_path={self._disk_path!r}, psutil={'injected' if self._psutil else 'module'})"

    def stats(self, psutil: PsutilLike | None = None) -> SystemStats:
        """CPU, memory, disk, network and process figures.

        The psutil used is ``psutil`` if given, else the one the context was built with,
        else the real :mod:`psutil` module.

        Raises:
            DiagnosticsUnavailable: psutil is not installed, or one of its calls failed
                (the cause is chained and named in the message).
        """
        source = psutil or self._psutil or _import_psutil()
        try:
            times = source.cpu_times_percent(interval=None)
            memory = source.virtual_memory()
            disk = source.disk_usage(self._disk_path)
            net = source.net_io_counters()
            process = source.Process(os.getpid())
            return SystemStats(
                collected_at=self._clock.now(),
                cpu=CpuStats(
                    percent=source.cpu_percent(interval=None),
                    logical_cores=source.cpu_count(logical=True),
                    idle=times.idle,
                    user=times.user,
                    system=times.system,
                ),
                memory=MemoryStats(
                    total=memory.total,
                    available=memory.available,
                    used=memory.used,
                    free=memory.free,
                    percent=memory.percent,
                ),
                disk=DiskStats(
                    path=self._disk_path,
                    total=disk.total,
                    used=disk.used,
                    free=disk.free,
                    percent=disk.percent,
                ),
                network=NetworkStats(
                    bytes_sent=net.bytes_sent,
                    bytes_recv=net.bytes_recv,
                    packets_sent=net.packets_sent,
                    packets_recv=net.packets_recv,
                ),
                process=ProcessStats(
                    pid=os.getpid(),
                    rss=process.memory_info().rss,
                    threads=process.num_threads(),
                ),
            )
        except HarmonyError:
            raise
        except Exception as exc:  # psutil (or a stand-in) failed: say which and why
            raise DiagnosticsUnavailable(
                f"system statistics unavailable: {type(exc).__name__}: {exc}"
            ) from exc

    def health(self, *, timeout: float = 2.0) -> HealthReport:
        """Check the database (reachable within ``timeout`` seconds), the schema (at head),
        the queue (depth, oldest ready job) and the last sync per provider.

        ``ready`` is true when the required parts (database, migrations) are up.
        ``timeout`` is a finite number of seconds in (0, 600], else
        :class:`~harmony.errors.InvalidInputError`.
        """
        timeout = check_seconds("timeout", timeout, high=600)
        parts: dict[str, HealthPart] = {}
        parts["database"] = self._database(timeout)
        parts["migrations"] = (
            self._schema()
            if parts["database"].status == "up"
            else _down(True, "database unreachable")
        )
        if parts["migrations"].status == "up":
            parts["queue"] = self._queue()
            parts["sync"] = self._sync()
        ready = all(part.status == "up" for part in parts.values() if part.required)
        return HealthReport(ready=ready, checked_at=self._clock.now(), parts=parts)

    def _database(self, timeout: float) -> HealthPart:
        try:
            elapsed = self._probe.ping(timeout)
        except HarmonyError as exc:
            return _down(True, str(exc))
        return HealthPart(
            status="up",
            required=True,
            detail=f"{self._probe.backend} answered",
            data={"latency_ms": elapsed},
        )

    def _schema(self) -> HealthPart:
        try:
            current, head = self._migrations.current(), self._migrations.head()
        except HarmonyError as exc:
            return _down(True, str(exc))
        if current != head:
            return _down(
                True,
                f"schema at {current or 'base'}, harmony needs {head}: run ctx.migrate()",
                {"current": current, "head": head},
            )
        return HealthPart(
            status="up", required=True, detail=f"schema at head {head}", data={"current": current}
        )

    def _queue(self) -> HealthPart:
        try:
            stats = self._jobs.stats()
        except HarmonyError as exc:
            return _down(False, str(exc))
        pending = stats.total("pending")
        return HealthPart(
            status="up",
            required=False,
            detail=f"{pending} pending jobs",
            data={"pending": pending, "oldest_ready_age_seconds": stats.oldest_ready_age_seconds},
        )

    def _sync(self) -> HealthPart:
        try:
            last: dict[str, str] = {}
            # Newest first; the first entry seen per provider is its last sync.
            for entry in self._activity.list(type="sync.run", limit=500):
                provider = str((entry.details or {}).get("provider", "*"))
                last.setdefault(provider, entry.timestamp.isoformat())
        except HarmonyError as exc:
            return _down(False, str(exc))
        detail = (
            f"last sync recorded for {len(last)} provider(s)" if last else "no sync recorded yet"
        )
        return HealthPart(status="up", required=False, detail=detail, data={"last_sync": last})

    def table_rows(self) -> dict[str, int]:
        """Rows in each of harmony's tables present in the database, by table name (for
        ``harmony info``; counting is a full scan of each table)."""
        return self._probe.row_counts()


def _down(required: bool, detail: str, data: dict[str, Any] | None = None) -> HealthPart:
    return HealthPart(status="down", required=required, detail=detail, data=data or {})


def _import_psutil() -> PsutilLike:
    try:
        module: PsutilLike = importlib.import_module("psutil")
    except ImportError as exc:
        raise DiagnosticsUnavailable(
            "system statistics need psutil: pip install psutil (or pass a psutil-like "
            "object to HarmonyContext(psutil=...) or ctx.system.stats(psutil=...))"
        ) from exc
    return module
