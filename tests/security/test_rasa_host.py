"""DNS rebinding against Rasa's HTTP API on loopback: a request whose Host is not a name Rasa
is known by is refused before any route sees it (its webhooks need no token at all).

Rasa's real server application (rasa.core.run.configure_app on Sanic 21.12, in .venv-rasa) with
the gateway's input channel, whose blueprint installs the check (rasa_addons/host_check.py),
runs in a subprocess on a free loopback port. No model is needed for what is tested here, so
no `rasa run` and no training.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.processes import RASA_PYTHON, ROOT, free_port, stop

SERVER = Path(__file__).with_name("rasa_host_server.py")
TOKEN = "rasa-token-for-tests"
START_SECONDS = 180.0  # importing Rasa takes a while on a busy 2-core machine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not RASA_PYTHON.exists(), reason="needs the Rasa environment (.venv-rasa)"),
]


async def _ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    async with aiohttp.ClientSession() as http:
        while process.poll() is None:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"Rasa's server not up after {START_SECONDS:.0f} s")
            await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("rasa-host") / "rasa.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_TOKEN": TOKEN,
        "RASA_ALLOWED_HOSTS": "rasa",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(RASA_PYTHON), str(SERVER), str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(_ready(f"{base}/", process))
        if process.poll() is not None:
            raise AssertionError(f"Rasa's server exited:\n{log.read_text()[-3000:]}")
        yield base
    finally:
        stop([process])


REQUESTS = [
    ("GET", "/", None),
    ("GET", f"/status?token={TOKEN}", None),
    ("GET", f"/conversations/web:x/tracker?token={TOKEN}", None),
    ("POST", "/webhooks/gateway/webhook", {"sender": "web:x", "message": "查电费"}),
    ("OPTIONS", "/webhooks/gateway/webhook", None),
]


@pytest.mark.parametrize("host", ["evil.example:5005", "evil.example", "localhost.evil.example"])
async def test_a_rebound_name_is_refused_on_every_route(rasa_server: str, host: str) -> None:
    async with aiohttp.ClientSession() as http:
        for method, path, body in REQUESTS:
            async with http.request(
                method,
                rasa_server + path,
                json=body,
                headers={"Host": host, "Origin": f"http://{host}"},
            ) as response:
                assert response.status == 400, (method, path)
                assert (await response.json())["error"] == "unknown host"


@pytest.mark.parametrize("host", ["localhost:5005", "127.0.0.1:5005", "[::1]:5005", "rasa:5005"])
async def test_the_names_rasa_is_known_by_pass(rasa_server: str, host: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{rasa_server}/", headers={"Host": host}) as response,
    ):
        assert response.status == 200
        assert "Hello from Rasa" in await response.text()
