"""The job queue under real worker processes (no threads standing in for them).

Several processes drain one queue and every job runs exactly once; a worker killed with
SIGKILL while it holds leases loses them when they expire, another worker re-runs its jobs,
and the dead worker's tokens can no longer settle anything. The workers are
``worker_process.py`` started with :class:`subprocess.Popen`; the tests use the real
system clock (processes cannot share a ManualClock) and only bounded waits.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from harmony import (
    HarmonyContext,
    HarmonySettings,
    JobContext,
    JobSpec,
    LeasedJob,
    LeaseLost,
    Worker,
)
from harmony._db.models import QueueJobRow
from harmony._repositories.job_sql import EXPIRED_LEASE_ERROR
from harmony.testing import temporary_schema
from harmony.testing.pytest_plugin import require_postgres_url

WORKER_SCRIPT = Path(__file__).with_name("worker_process.py")
JOB_TYPE = "proc.job"
_INSERT = text("INSERT INTO processed (job_id, worker_id) VALUES (:job_id, :worker_id)")
_CREATE_PROCESSED = text(
    "CREATE TABLE processed (job_id BIGINT PRIMARY KEY, worker_id VARCHAR(64) NOT NULL)"
)
J = QueueJobRow


class _WorkerProcesses:
    """Starts ``worker_process.py`` processes; whichever still runs at the end is killed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, worker_id: str, *, settings: HarmonySettings, mode: str, **options: Any
    ) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            str(WORKER_SCRIPT),
            "--url",
            settings.database_url,
            "--mode",
            mode,
            "--worker-id",
            worker_id,
            "--job-type",
            JOB_TYPE,
        ]
        if settings.database_schema:
            command += ["--schema", settings.database_schema]
        for name, value in options.items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                command.append(flag)
            elif value is not None and value is not False:
                command += [flag, str(value)]
        with open(self._out(worker_id), "wb") as out, open(self._err(worker_id), "wb") as err:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, stderr=err)
        self.procs[worker_id] = proc
        return proc

    def ready_file(self, worker_id: str) -> Path:
        return self.folder / f"{worker_id}.ready"

    def go(self) -> None:
        """Release processes started with ``wait_for_go=True``."""
        for proc in self.procs.values():
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.close()

    def finish(self, worker_id: str, timeout: float) -> dict[str, Any]:
        """Wait for a drain process to exit 0 and return the report it printed."""
        proc = self.procs[worker_id]
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"worker {worker_id} still running after {timeout} s:\n{self.stderr(worker_id)}"
            )
        out = self._out(worker_id).read_text()
        assert proc.returncode == 0, (
            f"worker {worker_id} exited {proc.returncode}:\n{out}\n{self.stderr(worker_id)}"
        )
        report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        report["stderr"] = self.stderr(worker_id)
        return report

    def check_alive(self) -> None:
        for worker_id, proc in self.procs.items():
            if proc.poll() is not None:
                pytest.fail(
                    f"worker {worker_id} exited early ({proc.returncode}):\n{self.stderr(worker_id)}"
                )

    def stderr(self, worker_id: str) -> str:
        return self._err(worker_id).read_text(errors="replace")[-4000:]

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL is not ignorable
                proc.wait(10)
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()

    def _out(self, worker_id: str) -> Path:
        return self.folder / f"{worker_id}.out"

    def _err(self, worker_id: str) -> Path:
        return self.folder / f"{worker_id}.err"


@contextmanager
def worker_processes(folder: Path) -> Iterator[_WorkerProcesses]:
    """Worker processes killed on the way out, before the database they use is dropped."""
    procs = _WorkerProcesses(folder)
    try:
        yield procs
    finally:
        procs.kill_all()


def _wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    check: Callable[[], None] | None = None,
) -> None:
    """Poll ``condition`` every 50 ms; fail after ``timeout`` s (or when ``check`` fails)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if check is not None:
            check()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.05)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _prepare(ctx: HarmonyContext, jobs: int, payload: dict[str, Any] | None = None) -> list[int]:
    """Migrate, create ``processed`` and enqueue ``jobs`` jobs; return their ids."""
    ctx.migrate()
    with ctx.db.write() as conn:
        conn.execute(_CREATE_PROCESSED)
    stored = ctx.jobs.enqueue_many(
        [JobSpec(JOB_TYPE, {"n": n, **(payload or {})}) for n in range(jobs)]
    )
    return [job.id for job in stored]


def _processed(ctx: HarmonyContext) -> list[tuple[int, str]]:
    with ctx.db.connect() as conn:
        rows = conn.execute(text("SELECT job_id, worker_id FROM processed")).all()
    return [(row.job_id, row.worker_id) for row in rows]


def _attempts_by_status(ctx: HarmonyContext) -> dict[tuple[str, int], int]:
    with ctx.db.connect() as conn:
        rows = conn.execute(
            select(J.status, J.attempts, func.count()).group_by(J.status, J.attempts)
        ).all()
    return {(status, attempts): count for status, attempts, count in rows}


def _leases_of(ctx: HarmonyContext, worker_id: str) -> list[Any]:
    with ctx.db.connect() as conn:
        return list(
            conn.execute(
                select(
                    J.id,
                    J.type,
                    J.payload,
                    J.priority,
                    J.attempts,
                    J.lease_token,
                    J.lease_expires_at,
                    J.available_at,
                    J.leased_by,
                )
                .where(J.status == "leased", J.leased_by == worker_id)
                .order_by(J.id)
            )
        )


def _drain_with_processes(
    settings: HarmonySettings,
    folder: Path,
    worker_ids: Sequence[str],
    *,
    timeout: float,
    **options: Any,
) -> list[dict[str, Any]]:
    """Start one drain process per id, release them together, return their reports."""
    with worker_processes(folder) as procs:
        for worker_id in worker_ids:
            procs.start(
                worker_id,
                settings=settings,
                mode="drain",
                ready_file=procs.ready_file(worker_id),
                wait_for_go=True,
                **options,
            )
        _wait_until(
            lambda: all(procs.ready_file(w).exists() for w in worker_ids),
            timeout=60,
            what="every worker process is connected",
            check=procs.check_alive,
        )
        procs.go()
        return [procs.finish(worker_id, timeout) for worker_id in worker_ids]


def _assert_drained_exactly_once(
    ctx: HarmonyContext,
    ids: list[int],
    reports: list[dict[str, Any]],
    worker_ids: Sequence[str],
    *,
    require_spread: bool = True,
) -> None:
    assert ctx.jobs.stats().counts == {JOB_TYPE: {"completed": len(ids)}}
    # One try per job: a second run would have hit the primary key of ``processed`` and
    # been retried (attempts 2) or dead-lettered.
    assert _attempts_by_status(ctx) == {("completed", 1): len(ids)}
    processed = _processed(ctx)
    assert len(processed) == len(ids)
    assert sorted(job_id for job_id, _ in processed) == sorted(ids)  # none lost, none extra
    per_worker = {w: sum(1 for _, by in processed if by == w) for w in worker_ids}
    assert sum(per_worker.values()) == len(ids)  # leased_by was always one of ours
    assert {r["worker_id"]: r["completed"] for r in reports} == per_worker
    for report in reports:
        assert (report["retried"], report["dead_lettered"], report["lost"]) == (0, 0, 0), report
    if require_spread:
        assert sum(1 for n in per_worker.values() if n) > 1, (
            f"only one process did work: {per_worker}"
        )


@pytest.mark.slow
@pytest.mark.postgres_only
def test_four_worker_processes_drain_one_queue_exactly_once(tmp_path: Path) -> None:
    url = require_postgres_url()
    worker_ids = [f"pg-worker-{n}" for n in range(4)]
    with temporary_schema(url) as schema:
        settings = HarmonySettings(database_url=url, database_schema=schema)
        with HarmonyContext(settings) as ctx:
            # What races is the lease, so the test wants many lease calls, not many jobs:
            # 2,000 jobs in batches of 5 are 400 lease calls by four processes at once.
            # With SKIP LOCKED taken out of the claim, two workers lease the same rows in
            # 5-15 batches per run (8 runs of 8 failed), more than the 10,000 jobs in
            # batches of 100 this test drained before (1-7 batches, 5 runs of 5 failed)
            # at a fifth of the handler work.
            ids = _prepare(ctx, 2_000)
            reports = _drain_with_processes(
                settings, tmp_path, worker_ids, timeout=90, batch_size=5
            )
            _assert_drained_exactly_once(ctx, ids, reports, worker_ids)


@pytest.mark.slow
def test_two_worker_processes_on_one_sqlite_file_drain_every_job_exactly_once(
    tmp_path: Path,
) -> None:
    settings = HarmonySettings(database_url=f"sqlite:///{tmp_path / 'shared.db'}")
    worker_ids = ["sqlite-worker-0", "sqlite-worker-1"]
    with HarmonyContext(settings) as ctx:
        ids = _prepare(ctx, 2_000)
        reports = _drain_with_processes(settings, tmp_path, worker_ids, timeout=90, concurrency=2)
        # One SQLite writer at a time drains 2,000 no-op jobs in tens of milliseconds, so
        # whether the second process gets a turn is timing; exactly-once is the point here.
        _assert_drained_exactly_once(ctx, ids, reports, worker_ids, require_spread=False)
        for report in reports:
            assert "locked" not in report["stderr"], report["stderr"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hold", "write-and-hold"])
def test_jobs_of_a_killed_worker_run_again_after_their_leases_expire_and_its_tokens_are_refused(
    harmony_settings: HarmonySettings, tmp_path: Path, mode: str
) -> None:
    """``hold``: the handler sleeps while the batch is leased (heart-beaten every 2/3 s).
    ``write-and-hold``: it first writes its row through its session, uncommitted when the
    process dies, so the re-run's write must not collide with it."""
    held_count, total = 5, 20
    with HarmonyContext(harmony_settings) as ctx, worker_processes(tmp_path) as procs:
        ids = _prepare(ctx, total)
        holding = tmp_path / "holding.json"
        victim = procs.start(
            "doomed",
            settings=harmony_settings,
            mode=mode,
            lease_seconds=2,
            batch_size=held_count,
            holding_file=holding,
        )
        _wait_until(
            lambda: holding.exists() and len(_leases_of(ctx, "doomed")) == held_count,
            timeout=60,
            what="the doomed worker holds its batch",
            check=procs.check_alive,
        )
        running = json.loads(holding.read_text())["job_id"]
        # Only the job whose handler runs is charged (recorded once it ran 0.1 s); its
        # batch-mates were only leased. On SQLite a handler holding the write lock keeps
        # the record out too (it is written on another connection): that try goes uncharged.
        recorded = not (mode == "write-and-hold" and ctx.db.backend == "sqlite")
        if recorded:
            _wait_until(
                lambda: {r.id: r.attempts for r in _leases_of(ctx, "doomed")}[running] == 1,
                timeout=30,
                what="the running job's try is recorded",
            )
        else:
            time.sleep(0.5)
        held = _leases_of(ctx, "doomed")
        assert {row.id: row.attempts for row in held} == {
            row.id: int(recorded and row.id == running) for row in held
        }

        victim.send_signal(signal.SIGKILL)
        assert victim.wait(10) == -signal.SIGKILL

        # The dead worker's leases outlive it until they expire (no daemon, no heartbeat).
        _wait_until(
            lambda: all(r.lease_expires_at < _utcnow() for r in _leases_of(ctx, "doomed")),
            timeout=30,
            what="the dead worker's leases expire",
        )
        still_held = _leases_of(ctx, "doomed")
        assert [(r.id, r.lease_token) for r in still_held] == [(r.id, r.lease_token) for r in held]

        stale = {
            row.id: LeasedJob(
                id=row.id,
                type=row.type,
                payload=row.payload,
                priority=row.priority,
                attempts=row.attempts,
                token=row.lease_token,
                lease_expires_at=row.lease_expires_at,
                available_at=row.available_at,
                leased_by=row.leased_by,
            )
            for row in held
        }
        refused_while_re_leased: list[int] = []
        rerun_attempts: dict[int, int] = {}

        def handler(job: JobContext) -> None:
            if job.job.id in stale:
                rerun_attempts[job.job.id] = job.job.attempts
                assert job.job.token != stale[job.job.id].token
                try:  # the dead worker's token, while the job is leased again
                    ctx.jobs.complete(stale[job.job.id])
                except LeaseLost:
                    refused_while_re_leased.append(job.job.id)
            job.session.execute(_INSERT, {"job_id": job.job.id, "worker_id": job.job.leased_by})

        rescuer = Worker(ctx, {JOB_TYPE: handler}, worker_id="rescuer", batch_size=50)
        report = rescuer.run_until_idle()

        assert (report.completed, report.retried, report.dead_lettered, report.lost) == (
            total,
            0,
            0,
            0,
        )
        assert ctx.jobs.stats().counts == {JOB_TYPE: {"completed": total}}
        # The killed try shows on the job that was running, and only there.
        extra = {running} if recorded else set()
        assert rerun_attempts == {job_id: 2 if job_id in extra else 1 for job_id in stale}
        assert _attempts_by_status(ctx) == (
            {("completed", 1): total - 1, ("completed", 2): 1}
            if recorded
            else {("completed", 1): total}
        )
        assert sorted(refused_while_re_leased) == sorted(stale)
        assert sorted(_processed(ctx)) == [(job_id, "rescuer") for job_id in sorted(ids)]

        for job_id, job in stale.items():  # and after the re-run completed it
            with pytest.raises(LeaseLost):
                ctx.jobs.complete(job)
            with pytest.raises(LeaseLost):
                ctx.jobs.fail(job, "stale worker")
            with pytest.raises(LeaseLost):
                ctx.jobs.heartbeat(job)
            stored = ctx.jobs.get(job_id)
            assert (stored.status, stored.attempts) == ("completed", 2 if job_id in extra else 1)
            assert stored.last_error == EXPIRED_LEASE_ERROR  # it was recovered once


@pytest.mark.slow
def test_a_failed_job_does_not_keep_the_sqlite_write_lock_while_the_rest_of_its_batch_runs(
    tmp_path: Path,
) -> None:
    """The worker process dead-letters its first job, then runs 16 handlers that sleep
    0.2 s before writing. Meanwhile another process (this one, with a 1.5 s busy timeout)
    must be able to write to the file: the worker holds the lock only while it writes."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    settings = HarmonySettings(database_url=url, sqlite_busy_timeout_ms=1500)
    with HarmonyContext(settings) as ctx, worker_processes(tmp_path) as procs:
        ctx.migrate()
        failing = ctx.jobs.enqueue(JOB_TYPE, {"fail": True}, priority=9)  # first in the batch
        ids = _prepare(ctx, 16, {"sleep": 0.2})
        sleeping = tmp_path / "sleeping"
        procs.start(
            "sqlite-worker",
            settings=HarmonySettings(database_url=url),
            mode="drain",
            batch_size=50,
            max_attempts=1,
            holding_file=sleeping,
        )
        _wait_until(
            sleeping.exists, timeout=60, what="the worker runs its batch", check=procs.check_alive
        )

        ctx.jobs.enqueue("other.job", {})  # with the bug: DatabaseError "database is locked"

        report = procs.finish("sqlite-worker", timeout=60)
        assert (report["completed"], report["dead_lettered"]) == (16, 1)
        assert ctx.jobs.get(failing.id).status == "failed"
        assert sorted(job_id for job_id, _ in _processed(ctx)) == sorted(ids)


def _terminate_connections(ctx: HarmonyContext, application_name: str) -> int:
    with ctx.db.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": application_name},
            ).scalar_one()
        )


@pytest.mark.slow
@pytest.mark.postgres_only
def test_a_worker_process_survives_its_database_connections_being_terminated(
    tmp_path: Path,
) -> None:
    """PostgreSQL restarts, fail-overs and idle-connection killers drop connections. A drop
    that lands on a lease makes the worker lease again; one that lands in a job fails that
    try (its writes roll back) and the job is retried, while the rest of the batch goes on
    on a new connection (``tests/queue/worker/test_faults.py`` drops a job's connection
    deterministically). The worker keeps working, and every job's effect happens exactly
    once."""
    url = require_postgres_url()
    with temporary_schema(url) as schema:
        settings = HarmonySettings(database_url=url, database_schema=schema)
        with HarmonyContext(settings) as ctx, worker_processes(tmp_path) as procs:
            # Enough jobs that the worker is still draining through the terminations below
            # (each lands on a lease or a handler's write); what it drains after them
            # proves nothing more, so 2,000 jobs rather than 6,000. A worker that lets a
            # failed lease end it fails here at either size.
            ids = _prepare(ctx, 2_000)
            worker = procs.start(
                "pg-dropped", settings=settings, mode="drain", lease_seconds=2, batch_size=100
            )
            _wait_until(
                lambda: ctx.jobs.stats().total("completed") >= 200,
                timeout=60,
                what="the worker is draining",
                check=procs.check_alive,
            )
            terminated = 0
            for _ in range(10):  # several times: one may land between two batches
                if worker.poll() is not None or ctx.jobs.stats().total("completed") == len(ids):
                    break
                terminated += _terminate_connections(ctx, "pg-dropped")
                time.sleep(0.2)
            assert terminated

            procs.finish("pg-dropped", timeout=120)
            assert ctx.jobs.stats().counts == {JOB_TYPE: {"completed": len(ids)}}
            assert sorted(job_id for job_id, _ in _processed(ctx)) == sorted(ids)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigterm_stops_a_serving_worker_which_releases_its_unstarted_jobs(
    tmp_path: Path, backend: str
) -> None:
    """A worker process serving with ``stop_on_signals()`` gets SIGTERM while its first job
    of a batch of 8 runs: that job finishes, the other 7 are released (pending, the try not
    counted), and the process exits 0."""
    if backend == "sqlite":
        settings = HarmonySettings(database_url=f"sqlite:///{tmp_path / 'serve.db'}")
        _serve_and_terminate(tmp_path, settings)
        return
    url = require_postgres_url()
    with temporary_schema(url) as schema:
        _serve_and_terminate(tmp_path, HarmonySettings(database_url=url, database_schema=schema))


def _serve_and_terminate(tmp_path: Path, settings: HarmonySettings) -> None:
    with HarmonyContext(settings) as ctx, worker_processes(tmp_path) as procs:
        ctx.migrate()
        ids = _prepare(ctx, 8, {"sleep": 1.0})
        started = tmp_path / "started"
        proc = procs.start(
            "server", settings=settings, mode="serve", batch_size=8, holding_file=started
        )
        _wait_until(
            started.exists, timeout=60, what="the first handler runs", check=procs.check_alive
        )
        proc.send_signal(signal.SIGTERM)
        report = procs.finish("server", timeout=60)
        assert report["released"] == 7
        jobs = [ctx.jobs.get(job_id) for job_id in ids]
        assert sorted(job.status for job in jobs) == ["completed"] + ["pending"] * 7
        assert all(job.attempts == 0 for job in jobs if job.status == "pending")
        assert len(_processed(ctx)) == 1
