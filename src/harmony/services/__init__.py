"""Services: the lease scheduler, the worker and (to come) sync, search and diagnostics."""

from harmony.services.handlers import JobContext
from harmony.services.retry import Exponential, Fixed, RetryPolicy, WaitStrategy
from harmony.services.scheduler import LeaseScheduler, PeriodicJob, PollBackoff
from harmony.services.worker import Handler, Worker, WorkerContext, WorkerReport

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
