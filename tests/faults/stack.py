"""The fault suite's stack, all on loopback: two Rasa workers with the trained model sharing
their conversations (the SQL tracker store in a PostgreSQL schema of TEST_DATABASE_URL, the
Redis lock store of TEST_REDIS_URL under a key prefix of their own), the real action server,
two real gateway replicas (GATEWAY_SHARED: their conversation locks, events and one-replica
jobs in the same Redis) each in front of both workers, and a TCP proxy (tests/faults/proxy.py)
in front of Redis, one in front of PostgreSQL (every server's database connections go through
it) and one in front of the action server, so that a test can cut or hold them. Cutting the
PostgreSQL proxy is what a restart of PostgreSQL does to its clients: every connection drops,
new ones are refused until it is back.

Each process runs in a session of its own and is killed with its group (as the kernel's
out-of-memory killer would), started again on the same port; the stack is torn down however
the module ends.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import make_url

from tests.faults.proxy import TcpProxy
from tests.processes import RASA_SERVE, ROOT, free_port, server_env, wait_until_up

MODEL = ROOT / "models" / "current.tar.gz"
RASA_START_SECONDS = 600.0
"""Two workers load TensorFlow at once on a busy machine: minutes, not seconds."""
LOCK_LIFETIME = 15
"""Rasa's ticket lock lifetime for this stack (TICKET_LOCK_LIFETIME; Rasa's default is 60 s):
how long a worker killed in the middle of a turn keeps its conversation locked."""
GATEWAY_ENV = {
    "RASA_TIMEOUT": str(2 * LOCK_LIFETIME),  # a retry may wait for a dead worker's lock
    "RASA_RETRY_MAX_BACKOFF": "2",
    "NOTIFY_INTERVAL": "0",
    # the suite is about the bot recovering by itself: with the shipped conf/handoff.yml a turn
    # that hit a dead action server hands the chat to a person instead (docs/scaling.md)
    "HANDOFF_TRIGGERS": "0",
    "HANDOFF_WATCH": "0",
    "RATE_LIMIT_API": "0",
    "RATE_LIMIT_API_SENDER": "0",
    "QUALITY_REPORTS": "0",  # a scheduled job of its own, heavy while the workers load
    # a killed replica's conversation locks free themselves within this (renewed every third)
    "GATEWAY_LOCK_SECONDS": "10",
}


@dataclass
class Server:
    """One server process of the stack, started (again) on its port."""

    name: str
    port: int
    args: list[str]
    env: dict[str, str]
    logs: Path
    ready_path: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.logs / f"{self.name}.log"

    def start(self) -> Server:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return self

    def wait_ready(self, seconds: float) -> None:
        assert self.process is not None
        wait_until_up(self.url + self.ready_path, self.process, self.log, seconds)

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def kill(self) -> None:
        """SIGKILL to its whole process group, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class FaultStack:
    gateways: list[Server]
    workers: list[Server]
    actions: Server
    redis_proxy: TcpProxy
    actions_proxy: TcpProxy
    postgres_proxy: TcpProxy
    api_token: str
    rasa_token: str
    database_url: str
    lock_prefix: str
    senders: list[str] = field(default_factory=list)
    """Every conversation the tests held (the final checks go through them)."""

    @property
    def gateway(self) -> Server:
        """The replica customers use unless a test says otherwise."""
        return self.gateways[0]


def _endpoints(
    path: Path, actions_port: int, postgres_port: int, redis_port: int, redis_db: int, prefix: str
) -> None:
    base = make_url(os.environ["TEST_DATABASE_URL"])
    lines = [
        "action_endpoint:",
        f'  url: "http://127.0.0.1:{actions_port}/webhook"',
        "  headers:",
        "    Authorization: Bearer ${ACTION_SERVER_TOKEN}",
        "tracker_store:",
        "  type: SQL",
        "  dialect: postgresql",
        "  url: 127.0.0.1",
        f"  port: {postgres_port}",
        f"  db: {base.database}",
        f"  username: {base.username or 'postgres'}",
    ]
    if base.password:
        lines.append(f'  password: "{base.password}"')
    lines += [
        "lock_store:",
        "  type: redis",
        "  url: 127.0.0.1",
        f"  port: {redis_port}",
        f"  db: {redis_db}",
        f"  key_prefix: {prefix}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextmanager
def running_stack(
    work: Path,
    database_url: str,
    tracker_schema: str,
    redis_url: str,
    prepare: Callable[[], None] = lambda: None,
) -> Iterator[FaultStack]:
    """The whole stack, every server ready; torn down after the block. `prepare` (seeding the
    database) runs while the Rasa workers load their model, before the others start."""
    redis = urlsplit(redis_url)
    redis_proxy = TcpProxy(redis.hostname or "127.0.0.1", redis.port or 6379).start()
    direct = make_url(database_url)
    postgres_proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432).start()
    proxied_url = direct.set(host="127.0.0.1", port=postgres_proxy.port).render_as_string(
        hide_password=False
    )
    action_token, rasa_token, api_token = (secrets.token_hex(16) for _ in range(3))
    actions = Server(
        "actions", free_port(), [sys.executable, "-m", "actions", "--port", "0"],
        server_env(DATABASE_URL=proxied_url, ACTION_SERVER_TOKEN=action_token), work, "/health",
    )  # fmt: skip
    actions.args[-1] = str(actions.port)
    actions_proxy = TcpProxy("127.0.0.1", actions.port).start()
    prefix = f"faults{secrets.token_hex(4)}"
    endpoints = work / "endpoints.yml"
    db = int((redis.path or "/0").lstrip("/") or 0)
    _endpoints(endpoints, actions_proxy.port, postgres_proxy.port, redis_proxy.port, db, prefix)
    rasa_env = server_env(
        RASA_TOKEN=rasa_token,
        ACTION_SERVER_TOKEN=action_token,
        POSTGRESQL_SCHEMA=tracker_schema,
        TICKET_LOCK_LIFETIME=str(LOCK_LIFETIME),
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    workers = []
    for name in ("rasa-a", "rasa-b"):
        port = free_port()
        args = [*RASA_SERVE, "--enable-api", "--port", str(port),
                "--credentials", str(ROOT / "credentials.yml"),
                "--endpoints", str(endpoints), "--model", str(MODEL)]  # fmt: skip
        workers.append(Server(name, port, args, rasa_env, work, f"/status?token={rasa_token}"))
    gateways = []
    for name in ("gateway-a", "gateway-b"):
        gateway = Server(
            name, free_port(), [sys.executable, "-m", "bot"],
            server_env(
                DATABASE_URL=proxied_url, RASA_URL=",".join(w.url for w in workers),
                RASA_TOKEN=rasa_token, ACTION_SERVER_URL=actions.url, GATEWAY_API_TOKEN=api_token,
                GATEWAY_SHARED="1", GATEWAY_REDIS_PREFIX=f"{prefix}gw",
                REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/{db}", **GATEWAY_ENV,
            ),
            work, "/health",
        )  # fmt: skip
        gateway.env["GATEWAY_PORT"] = str(gateway.port)
        gateways.append(gateway)
    servers = [*workers, actions, *gateways]
    proxies = (actions_proxy, postgres_proxy, redis_proxy)
    try:
        for worker in workers:
            worker.start()
        prepare()
        actions.start()
        for gateway in gateways:
            gateway.start()
        actions.wait_ready(60)
        for worker in workers:
            worker.wait_ready(RASA_START_SECONDS)
        for gateway in gateways:
            _wait_for_gateway(gateway, api_token)
        yield FaultStack(
            gateways, workers, actions, redis_proxy, actions_proxy, postgres_proxy, api_token,
            rasa_token, database_url, prefix,
        )  # fmt: skip
    finally:
        for server in reversed(servers):
            server.stop()
        for proxy in proxies:
            proxy.close()


def _wait_for_gateway(gateway: Server, token: str) -> None:
    deadline = time.monotonic() + 60
    request = urllib.request.Request(
        gateway.url + "/health", headers={"Authorization": f"Bearer {token}"}
    )
    while time.monotonic() < deadline:
        assert gateway.process is not None
        assert gateway.process.poll() is None, gateway.log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"the gateway is not healthy:\n{gateway.log.read_text()[-3000:]}")
