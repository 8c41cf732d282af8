"""`make run` with several Rasa workers (RASA_WORKERS), as scripts/run.sh starts them: the
supervisor starts, watches and restarts each worker, and the gateway keeps answering a
conversation whose worker was killed from the other one, at once. Rasa is played by the fake
Rasa as a process (tests/fakes/rasa_process.py), as in test_make_run.py."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from bot.rasa_pool import ranked
from tests.integration.test_make_run import (
    HEALTH_TOKEN,
    START_SECONDS,
    _chat,
    database,
    fake_rasa_python,
    port_free,
    started,
)
from tests.processes import free_port

__all__ = ["database", "fake_rasa_python"]  # the fixtures this module uses

pytestmark = pytest.mark.slow


def two_ports() -> int:
    """A free port whose second worker's port (+2, scripts/run.sh) is free too."""
    while True:
        port = free_port()
        if port_free(port + 2):
            return port


async def test_each_rasa_worker_is_supervised_and_covers_for_the_other(
    tmp_path: Path, database: str, fake_rasa_python: Path
) -> None:
    port = two_ports()
    workers = {f"http://127.0.0.1:{port}": "rasa", f"http://127.0.0.1:{port + 2}": "rasa-2"}
    settings = {
        "RASA_WORKERS": "2",
        "RASA_STANDBY": "0",
        "RASA_PORT": str(port),
        "REDIS_URL": "redis://127.0.0.1:6379/1",  # Rasa's lock store: the fake reads no endpoints
    }
    async with started(tmp_path, database, fake_rasa_python, **settings) as run:
        await run.until("the stack", lambda: run.status().get("state") == "running", START_SECONDS)
        assert {"rasa", "rasa-2"} <= set(run.status()["servers"])
        url = f"http://127.0.0.1:{run.ports['GATEWAY_PORT']}"
        # a conversation the second worker answers (the gateway's conversation id: api:<sender>)
        sender = next(
            f"s{n}" for n in range(100) if workers[ranked(f"api:s{n}", workers)[0]] == "rasa-2"
        )
        async with aiohttp.ClientSession() as session:
            first = await _chat(session, url, sender, "你好")
            assert not first["degraded"]
            os.killpg(run.server("rasa-2")["pid"], signal.SIGKILL)
            await run.until("rasa-2 down", lambda: run.server("rasa-2")["restarts"] == 1, 30)
            meanwhile = await _chat(session, url, sender, "东山村停电了")
            assert not meanwhile["degraded"]  # answered by the other worker at once
            assert [r["text"] for r in meanwhile["replies"]] == ["收到：东山村停电了"]
            await run.until("rasa-2 back", lambda: run.server("rasa-2")["state"] == "running", 60)
            assert run.server("rasa")["restarts"] == 0
            assert not (await _chat(session, url, sender, "谢谢"))["degraded"]
            headers = {"Authorization": f"Bearer {HEALTH_TOKEN}"}
            for _ in range(40):  # the gateway's own probe finds the worker back
                async with session.get(f"{url}/health", headers=headers) as answer:
                    health = await answer.json()
                if set(health["rasa_workers"].values()) == {"ok"}:
                    break
                await asyncio.sleep(0.5)
            assert set(health["rasa_workers"]) == set(workers)
            assert set(health["rasa_workers"].values()) == {"ok"}
        run.process.send_signal(signal.SIGINT)
        assert await run.exit_code() == 0
        run.assert_nothing_left()


async def test_several_workers_need_redis(
    tmp_path: Path, database: str, fake_rasa_python: Path
) -> None:
    settings = {"RASA_WORKERS": "2", "REDIS_URL": ""}
    async with started(tmp_path, database, fake_rasa_python, **settings) as run:
        assert await run.exit_code() == 1
        assert "RASA_WORKERS=2: several Rasa workers take turns on a conversation" in run.text
        assert "set REDIS_URL" in run.text
        assert run.status() == {}
