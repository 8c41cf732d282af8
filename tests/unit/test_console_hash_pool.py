"""bot/console/hashing.py: password checks on their own bounded pool."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.console.hashing import HashPool, PoolFull


async def test_beyond_threads_and_queue_work_is_refused_at_once() -> None:
    pool = HashPool(threads=1, queue=2)
    release = threading.Event()
    names: list[str] = []

    def work() -> str:
        release.wait(10)
        names.append(threading.current_thread().name)
        return "done"

    running = [asyncio.ensure_future(pool.run(work)) for _ in range(3)]
    await asyncio.sleep(0)
    assert pool.stats() == {"running": 1, "waiting": 2}
    with pytest.raises(PoolFull):
        await pool.run(work)
    release.set()
    assert await asyncio.gather(*running) == ["done"] * 3
    assert all(name.startswith("console-hash") for name in names)
    await asyncio.sleep(0)  # the slots are freed from the worker thread's callback
    assert pool.busy == 0
    assert await pool.run(lambda: 42) == 42
    pool.close()


async def test_a_caller_that_gives_up_does_not_free_a_busy_thread() -> None:
    pool = HashPool(threads=1, queue=0)
    release = threading.Event()
    waiting = asyncio.ensure_future(pool.run(lambda: release.wait(10)))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(PoolFull):
        await pool.run(lambda: None)
    assert pool.stats() == {"running": 1, "waiting": 0}
    release.set()
    pool.close()


def test_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="threads"):
        HashPool(0, 1)
