"""The real servers as child processes on loopback, for the tests that need the real thing (the
end-to-end stack, the attack suite, the action server's own tests): the environment they get,
a seeded database, starting the action server, waiting for a server to answer, stopping them.
The fakes of tests/fakes/ stand in for them everywhere else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.loopback import free_port

ROOT = Path(__file__).resolve().parents[1]
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
RASA_SERVE = [str(RASA_PYTHON), "-m", "rasa_addons.serve"]
"""`rasa run` with the token from RASA_TOKEN, never on the command line (rasa_addons/serve.py)."""

__all__ = [
    "RASA",
    "RASA_PYTHON",
    "RASA_SERVE",
    "ROOT",
    "RunningActionServer",
    "free_port",
    "running_action_server",
    "seed",
    "server_env",
    "start_action_server",
    "stop",
    "wait_until_up",
]


def server_env(**extra: str) -> dict[str, str]:
    """This environment, with the project importable and nothing sent off the machine."""
    env = dict(os.environ)
    env.update(PYTHONPATH=str(ROOT), SQLALCHEMY_SILENCE_UBER_WARNING="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.update(RASA_TELEMETRY_ENABLED="false")  # nothing leaves the machine
    env.update(extra)
    return env


def rasa_script(script: str, *args: str, env: Mapping[str, str] | None = None) -> Any:
    """Run `script` in Rasa's environment (`.venv-rasa`, the repository as working directory)
    and read the JSON its last line of output prints; fails the test when it cannot run."""
    if not RASA_PYTHON.exists():
        pytest.fail(f"{RASA_PYTHON} is missing: run make setup")
    done = subprocess.run(
        [str(RASA_PYTHON), "-W", "ignore", "-c", script, *args],
        cwd=ROOT, env=dict(server_env() if env is None else env), capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def seed(database_url: str, env: Mapping[str, str] | None = None) -> None:
    """Migrate `database_url` and fill it with the demo station (`python -m store seed`)."""
    subprocess.run(
        [sys.executable, "-m", "store", "--url", database_url, "seed"],
        check=True, cwd=ROOT, env=dict(env or server_env()), capture_output=True,
    )  # fmt: skip


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], log: Path, seconds: float, interval: float = 0.5
) -> None:
    """Until `url` answers 200; fail (with the end of its log) if the server exits first or is
    not up within `seconds`."""
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
        time.sleep(interval)
    pytest.fail(f"{url} not ready after {seconds} s:\n{log.read_text()[-3000:]}")


def stop(processes: Sequence[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    """Terminate the servers, all at once; kill those still there after `timeout` seconds."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_action_server(port: int, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m actions --port PORT` as `make run` starts it, its output in `log`; not waited
    for (see `wait_until_up`)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "actions", "--port", str(port)],
            cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


@dataclass(frozen=True)
class RunningActionServer:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def running_action_server(env: Mapping[str, str], log: Path) -> Iterator[RunningActionServer]:
    """The action server on a free port, up (its /health answers) for the length of the block."""
    port = free_port()
    process = start_action_server(port, env, log)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, log, 60, interval=0.2)
        yield RunningActionServer(port, log)
    finally:
        stop([process])
