"""The stack `make bench` measures, and watching its processes: a temporary SQLite database
migrated and seeded with the demo (or the tracker part's databases: `Backing`), the action
server, `rasa run` with the trained model and the gateway, each on a free loopback port and in
its own process group, stopped however the bench ends; the gateway's memory and the CPU of the
machine and of each server read from /proc."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from scripts.benchlib import cpu_shares, machine_ticks, process_ticks, status_kib
from scripts.benchlib.machine import CpuUse, cpu_use

ROOT = Path(__file__).resolve().parents[1]
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
MODEL = ROOT / "models" / "current.tar.gz"
SAMPLE_EVERY = 0.1
START_TIMEOUT = 300.0
STOP_TIMEOUT = 25.0
# never inherited: the bench's gateway has no Telegram or WeChat channel and an open JSON API
DROPPED_ENV = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET",
    "WECHAT_APP_ID",
    "WECHAT_APP_SECRET",
    "WECHAT_TOKEN",
    "WECHAT_ENCODING_AES_KEY",
    "GATEWAY_API_TOKEN",
    "ALLOWED_ORIGINS",
    "GATEWAY_HOST",
)


BENCH_GATEWAY_ENV = {
    # every simulated customer comes from 127.0.0.1: the per-client limits would count them
    # as one client (the console's login limits stay as configured: the flood part measures them)
    "RATE_LIMIT_API": "0",
    "RATE_LIMIT_API_SENDER": "0",
    # the login flood comes through "a proxy" on loopback, from many addresses (X-Forwarded-For)
    "TRUSTED_PROXIES": "127.0.0.1",
}


class BenchError(Exception):
    """The bench cannot go on; the message says why (with a server's log when it failed)."""


def model_text() -> str:
    """The model the stacks load, for a report: its file and when it was trained."""
    date = datetime.fromtimestamp(MODEL.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"`models/current.tar.gz`, trained {date}"


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(
        PYTHONPATH=str(ROOT),
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        RASA_TELEMETRY_ENABLED="false",
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    env.update(extra)
    return env


def read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# --- the stack --------------------------------------------------------------------------------


class Servers:
    """The servers the bench started, each in its own process group, stopped in reverse order
    however the bench ends (a second Ctrl-C while stopping kills what is left)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as out:
            process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self._started.append((name, process))
        return process

    def groups(self) -> set[int]:
        return {process.pid for _, process in self._started}

    def named(self) -> dict[str, int]:
        """Each server's process group by its name ("rasa", "gateway", ...)."""
        return {name: process.pid for name, process in self._started}

    def check(self) -> None:
        for name, process in self._started:
            if process.poll() is not None:
                tail = read(self.logs / f"{name}.log")[-3000:]
                raise BenchError(f"{name} exited with {process.returncode}:\n{tail}")

    def _signal(self, process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # the group: Sanic may fork its workers
            os.killpg(process.pid, sig)

    def stop(self) -> None:
        try:
            for _, process in reversed(self._started):
                self._signal(process, signal.SIGTERM)
            for _, process in reversed(self._started):
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._signal(process, signal.SIGKILL)
                    process.wait()
                self._signal(process, signal.SIGKILL)  # any child left behind in its group
        except KeyboardInterrupt:
            for _, process in self._started:
                self._signal(process, signal.SIGKILL)
            raise


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:  # e.g. the gateway's 503 while Rasa loads
        exc.close()
        return False
    except (OSError, ValueError):
        return False


def rasa_run_args(port: int, endpoints: Path, model: Path) -> list[str]:
    """`rasa run` with its HTTP API on loopback, as the gateway uses it. The token it requires
    is RASA_TOKEN of its environment (rasa_addons/serve.py: never on a command line)."""
    return [str(RASA_PYTHON), "-m", "rasa_addons.serve", "--enable-api",
            "--interface", "127.0.0.1", "--port", str(port),
            "--credentials", str(ROOT / "credentials.yml"), "--endpoints", str(endpoints),
            "--model", str(model)]  # fmt: skip


def wait_until_ready(servers: Servers, urls: list[str]) -> None:
    """Until every URL answers 200 (BenchError when a server exits or START_TIMEOUT passes)."""
    pending = list(urls)
    deadline = time.monotonic() + START_TIMEOUT
    while pending:
        servers.check()
        if time.monotonic() > deadline:
            raise BenchError(f"not ready after {START_TIMEOUT:.0f} s: {', '.join(pending)}")
        pending = [url for url in pending if not healthy(url)]
        if pending:
            time.sleep(0.5)


@dataclass(frozen=True)
class Stack:
    gateway_url: str
    rasa_urls: tuple[str, ...]
    """The Rasa workers (several with --rasa-workers: the gateway spreads conversations)."""
    token: str
    gateway_pid: int


def sqlite_database(path: Path, command: str) -> str:
    """A SQLite database at `path` after `python -m store COMMAND` (migrate, seed); its URL."""
    return store_database(f"sqlite:///{path}", command)


def store_database(url: str, command: str) -> str:
    """The database at `url` after `python -m store COMMAND` (migrate, seed); its URL."""
    done = subprocess.run(
        [sys.executable, "-m", "store", "--url", url, command],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"`python -m store {command}` failed:\n{done.stdout}{done.stderr}")
    return url


@dataclass(frozen=True)
class Backing:
    """Where the stack keeps its data (scripts/benchtrackers.py's configurations): by default
    a temporary SQLite database and Rasa's in-memory tracker store."""

    database_url: str | None = None
    """The assistant's database, empty, to be migrated and seeded (None: a temporary SQLite
    file)."""
    rasa_endpoints: str = ""
    """Sections of Rasa's endpoints.yml after the action endpoint: its tracker store, its lock
    store (none: in memory)."""
    rasa_env: Mapping[str, str] = field(default_factory=dict)
    """What those sections' ${VARIABLES} are."""
    gateway_env: Mapping[str, str] = field(default_factory=dict)
    """More of the gateway's settings (the Compose configuration's GATEWAY_SHARED, REDIS_URL)."""


@dataclass(frozen=True)
class Backends:
    """What the gateways of a stack talk to: the action server and the Rasa workers, started
    (`start_backends`), and the assistant's database they share."""

    database_url: str
    actions_url: str
    rasa_urls: tuple[str, ...]
    token: str
    """Rasa's API token, the gateways' too."""
    backing: Backing

    def ready_urls(self) -> list[str]:
        """What answers 200 once the action server and every Rasa worker are ready."""
        return [
            f"{self.actions_url}/health",
            *(f"{url}/status?token={self.token}" for url in self.rasa_urls),
        ]


def start_backends(
    servers: Servers, work: Path, rasa_workers: int = 1, backing: Backing | None = None
) -> Backends:
    """The assistant's database migrated and seeded, then the action server and `rasa_workers`
    Rasa workers started (named "actions", "rasa", "rasa-2", ...), not waited for."""
    backing = backing or Backing()
    if backing.database_url is None:
        say("migrating and seeding a temporary SQLite database ...")
        database_url = sqlite_database(work / "assistant.db", "seed")
    else:
        say("migrating and seeding the assistant's database ...")
        database_url = store_database(backing.database_url, "seed")
    action_port = free_port()
    rasa_ports = [free_port() for _ in range(rasa_workers)]
    token = secrets.token_hex(16)  # never starting with "-", which rasa would read as an option
    endpoints = work / "endpoints.yml"
    action_token = secrets.token_hex(16)  # Rasa sends it, the action server requires it
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n'
        "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n" + backing.rasa_endpoints
    )
    rasa_at = ", ".join(f":{port}" for port in rasa_ports)
    say(f"starting the action server :{action_port}, Rasa {rasa_at}")
    servers.start(
        "actions",
        [sys.executable, "-m", "actions", "--port", str(action_port)],
        child_env(DATABASE_URL=database_url, ACTION_SERVER_TOKEN=action_token),
    )
    for number, port in enumerate(rasa_ports, 1):
        servers.start(
            "rasa" if number == 1 else f"rasa-{number}",
            rasa_run_args(port, endpoints, MODEL),
            child_env(RASA_TOKEN=token, ACTION_SERVER_TOKEN=action_token, **backing.rasa_env),
        )
    return Backends(
        database_url=database_url,
        actions_url=f"http://127.0.0.1:{action_port}",
        rasa_urls=tuple(f"http://127.0.0.1:{port}" for port in rasa_ports),
        token=token,
        backing=backing,
    )


def start_gateway(
    servers: Servers,
    backends: Backends,
    name: str = "gateway",
    rasa_urls: tuple[str, ...] | None = None,
    gateway_env: Mapping[str, str] | None = None,
) -> tuple[str, int]:
    """A gateway in front of `rasa_urls` (all of the backends' workers by default), not waited
    for: its URL and process group."""
    port = free_port()
    say(f"starting {name} :{port}")
    gateway = servers.start(
        name,
        [sys.executable, "-m", "bot"],
        child_env(
            GATEWAY_HOST="127.0.0.1",
            GATEWAY_PORT=str(port),
            RASA_URL=",".join(rasa_urls or backends.rasa_urls),
            RASA_TOKEN=backends.token,
            ACTION_SERVER_URL=backends.actions_url,
            DATABASE_URL=backends.database_url,
            GATEWAY_SHUTDOWN_TIMEOUT="5",
            **BENCH_GATEWAY_ENV,
            **backends.backing.gateway_env,
            **(gateway_env or {}),
        ),
    )
    return f"http://127.0.0.1:{port}", gateway.pid


def start_stack(
    servers: Servers,
    work: Path,
    rasa_workers: int = 1,
    gateway_env: Mapping[str, str] | None = None,
    backing: Backing | None = None,
) -> Stack:
    """The stack, every server ready. With several `rasa_workers` each keeps its conversations
    in memory: the gateway (and the bench's Rasa-alone path, bot.rasa_pool.ranked) sends each
    conversation to one worker. `gateway_env`: more of the gateway's settings (the outage part's
    Telegram channel, scripts/benchoutage.py); `backing`: where the data is kept (the tracker
    part, scripts/benchtrackers.py)."""
    backends = start_backends(servers, work, rasa_workers, backing)
    gateway_url, gateway_pid = start_gateway(servers, backends, gateway_env=gateway_env)
    wait_until_ready(servers, [*backends.ready_urls(), f"{gateway_url}/health"])
    say("all servers are ready")
    return Stack(gateway_url, backends.rasa_urls, backends.token, gateway_pid)


class MemorySampler:
    """The gateway's resident set (/proc/<pid>/status VmRSS) every SAMPLE_EVERY seconds."""

    def __init__(self, pid: int) -> None:
        self.status = Path(f"/proc/{pid}/status")
        self.peak_kib = 0

    def sample(self) -> None:
        self.peak_kib = max(self.peak_kib, status_kib(read(self.status), "VmRSS") or 0)

    def reset(self) -> None:
        self.peak_kib = 0
        self.sample()

    def high_water_kib(self) -> int | None:
        return status_kib(read(self.status), "VmHWM")

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_EVERY)


def group_ticks() -> dict[int, int]:
    """Every process group's user + system CPU ticks, of the processes running now."""
    found: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            group, ticks = process_ticks(stat.read_text())
        except (OSError, IndexError, ValueError):
            continue
        found[group] = found.get(group, 0) + ticks
    return found


def groups_of(command: str) -> set[int]:
    """The process groups of the processes running `command` (/proc/<pid>/stat's name, e.g.
    "postgres", "redis-server"): a database server's backends are in its group."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        content = read(stat)
        if f"({command})" in content[:64]:
            found.add(int(content.rsplit(")", 1)[1].split()[2]))
    return found


class ServerCpu:
    """How much CPU each named set of process groups used over a stretch of time (a share of
    one core each), and how busy the machine's cores were: what limits a measurement."""

    def __init__(self, named: Mapping[str, set[int]]) -> None:
        self.named = dict(named)
        self.cores = os.cpu_count() or 1
        self._start = self._now()

    def _now(self) -> tuple[int, int, dict[str, int]]:
        busy, total = machine_ticks(read("/proc/stat"))
        ticks = group_ticks()
        mine = {name: sum(ticks.get(g, 0) for g in groups) for name, groups in self.named.items()}
        return busy, total, mine

    def use(self) -> CpuUse:
        return cpu_use(self._start, self._now(), self.cores)


class CpuWatch:
    """How much CPU the bench's own processes and everything else used over a stretch of time."""

    def __init__(self, groups: set[int]) -> None:
        self.groups = groups | {os.getpgrp()}
        self._start = self._now()

    def _ours(self) -> int:
        return sum(ticks for group, ticks in group_ticks().items() if group in self.groups)

    def _now(self) -> tuple[int, int, int]:
        busy, total = machine_ticks(read("/proc/stat"))
        return busy, total, self._ours()

    def shares(self) -> tuple[float, float]:
        """(the bench's share, the others' share) of all cores' time since the start."""
        return cpu_shares(self._start, self._now())


class ChildrenCpu:
    """How much CPU this process and the children it waited for (a training's `rasa`
    processes, a server once stopped) used over a stretch of time, and everything else: a
    finished child's time is gone from /proc but counted in ours (os.times)."""

    def __init__(self) -> None:
        self._start = self._now()

    def _now(self) -> tuple[int, int, int]:
        busy, total = machine_ticks(read("/proc/stat"))
        t = os.times()
        seconds = t.user + t.system + t.children_user + t.children_system
        return busy, total, round(seconds * os.sysconf("SC_CLK_TCK"))

    def shares(self) -> tuple[float, float]:
        """(the bench's share, the others' share) of all cores' time since the start; call it
        once the children have ended."""
        return cpu_shares(self._start, self._now())
