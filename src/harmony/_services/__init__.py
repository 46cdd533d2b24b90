"""Services: the lease scheduler, the worker and (to come) sync, search and diagnostics."""

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
