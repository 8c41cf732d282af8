"""The real action server (`python -m actions`) on loopback: it listens on 127.0.0.1 unless
ACTION_HOST says otherwise, answers /webhook (and everything but /health) only with its token,
logs refusals without the token, and does not start without one."""

from __future__ import annotations

import os
import secrets
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

from tests.processes import ROOT, free_port, running_action_server

WRONG = "wrong-token-0123456789abcdef"


@dataclass
class Server:
    port: int
    token: str
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ACTION_HOST", "ACTION_SERVER_TOKEN")}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL="sqlite:///:memory:", **extra)
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Started as `make run` starts it, without ACTION_HOST."""
    log = tmp_path_factory.mktemp("actions") / "actions.log"
    token = secrets.token_hex(16)
    with running_action_server(_env(ACTION_SERVER_TOKEN=token), log) as running:
        yield Server(running.port, token, log)


def status(url: str, body: bytes | None = None, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port` (Linux: /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_it_listens_on_loopback_only_by_default(server: Server) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.fail("this test reads /proc/net/tcp (Linux), where the suite runs")
    assert listening_addresses(server.port) == {"0100007F"}  # 127.0.0.1, nothing else


WEBHOOK_BODY = b'{"next_action": "action_no_such_thing", "sender_id": "x", "tracker": {}}'


@pytest.mark.parametrize(("token"), [None, WRONG, ""])
def test_webhook_refuses_calls_without_the_token(server: Server, token: str | None) -> None:
    code, body = status(server.url("/webhook"), WEBHOOK_BODY, token)
    assert code == 401
    assert b'"code":"unauthorized"' in body.replace(b" ", b"")


def test_the_token_opens_the_webhook_and_health_stays_open(server: Server) -> None:
    code, body = status(server.url("/webhook"), WEBHOOK_BODY, server.token)
    assert code == 404  # past the check: no such action
    assert b"action_no_such_thing" in body
    assert status(server.url("/health"))[0] == 200
    assert status(server.url("/actions"))[0] == 401  # the action list is not public either
    assert status(server.url("/actions"), token=server.token)[0] == 200


def test_refusals_are_logged_without_the_token(server: Server) -> None:
    status(server.url("/webhook"), WEBHOOK_BODY, WRONG)
    deadline = time.monotonic() + 10
    while "wrong token" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = server.log.read_text()
    assert "POST /webhook from 127.0.0.1 refused: wrong token" in text
    assert WRONG not in text
    assert server.token not in text


def run_briefly(**env: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actions", "--port", str(free_port())],
        cwd=ROOT, env=_env(**env), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_it_does_not_start_without_a_token() -> None:
    done = run_briefly()
    assert done.returncode != 0
    assert "ACTION_SERVER_TOKEN is not set" in done.stderr
