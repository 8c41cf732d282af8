"""The gateway's background jobs that must run once, not once per replica (the notifier, the
handoff watcher, the evaluation reports): started here at once when this gateway is the only
one, or, with several replicas, in the replica holding each job's lease (lease.py), and started
again in another one when that replica stops or dies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.replicas import Replicas
from bot.replicas.lease import Lease

T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    make: Callable[[], Awaitable[T]]
    """Start the job (again): the running job, for `end`."""
    end: Callable[[T, float], Awaitable[None]]
    """Stop a running job, giving it at most the grace (seconds) to finish its pass."""
    grace: float
    running: T | None = None
    lease: Lease | None = None

    async def start(self) -> None:
        self.running = await self.make()

    async def stop(self) -> None:
        running, self.running = self.running, None
        if running is not None:
            await self.end(running, self.grace)


class Jobs:
    def __init__(self, replicas: Replicas | None, grace: float) -> None:
        self._replicas = replicas
        self._grace = grace
        self._jobs: list[_Job[Any]] = []

    async def run(
        self,
        name: str,
        make: Callable[[], Awaitable[T]],
        end: Callable[[T, float], Awaitable[None]],
    ) -> None:
        """`make` starts the job now (one gateway), or whenever this replica gets its lease."""
        job = _Job(make, end, self._grace)
        self._jobs.append(job)
        if self._replicas is None:
            await job.start()
        else:
            job.lease = self._replicas.in_one_replica(name, job.start, job.stop)

    async def stop(self) -> None:
        """Every job stopped (its lease given back: another replica takes it), last first."""
        for job in reversed(self._jobs):
            if job.lease is not None:
                await job.lease.stop()
            await job.stop()
        self._jobs = []
