"""Services: what ``ctx`` exposes above the repositories (sync, playlists, search, matching,
export, system, providers) and the queue's worker, scheduler, handlers and retry policy."""

from harmony._services.handlers import JobContext
from harmony._services.retry import Exponential, Fixed, RetryPolicy, WaitStrategy
from harmony._services.scheduler import LeaseScheduler, PeriodicJob, PollBackoff
from harmony._services.worker import Handler, Worker, WorkerContext, WorkerReport

__all__ = [
    "Exponential",
    "Fixed",
    "Handler",
    "JobContext",
    "LeaseScheduler",
    "PeriodicJob",
    "PollBackoff",
    "RetryPolicy",
    "WaitStrategy",
    "Worker",
    "WorkerContext",
    "WorkerReport",
]
