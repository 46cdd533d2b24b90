"""Services: the lease scheduler, the worker and (to come) sync, search and diagnostics."""

from harmony.services.retry import RetryPolicy, WaitStrategy
from harmony.services.scheduler import LeaseScheduler, PeriodicJob, PollBackoff
from harmony.services.worker import Handler, Worker, WorkerContext, WorkerReport

__all__ = [
    "Handler",
    "LeaseScheduler",
    "PeriodicJob",
    "PollBackoff",
    "RetryPolicy",
    "WaitStrategy",
    "Worker",
    "WorkerContext",
    "WorkerReport",
]
