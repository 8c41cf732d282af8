"""End-to-end harness: the trained model served by a real `rasa run`, the real action server,
a freshly migrated and seeded database, all on loopback ports. Slow to start (Rasa loads
TensorFlow), so the stack is shared by the whole test session."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.processes import (
    RASA,
    RASA_SERVE,
    ROOT,
    free_port,
    seed,
    server_env,
    start_action_server,
    stop,
    wait_until_up,
)

MODEL = ROOT / "models" / "current.tar.gz"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def rasa_model() -> Path:
    """The trained model (trained now only if its inputs changed since the last training)."""
    if not RASA.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(".venv-rasa is missing under CI: run `make setup`")
        pytest.skip("the Rasa environment (.venv-rasa) is not set up: run `make setup`")
    subprocess.run([str(ROOT / "scripts" / "train.sh")], check=True, cwd=ROOT)
    assert MODEL.exists()
    return MODEL


@dataclass
class Stack:
    rest_url: str
    api_url: str
    token: str
    database_url: str
    actions_url: str

    def chat(self, sender: str, text: str, timeout: float = 30) -> list[dict[str, Any]]:
        """One customer message through Rasa's REST channel; the bot's replies."""
        body = json.dumps({"sender": sender, "message": text}).encode()
        request = urllib.request.Request(
            self.rest_url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            assert response.status == 200
            return list(json.load(response))

    def texts(self, sender: str, text: str) -> str:
        """The replies' texts joined: what the customer reads."""
        return "\n".join(str(r.get("text", "")) for r in self.chat(sender, text))

    def tracker(self, sender: str) -> dict[str, Any]:
        url = f"{self.api_url}/conversations/{sender}/tracker?token={self.token}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return dict(json.load(response))


@pytest.fixture(scope="session")
def e2e_stack(rasa_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{work / 'assistant.db'}"
    seed(database_url)
    action_port, rasa_port = free_port(), free_port()
    token = secrets.token_hex(16)  # never starts with "-" (rasa would read it as an option)
    action_token = secrets.token_hex(16)  # Rasa sends it, the action server requires it
    endpoints = work / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n'
        "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"
    )
    logs = {name: work / f"{name}.log" for name in ("actions", "rasa")}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        actions = start_action_server(
            action_port,
            server_env(DATABASE_URL=database_url, ACTION_SERVER_TOKEN=action_token),
            logs["actions"],
        )
        processes.append(actions)
        with logs["rasa"].open("wb") as out:
            rasa = subprocess.Popen(
                [*RASA_SERVE, "--enable-api", "--port", str(rasa_port),
                 "--credentials", str(ROOT / "credentials.yml"), "--endpoints", str(endpoints),
                 "--model", str(rasa_model)],
                cwd=ROOT, env=server_env(RASA_TOKEN=token, ACTION_SERVER_TOKEN=action_token),
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        processes.append(rasa)
        wait_until_up(f"http://127.0.0.1:{action_port}/health", actions, logs["actions"], 60)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/status?token={token}", rasa, logs["rasa"], 240)
        yield Stack(
            rest_url=f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook",
            api_url=f"http://127.0.0.1:{rasa_port}",
            token=token,
            database_url=database_url,
            actions_url=f"http://127.0.0.1:{action_port}",
        )
    finally:
        stop(processes)


class Gateway:
    def __init__(self, url: str, process: asyncio.subprocess.Process) -> None:
        self.url = url
        self.process = process

    async def stop(self, within: float = 20) -> int:
        """SIGTERM (a graceful stop, as a deploy does), killed after `within` seconds; the
        exit code."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), within)
            except TimeoutError:
                self.process.kill()
        return await self.process.wait()


@pytest.fixture
def gateway_env() -> dict[str, str]:
    """Extra environment for the gateway; a test module overrides this fixture."""
    return {}


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@asynccontextmanager
async def running_gateway(
    stack: Stack, telegram: FakeTelegram, extra_env: dict[str, str], log_path: Path
) -> AsyncIterator[Gateway]:
    """`python -m bot` in front of the shared stack, Telegram polling the fake Bot API; up
    until the block ends (a test may stop it earlier and start another: a restart)."""
    port = free_port()
    env = server_env(
        DATABASE_URL=stack.database_url,
        GATEWAY_PORT=str(port),
        RASA_URL=stack.api_url,
        RASA_TOKEN=stack.token,
        ACTION_SERVER_URL=stack.actions_url,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        NOTIFY_INTERVAL="0.5",
        **extra_env,
    )
    log = log_path.open("wb")
    polls = len(telegram.calls_of("getUpdates"))  # an earlier gateway's, in a restart
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    gateway = Gateway(url, process)
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(120):
                if process.returncode is not None:
                    break
                try:
                    async with http.get(f"{url}/health") as response:
                        if response.status in (200, 503):
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
        if process.returncode is not None:
            end = (await asyncio.to_thread(log_path.read_text))[-3000:]
            pytest.fail(f"the gateway exited:\n{end}")
        # python-telegram-bot is polling once it has asked for updates
        await telegram.wait_for_calls("getUpdates", polls + 1, within=30)
        yield gateway
    finally:
        await gateway.stop()
        log.close()


@pytest.fixture
async def gateway(
    e2e_stack: Stack, telegram: FakeTelegram, gateway_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[Gateway]:
    """`python -m bot` in front of the shared stack, Telegram polling the fake Bot API."""
    async with running_gateway(e2e_stack, telegram, gateway_env, tmp_path / "gateway.log") as up:
        yield up


async def answered(
    fake: FakeTelegram, chat_id: int, update: dict[str, Any]
) -> list[dict[str, Any]]:
    """Queue an update (a message, a button press); the messages the bot sent the chat after."""
    before = len([m for m in fake.sent if m["chat"]["id"] == chat_id])
    await fake.queue_update(update)
    await fake.wait_for_messages(before + 1, chat_id=chat_id, within=60)
    await fake.settle(1.5)  # a turn may send several messages
    return [m for m in fake.sent if m["chat"]["id"] == chat_id][before:]


async def say(fake: FakeTelegram, user: dict[str, Any], text: str) -> str:
    """Send a customer message over Telegram; the texts the bot sent back (joined)."""
    sent = await answered(fake, int(user["id"]), fake.text_update(text, user=user))
    return "\n".join(str(m.get("text", "")) for m in sent)
