"""The Server-Timing bookkeeping (bot/timing.py): Rasa's time is counted for the request whose
task (or a task it started) waited for Rasa, and nowhere else."""

from __future__ import annotations

import asyncio

import pytest

from bot import timing
from bot.timing import parse_server_timing, start_request, waiting_for_rasa


def test_the_header_parses_back() -> None:
    assert parse_server_timing("rasa;dur=78.30, gateway;dur=4.10") == {
        "rasa": 78.3,
        "gateway": 4.1,
    }
    assert parse_server_timing('db;desc="x";dur="2.5",cache') == {"db": 2.5}
    assert parse_server_timing("rasa;dur=abc, ;dur=3, x;dur") == {}
    assert parse_server_timing("") == {}


async def test_time_in_rasa_is_counted_for_its_own_request_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two requests wait for Rasa at once; each header counts only its own wait. The clock is
    the test's (no real time passes), so the figures are exact."""
    clock = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    rasa_done = {"slow": asyncio.Event(), "quick": asyncio.Event()}
    finish = asyncio.Event()

    async def request(name: str) -> dict[str, float]:
        timer = start_request()
        with waiting_for_rasa():
            await rasa_done[name].wait()
        await finish.wait()  # the gateway's own work (e.g. the database)
        return parse_server_timing(timer.header())

    tasks = {name: asyncio.create_task(request(name)) for name in rasa_done}
    await asyncio.sleep(0)  # both started at 0 and are waiting for Rasa
    clock[0] = 0.05
    rasa_done["quick"].set()
    await asyncio.sleep(0)
    clock[0] = 0.2
    rasa_done["slow"].set()
    await asyncio.sleep(0)
    clock[0] = 0.22
    finish.set()
    slow, quick = await tasks["slow"], await tasks["quick"]
    assert slow == {"rasa": pytest.approx(200), "gateway": pytest.approx(20)}
    assert quick == {"rasa": pytest.approx(50), "gateway": pytest.approx(170)}


def test_outside_a_timed_request_nothing_is_counted() -> None:
    with waiting_for_rasa():  # e.g. the retry worker: no request, no clock
        pass
    timing = start_request()
    assert parse_server_timing(timing.header())["rasa"] == 0.0
