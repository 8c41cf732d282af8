"""The delivery worker in tests: a clock that runs from a chosen moment, a fast pace for the
recording channel, channels that refuse or hang like real ones, and draining the queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy.orm import Session, sessionmaker

from bot.messages import Reply
from bot.outages.worker import OutageWorker
from bot.router import Router
from store.configuration.outages import ChannelPace, OutageConfig
from store.db import unit_of_work
from store.outages import queue
from tests.fakes.gateway import RecordingChannel
from tests.integration.outages.support import Scene, notices


def running_clock(start: datetime) -> Callable[[], datetime]:
    """`start`, then moving on with real time (the pace's slots need time to pass)."""
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


def fast(config: OutageConfig, *, per_second: float = 200, per_chat: float = 0) -> OutageConfig:
    """The test channels ('fake', 'web') at a quick pace, a short lease and poll."""
    pace = ChannelPace(per_second, per_chat)
    delivery = replace(
        config.delivery,
        poll_seconds=0.05,
        lease=timedelta(seconds=2),
        channels=MappingProxyType({"fake": pace, "web": pace}),
        max_attempts=3,
    )
    return replace(config, delivery=delivery)


def worker(
    scene: Scene,
    router: Router,
    *,
    config: OutageConfig | None = None,
    at: datetime | None = None,
    factory: sessionmaker[Session] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> OutageWorker:
    """A gateway's worker: the scene's database (or `factory`: another replica's engine), the
    fast pace (or `config`), its clock running from `at` (default the scene's now)."""
    return OutageWorker(
        factory=factory or scene.factory,
        router=router,
        settings=scene.settings,
        config=config or fast(scene.config),
        clock=clock or running_clock(at or scene.now),
    )


def waiting(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return queue.waiting(session)


async def drain(
    workers: Sequence[OutageWorker], factory: sessionmaker[Session], within: float = 20.0
) -> None:
    """Run the workers' cycles until nothing is queued or claimed (and no notice waits)."""
    deadline = time.monotonic() + within
    while True:
        await asyncio.gather(*(w.run_once() for w in workers))
        if waiting(factory) == 0 and all(n.state == "fanned_out" for n in notices(factory)):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{waiting(factory)} deliveries still waiting")
        await asyncio.sleep(0.02)


class RefusingChannel(RecordingChannel):
    """Answers the next sends with the given exceptions, then records like the real one."""

    def __init__(self, name: str = "fake") -> None:
        super().__init__(name)
        self.refusals: list[Exception] = []
        self.attempts = 0

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        self.attempts += 1
        if self.refusals:
            raise self.refusals.pop(0)
        await super().send(chat_id, replies)


class SlowChannel(RecordingChannel):
    """Each send takes a while; with `hang` set, a send never completes (the request never
    reached the channel: a gateway killed meanwhile)."""

    def __init__(self, name: str = "fake", delay: float = 0.01) -> None:
        super().__init__(name)
        self.delay = delay
        self.hang = False

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        if self.hang:
            await asyncio.Event().wait()
        await asyncio.sleep(self.delay)
        await super().send(chat_id, replies)
