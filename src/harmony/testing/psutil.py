"""A stand-in for psutil with fixed figures, for tests of diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

__all__ = ["FakePsutil"]


@dataclass
class FakePsutil:
    """Implements the psutil functions ``ctx.system.stats()`` uses, with fixed figures.

    Change a field to change what it reports; set ``fail`` to an exception to make every
    call raise it (``DiagnosticsUnavailable`` is then expected from harmony).
    """

    cpu: float = 12.5
    cores: int = 8
    memory_total: int = 16 * 2**30
    memory_used: int = 4 * 2**30
    disk_total: int = 500 * 2**30
    disk_used: int = 100 * 2**30
    rss: int = 64 * 2**20
    threads: int = 3
    fail: BaseException | None = None
    disk_paths: list[str] = field(default_factory=list)

    def _check(self) -> None:
        if self.fail is not None:
            raise self.fail

    def cpu_percent(self, interval: float | None = None) -> float:
        """The configured CPU percent."""
        self._check()
        return self.cpu

    def cpu_count(self, logical: bool = True) -> int:
        """The configured number of cores."""
        self._check()
        return self.cores

    def cpu_times_percent(self, interval: float | None = None) -> Any:
        """idle/user/system split of the configured CPU percent."""
        self._check()
        return SimpleNamespace(idle=100 - self.cpu, user=self.cpu * 0.8, system=self.cpu * 0.2)

    def virtual_memory(self) -> Any:
        """Memory figures from the configured total and used bytes."""
        self._check()
        free = self.memory_total - self.memory_used
        return SimpleNamespace(
            total=self.memory_total,
            available=free,
            used=self.memory_used,
            free=free,
            percent=round(100 * self.memory_used / self.memory_total, 1),
        )

    def disk_usage(self, path: str) -> Any:
        """Disk figures for ``path`` (recorded in ``disk_paths``)."""
        self._check()
        self.disk_paths.append(path)
        return SimpleNamespace(
            total=self.disk_total,
            used=self.disk_used,
            free=self.disk_total - self.disk_used,
            percent=round(100 * self.disk_used / self.disk_total, 1),
        )

    def net_io_counters(self) -> Any:
        """Fixed network counters."""
        self._check()
        return SimpleNamespace(bytes_sent=1000, bytes_recv=2000, packets_sent=10, packets_recv=20)

    def Process(self, pid: int | None = None) -> Any:
        """This process: the configured RSS and thread count."""
        self._check()
        rss, threads = self.rss, self.threads
        return SimpleNamespace(
            memory_info=lambda: SimpleNamespace(rss=rss), num_threads=lambda: threads
        )
