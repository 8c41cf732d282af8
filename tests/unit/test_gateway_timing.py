"""The Server-Timing bookkeeping (bot/timing.py): Rasa's time is counted for the request whose
task (or a task it started) waited for Rasa, and nowhere else."""

from __future__ import annotations

import asyncio

import pytest

from bot.timing import parse_server_timing, start_request, waiting_for_rasa


def test_the_header_parses_back() -> None:
    assert parse_server_timing("rasa;dur=78.30, gateway;dur=4.10") == {
        "rasa": 78.3,
        "gateway": 4.1,
    }
    assert parse_server_timing('db;desc="x";dur="2.5",cache') == {"db": 2.5}
    assert parse_server_timing("rasa;dur=abc, ;dur=3, x;dur") == {}
    assert parse_server_timing("") == {}


async def test_time_in_rasa_is_counted_for_its_own_request_only() -> None:
    async def request(rasa_seconds: float) -> dict[str, float]:
        timing = start_request()
        with waiting_for_rasa():
            await asyncio.sleep(rasa_seconds)
        await asyncio.sleep(0.02)  # the gateway's own work (e.g. the database)
        return parse_server_timing(timing.header())

    slow, quick = await asyncio.gather(
        asyncio.create_task(request(0.2)), asyncio.create_task(request(0.05))
    )
    assert slow["rasa"] == pytest.approx(200, abs=40)
    assert quick["rasa"] == pytest.approx(50, abs=40)
    assert quick["rasa"] < slow["rasa"]
    for figures in (slow, quick):
        assert 15 <= figures["gateway"] < figures["rasa"] + 100


def test_outside_a_timed_request_nothing_is_counted() -> None:
    with waiting_for_rasa():  # e.g. the retry worker: no request, no clock
        pass
    timing = start_request()
    assert parse_server_timing(timing.header())["rasa"] == 0.0
