"""The real action server process (`python -m actions`) masks what it logs: a request naming a
phone number, an account number and a web chat's id is logged with none of them whole.

rasa-sdk logs the name of an action it does not know, as it came in: a stand-in for any value
of a conversation that reaches a log line in that process.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.fakes.loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0
SESSION = "3f2a6b1c-0d4e-4f5a-8b6c-7d8e9f0a9c1d"
SECRETS = ("13905710001", "138 1234 5678", "3301 0000 01", SESSION)


def _post(url: str, body: dict[str, object], token: str) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def _wait_until_up(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return
        except OSError:
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the action server did not start"
            time.sleep(0.3)


def test_the_action_server_logs_no_number_or_chat_id(tmp_path: Path) -> None:
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / "actions.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACTION_SERVER_TOKEN": token}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'unused.db'}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "actions", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_up(process, port, log)
        name = "action_for " + ", ".join(["13905710001", "138 1234 5678", "3301 0000 01"])
        body = {
            "next_action": f"{name} web:{SESSION}",
            "sender_id": f"web:{SESSION}",
            "tracker": {"sender_id": f"web:{SESSION}", "slots": {}, "events": []},
            "domain": {},
        }
        assert _post(f"http://127.0.0.1:{port}/webhook", body, token) == 404
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    logged = log.read_text(encoding="utf-8", errors="replace")
    assert "action_for 139****0001, 138****5678, 33******01 web:3f2a…9c1d" in logged
    for secret in SECRETS:
        assert secret not in logged
