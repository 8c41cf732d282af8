"""`make run`'s servers under its supervisor, as scripts/run.sh starts them (`--servers-only`:
no set-up or training): the real action server and gateway, Rasa and its standby played by the
fake Rasa as a process (tests/fakes/rasa_process.py, with a helper process in its group as a
real Rasa has), on free ports, every file in a temporary RUN_VAR_DIR.

- a taken port is named with the process holding it, and nothing starts;
- a server failing to start (the gateway refused by the Bot API) stops everything: no process
  of the stack is left, every port is free;
- Rasa's process group killed under a running stack: the gateway keeps taking messages, Rasa
  is restarted, the message sent meanwhile is answered once; /health shows the restart;
  Ctrl-C stops everything;
- a server dying again and again is a crash loop: the stack stops, nothing is left;
- a server that hangs (its process group stopped with SIGSTOP: it neither answers nor exits)
  is found by the health probes, stopped and restarted.

Every process of a stack carries a marker in its environment, so a test finds any that is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.processes import ROOT, free_port, seed, server_env

pytestmark = pytest.mark.slow

RUN_SH = ROOT / "scripts" / "run.sh"
HEALTH_TOKEN = "health-token-for-the-run-tests"
START_SECONDS = 120.0


def processes_marked(marker: str) -> list[int]:
    """Pids of live processes whose environment holds the marker."""
    needle = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


SECRET_NAMES = {"DATABASE_URL", "RASA_TOKEN", "ACTION_SERVER_TOKEN", "HEALTH_TOKEN"}


def environment_names(pid: int) -> set[str]:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return {entry.partition(b"=")[0].decode() for entry in environ if entry}


def own_command_line() -> str:
    return Path("/proc/self/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode()


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Run:
    """One `scripts/run.sh --servers-only`, its output collected."""

    process: asyncio.subprocess.Process
    var: Path
    ports: dict[str, int]
    marker: str
    output: list[str]
    _reader: asyncio.Task[None]

    @property
    def text(self) -> str:
        return "".join(self.output)

    def status(self) -> dict[str, Any]:
        try:
            status: dict[str, Any] = json.loads((self.var / "supervisor.json").read_text())
        except (OSError, ValueError):
            return {}
        return status

    def server(self, name: str) -> dict[str, Any]:
        servers: dict[str, Any] = self.status().get("servers", {})
        return dict(servers.get(name, {}))

    async def until(self, what: str, check: Callable[[], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            if self.process.returncode is not None:
                pytest.fail(f"the stack stopped while waiting for {what}:\n{self.text[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {seconds} s:\n{self.text[-4000:]}")
            await asyncio.sleep(0.2)

    async def exit_code(self, seconds: float = 90) -> int:
        code = await asyncio.wait_for(self.process.wait(), seconds)
        await asyncio.wait_for(self._reader, 10)
        return code

    def assert_nothing_left(self) -> None:
        deadline = time.monotonic() + 10
        while processes_marked(self.marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_marked(self.marker) == [], self.text[-3000:]
        taken = {name: port for name, port in self.ports.items() if not port_free(port)}
        assert taken == {}


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'assistant.db'}"
    seed(url)
    return url


@pytest.fixture
def fake_rasa_python(tmp_path: Path) -> Path:
    """What RASA_PYTHON points at: runs the fake Rasa with Rasa's command line."""
    wrapper = tmp_path / "bin" / "rasa-python"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tests.fakes.rasa_process "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


@contextlib.asynccontextmanager
async def started(
    tmp_path: Path, database: str, rasa_python: Path, **settings: str
) -> AsyncIterator[Run]:
    """run.sh --servers-only on free ports; whatever happens, its process tree is gone after."""
    ports = {
        "GATEWAY_PORT": free_port(),
        "RASA_PORT": free_port(),
        "RASA_STANDBY_PORT": free_port(),
        "ACTION_PORT": free_port(),
    }
    marker = f"RUN_TEST_MARK={uuid.uuid4().hex}"
    env = server_env(
        RUN_VAR_DIR=str(tmp_path / "var"),
        RASA_PYTHON=str(rasa_python),
        DATABASE_URL=database,
        HEALTH_TOKEN=HEALTH_TOKEN,
        NOTIFY_INTERVAL="0",
        RASA_RETRY_MAX_BACKOFF="1",
        RASA_TIMEOUT="5",
        RUN_STOP_TIMEOUT="10",
        **{name: str(port) for name, port in ports.items()},
    )
    for name in ("RASA_TOKEN", "ACTION_SERVER_TOKEN", "GATEWAY_API_TOKEN", "TELEGRAM_BOT_TOKEN"):
        env.pop(name, None)
    env.update(settings)
    env[marker.partition("=")[0]] = marker.partition("=")[2]
    process = await asyncio.create_subprocess_exec(
        "bash", str(RUN_SH), "--servers-only", cwd=ROOT, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    output: list[str] = []

    async def read() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            output.append(line.decode(errors="replace"))

    run = Run(process, tmp_path / "var", ports, marker, output, asyncio.create_task(read()))
    try:
        yield run
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
        for pid in processes_marked(marker):  # never leave anything behind, even on failure
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def test_a_taken_port_is_named_with_its_holder_and_nothing_starts(
    tmp_path: Path, database: str, fake_rasa_python: Path
) -> None:
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = free_port()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    try:
        async with started(tmp_path, database, fake_rasa_python, RASA_PORT=str(port)) as run:
            assert await run.exit_code() != 0
            holder_line = f"port {port} (rasa, RASA_PORT) is in use by pid {os.getpid()}: "
            assert holder_line + own_command_line() in run.text
            assert "nothing was started: stop that process, or choose another port" in run.text
            assert run.status() == {}  # the supervisor never started a server
            assert not list((run.var / "log").glob("*.log"))
            assert processes_marked(run.marker) == []
    finally:
        holder.close()


async def test_a_server_that_fails_to_start_leaves_no_process_behind(
    tmp_path: Path, database: str, fake_rasa_python: Path
) -> None:
    """The issue's case: the gateway refused at start-up (here: a token the Bot API rejects)
    while the action server and Rasa are already running."""
    async with (
        FakeTelegram() as telegram,
        started(
            tmp_path,
            database,
            fake_rasa_python,
            TELEGRAM_BOT_TOKEN="7012345678:AAWrongTokenWrongTokenWrongToken12",
            TELEGRAM_API_BASE_URL=telegram.base_url,
        ) as run,
    ):
        assert await run.exit_code() == 1
        assert "gateway exited while starting (exit status 3)" in run.text
        assert "TELEGRAM_BOT_TOKEN was rejected by the Bot API (401" in run.text
        assert "AAWrongToken" not in run.text
        assert run.status()["state"] == "failed"
        started_servers = {n for n, s in run.status()["servers"].items() if s["started_at"]}
        assert {"actions", "rasa", "gateway"} <= started_servers
        run.assert_nothing_left()


async def _chat(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> Any:
    body = {"sender": sender, "text": text, "message_id": f"{sender}-{text}"}
    async with session.post(f"{url}/api/v1/messages", json=body) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json()


async def _texts(session: aiohttp.ClientSession, url: str, sender: str) -> list[str]:
    async with session.get(f"{url}/api/v1/conversations/api:{sender}/messages") as answer:
        return [m["text"] for m in (await answer.json())["messages"] if m["direction"] == "out"]


async def test_a_killed_rasa_is_restarted_and_the_message_sent_meanwhile_answered_once(
    tmp_path: Path, database: str, fake_rasa_python: Path
) -> None:
    async with started(tmp_path, database, fake_rasa_python, FAKE_RASA_LOAD_SECONDS="3") as run:
        await run.until("the stack", lambda: run.status().get("state") == "running", START_SECONDS)
        url = f"http://127.0.0.1:{run.ports['GATEWAY_PORT']}"
        gateway_pid = run.server("gateway")["pid"]
        async with aiohttp.ClientSession() as session:
            first = await _chat(session, url, "amy", "你好")
            assert [r["text"] for r in first["replies"]] == ["收到：你好"]

            rasa_pid = run.server("rasa")["pid"]
            helpers = [p for p in processes_marked(run.marker) if os.getpgid(p) == rasa_pid]
            assert len(helpers) == 2  # the server and its helper process
            os.kill(rasa_pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
            await run.until("Rasa down", lambda: run.server("rasa")["restarts"] == 1, 30)

            meanwhile = await _chat(session, url, "amy", "东山村停电了")
            assert meanwhile["degraded"] is True  # '系统繁忙', the message kept

            await run.until("Rasa back", lambda: run.server("rasa")["state"] == "running", 60)
            assert all(p not in processes_marked(run.marker) for p in helpers)  # group stopped
            deadline = time.monotonic() + 30
            while "收到：东山村停电了" not in await _texts(session, url, "amy"):
                assert time.monotonic() < deadline, run.text[-3000:]
                await asyncio.sleep(0.5)
            await asyncio.sleep(3)  # several retry passes later: still once
            texts = await _texts(session, url, "amy")
            assert texts.count("收到：东山村停电了") == 1
            assert texts.count("收到：你好") == 1

            secrets = (run.var / "secrets.env").read_text().splitlines()
            servers_file = (run.var / "servers.jsonl").read_text()
            assert all(line.partition("=")[2] not in servers_file for line in secrets)
            assert environment_names(gateway_pid) & SECRET_NAMES == {
                "DATABASE_URL",
                "RASA_TOKEN",
                "HEALTH_TOKEN",
            }
            assert environment_names(run.server("rasa")["pid"]) & SECRET_NAMES == {
                "RASA_TOKEN",
                "ACTION_SERVER_TOKEN",
            }
            assert run.server("gateway")["pid"] == gateway_pid  # it never stopped
            assert run.server("gateway")["restarts"] == 0
            headers = {"Authorization": f"Bearer {HEALTH_TOKEN}"}
            async with session.get(f"{url}/health", headers=headers) as answer:
                health = await answer.json()
            rasa = health["supervisor"]["servers"]["rasa"]
            assert (rasa["state"], rasa["restarts"], rasa["last_exit"]) == (
                "running",
                1,
                "killed by SIGKILL",
            )
        assert "rasa died (killed by SIGKILL)" in (run.var / "log" / "run.log").read_text()

        run.process.send_signal(signal.SIGINT)  # Ctrl-C
        assert await run.exit_code() == 0
        assert run.status()["state"] == "stopped"
        run.assert_nothing_left()


async def test_a_hung_rasa_is_found_by_its_probes_stopped_and_restarted(
    tmp_path: Path, database: str, fake_rasa_python: Path
) -> None:
    settings = {"RASA_STANDBY": "0", "RUN_PROBE_INTERVAL": "0.5", "RUN_HUNG_AFTER": "4"}
    async with started(tmp_path, database, fake_rasa_python, **settings) as run:
        await run.until("the stack", lambda: run.status().get("state") == "running", START_SECONDS)
        hung_pid = run.server("rasa")["pid"]
        await asyncio.sleep(3)  # probes answered meanwhile: a healthy server is left alone
        assert run.server("rasa")["restarts"] == 0
        os.killpg(hung_pid, signal.SIGSTOP)  # alive, but answers nothing (as a deadlock)
        await run.until("Rasa restarted", lambda: run.server("rasa").get("restarts") == 1, 30)
        await run.until("Rasa back", lambda: run.server("rasa")["state"] == "running", 60)
        assert run.server("rasa")["pid"] != hung_pid
        assert hung_pid not in processes_marked(run.marker)  # the stopped group was killed
        assert run.server("rasa")["last_exit"] == "hung: 4 health probes unanswered, stopped"
        log = (run.var / "log" / "run.log").read_text()
        assert "rasa is running but has not answered" in log
        assert run.server("gateway")["restarts"] == 0

        run.process.send_signal(signal.SIGINT)
        assert await run.exit_code() == 0
        run.assert_nothing_left()


async def test_a_crash_loop_stops_the_stack(
    tmp_path: Path, database: str, fake_rasa_python: Path
) -> None:
    async with started(
        tmp_path,
        database,
        fake_rasa_python,
        RASA_STANDBY="0",
        RUN_RESTART_LIMIT="1",
        RUN_RESTART_WINDOW="600",
    ) as run:
        await run.until("the stack", lambda: run.status().get("state") == "running", START_SECONDS)
        os.killpg(run.server("rasa")["pid"], signal.SIGKILL)
        await run.until("Rasa back", lambda: run.server("rasa").get("restarts") == 1, 30)
        await run.until("Rasa back", lambda: run.server("rasa")["state"] == "running", 60)
        os.killpg(run.server("rasa")["pid"], signal.SIGKILL)
        assert await run.exit_code() == 1
        assert "a crash loop, stopping everything" in run.text
        assert run.status()["state"] == "failed"
        assert "crash loop" in run.status()["reason"]
        run.assert_nothing_left()
