"""End-to-end harness: the trained model served by a real `rasa run`, the real action server,
a freshly migrated and seeded database, all on loopback ports. Slow to start (Rasa loads
TensorFlow), so the stack is shared by the whole test session."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "models" / "current.tar.gz"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(ROOT), SQLALCHEMY_SILENCE_UBER_WARNING="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.update(RASA_TELEMETRY_ENABLED="false")  # nothing leaves the machine
    env.update(extra)
    return env


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


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, seconds: int) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited during start-up:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} not ready after {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def e2e_stack(rasa_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{work / 'assistant.db'}"
    py = sys.executable
    subprocess.run(
        [py, "-m", "store", "--url", database_url, "seed"], check=True, cwd=ROOT, env=_env()
    )
    action_port, rasa_port = _free_port(), _free_port()
    token = secrets.token_urlsafe(16)
    endpoints = work / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n')
    logs = {name: work / f"{name}.log" for name in ("actions", "rasa")}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with logs["actions"].open("wb") as out:
            actions = subprocess.Popen(
                [py, "-m", "actions", "--port", str(action_port)],
                cwd=ROOT, env=_env(DATABASE_URL=database_url), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        processes.append(actions)
        with logs["rasa"].open("wb") as out:
            rasa = subprocess.Popen(
                [str(RASA), "run", "--enable-api", "--auth-token", token, "--port", str(rasa_port),
                 "--credentials", str(ROOT / "credentials.yml"), "--endpoints", str(endpoints),
                 "--model", str(rasa_model)],
                cwd=ROOT, env=_env(), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        processes.append(rasa)
        _wait(f"http://127.0.0.1:{action_port}/health", actions, logs["actions"], 60)
        _wait(f"http://127.0.0.1:{rasa_port}/status?token={token}", rasa, logs["rasa"], 240)
        yield Stack(
            rest_url=f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook",
            api_url=f"http://127.0.0.1:{rasa_port}",
            token=token,
            database_url=database_url,
            actions_url=f"http://127.0.0.1:{action_port}",
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
