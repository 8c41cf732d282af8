"""The whole gateway: create_app with the real channel adapters, and `python -m bot` as a
process (graceful shutdown on SIGTERM, masked logs), against the fake Rasa."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.keys import CORE_ROUTER, ROUTER
from store.config import PROJECT_ROOT
from tests.fakes.gateway import eventually, settings_for
from tests.fakes.loopback import free_port
from tests.fakes.rasa import FakeRasa


async def test_the_channels_start_with_the_core(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    app = create_app(settings_for(rasa, db_url))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert app[ROUTER] is app[CORE_ROUTER]
        assert (await client.get("/health")).status == 200
        page = await client.get("/")
        assert page.status == 200  # the web chat's page
        status = await client.post("/api/v1/messages", json={"sender": "a", "text": "你好"})
        assert status.status == 200


def _env(rasa: FakeRasa, db_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "GATEWAY_"))}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        DATABASE_URL=db_url,
        RASA_URL=rasa.url,
        RASA_TOKEN=rasa.token or "",
        RASA_TIMEOUT="5",
        ACTION_SERVER_URL=rasa.actions_url,
        GATEWAY_PORT=str(port),
        NOTIFY_INTERVAL="0",
        GATEWAY_SHUTDOWN_TIMEOUT="10",
    )
    return env


async def test_sigterm_finishes_the_message_in_flight(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--log-level", "INFO",
        env=_env(rasa, db_url, port), cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def healthy() -> bool:
                try:
                    async with http.get(f"{base}/health") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(healthy, within=30)
            phone_sender = {"sender": "13905710001", "text": "我的电话13905710001，停电了"}
            await rasa.down()
            async with http.post(f"{base}/api/v1/messages", json=phone_sender) as response:
                assert (await response.json())["degraded"] is True
            await rasa.up()
            await eventually(lambda: len(rasa.turns) == 1)  # the retry worker answered it
            await asyncio.sleep(0.3)
            rasa.delay = 1.0

            async def ask() -> dict[str, Any]:
                body = {"sender": "alice", "text": "东山村停电了"}
                async with http.post(f"{base}/api/v1/messages", json=body) as response:
                    assert response.status == 200
                    return dict(await response.json())

            asked = rasa.requests
            in_flight = asyncio.create_task(ask())
            await eventually(lambda: rasa.requests > asked)  # Rasa is thinking now
            process.send_signal(signal.SIGTERM)
            answer = await in_flight
            assert rasa.texts()[-1] == "东山村停电了"
            assert answer["degraded"] is False
            assert answer["replies"] == [{"text": "收到：东山村停电了"}]
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stdout is not None
    log = (await process.stdout.read()).decode("utf-8", "replace")
    assert "gateway core stopped" in log
    assert "api:139****0001" in log  # the degraded message was logged, masked
    assert "13905710001" not in log
