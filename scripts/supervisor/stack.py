"""The stack `make run` runs: start every server, keep them up, stop them all.

1. Before anything starts, every port is checked; a taken one is named with its holder and
   nothing is started.
2. The servers start (a server with `after` once that one is ready) and must all become ready
   within the start timeout. One that exits or is not ready in time fails the start: every
   process group started so far is stopped, and the end of the failed server's log is shown.
3. Once all are ready, a server that dies is restarted after a back-off while the others keep
   running (the gateway keeps taking messages and answers them once Rasa is back). One that dies
   too often (policy.py) stops the stack: a crash loop.
4. SIGINT/SIGTERM (Ctrl-C) stops the stack: the servers in the reverse order of their start
   (the gateway first, so it finishes the messages it is handling while Rasa is still there).

Every state change is written to the status file, which the gateway shows in /health.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import aiohttp

from scripts.supervisor.policy import Policy, Restarts
from scripts.supervisor.ports import describe_busy, in_use
from scripts.supervisor.process import Child, exit_reason
from scripts.supervisor.spec import Server
from scripts.supervisor.status import StatusFile, now_iso

TAIL_LINES = 25


class Journal:
    """The supervisor's own lines: on the terminal (as scripts/lib.sh's `log`) and in run.log."""

    def __init__(self, path: Path | None, terminal: TextIO | None = None) -> None:
        self._path = path
        self._terminal = terminal

    def _write(self, line: str, coloured: str) -> None:
        terminal = self._terminal or sys.stderr
        terminal.write(coloured + "\n")
        terminal.flush()
        if self._path is not None:
            with self._path.open("a", encoding="utf-8") as out:
                out.write(f"{datetime.now().isoformat(timespec='seconds')} {line}\n")

    def info(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self._write(text, f"\033[1;34m[run {stamp}]\033[0m {text}")

    def error(self, text: str) -> None:
        self._write(f"error: {text}", f"\033[1;31m[run] error:\033[0m {text}")


def ports_free(servers: Sequence[Server], journal: Journal) -> bool:
    """Whether every server's port is free; each taken one is named with its holder."""
    busy = [describe_busy(s.name, s.listen, s.setting) for s in servers if in_use(s.listen)]
    for line in busy:
        journal.error(line)
    if busy:
        journal.error("nothing was started: stop that process, or choose another port")
    return not busy


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Stack:
    def __init__(
        self,
        servers: Sequence[Server],
        *,
        logs: Path,
        status: StatusFile,
        policy: Policy,
        environ: Mapping[str, str] = os.environ,
        terminal: TextIO = sys.stdout,
        journal: Journal | None = None,
    ) -> None:
        self.servers = list(servers)
        self.policy = policy
        self.status = status
        self.journal = journal or Journal(logs / "run.log")
        self._environ = environ
        self.children = {s.name: Child(s, logs / f"{s.name}.log", terminal) for s in servers}
        self._restarts = {s.name: Restarts(policy) for s in servers}
        self._stop = asyncio.Event()
        self._failure: str | None = None
        self._session: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------------------ entry

    async def run(self, banner: str = "") -> int:
        """0: stopped on request; 1: a start failed or a crash loop; 2: a port was taken."""
        if not ports_free(self.servers, self.journal):
            return 2
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._request_stop, sig)
        async with aiohttp.ClientSession() as session:
            self._session = session
            try:
                if await self._start_all():
                    if banner:
                        sys.stderr.write(banner)
                        sys.stderr.flush()
                    await self._keep_all()
            finally:
                await self._stop_all()
        return 1 if self._failure else 0

    def _request_stop(self, sig: signal.Signals) -> None:
        if not self._stop.is_set():
            self.journal.info(f"{sig.name}: stopping ...")
        self._stop.set()

    def _fail(self, reason: str) -> None:
        self._failure = self._failure or reason
        self.journal.error(reason)
        self._stop.set()

    # ------------------------------------------------------------------------------ start

    async def _start(self, child: Child, *, fresh_log: bool) -> None:
        await child.start(fresh_log=fresh_log)
        state = self.status.server(child.server.name)
        state.state, state.pid, state.started_at = "starting", child.pid, now_iso()
        state.next_start_at = None
        self.status.write()

    async def _ready(self, server: Server) -> bool:
        assert self._session is not None, "probes run inside run()"
        try:
            url = server.ready.url_with(self._environ)
            timeout = aiohttp.ClientTimeout(total=3)
            async with self._session.get(url, timeout=timeout, allow_redirects=False) as answer:
                return server.ready.any_status or answer.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    def _mark_running(self, name: str) -> None:
        self.status.server(name).state = "running"
        self.status.write()

    async def _start_all(self) -> bool:
        self.journal.info("starting " + ", ".join(s.name for s in self.servers) + " ...")
        deadline = time.monotonic() + self.policy.start_timeout
        ready: set[str] = set()
        started: list[Child] = []
        for name in self.children:
            self.status.server(name)
        while not self._stop.is_set():
            for server in self.servers:
                child = self.children[server.name]
                if child not in started and (server.after is None or server.after in ready):
                    await self._start(child, fresh_log=True)
                    started.append(child)
            for child in started:
                if not child.running:
                    code = await child.wait()
                    log = child.log_path
                    self._fail(
                        f"{child.server.name} exited while starting ({exit_reason(code)}); the"
                        f" end of {log}:\n{tail(log)}"
                    )
                    return False
            waiting = [c for c in started if c.server.name not in ready]
            answers = await asyncio.gather(*(self._ready(c.server) for c in waiting))
            for child, answered in zip(waiting, answers, strict=True):
                if answered:
                    ready.add(child.server.name)
                    self._mark_running(child.server.name)
            if len(ready) == len(self.servers):
                self.status.state = "running"
                self.status.write()
                return True
            if time.monotonic() > deadline:
                late = ", ".join(s.name for s in self.servers if s.name not in ready)
                logs = self.children[self.servers[0].name].log_path.parent
                self._fail(
                    f"not ready within {self.policy.start_timeout:g} s (RUN_START_TIMEOUT):"
                    f" {late}; see their logs in {logs}/"
                )
                return False
            await self._pause(1.0)
        return False

    async def _pause(self, seconds: float) -> bool:
        """Sleep, unless a stop is asked for meanwhile (True then)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    # ------------------------------------------------------------------------------- keep

    async def _keep_all(self) -> None:
        self.journal.info("all servers ready; each is restarted if it dies (Ctrl-C stops all)")
        keepers = [asyncio.create_task(self._keep(c)) for c in self.children.values()]
        try:
            await self._stop.wait()
        finally:
            for keeper in keepers:
                keeper.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)

    async def _keep(self, child: Child) -> None:
        name = child.server.name
        while True:
            code, hung = await self._watch(child)
            if self._stop.is_set():
                return
            lived = time.monotonic() - child.started_at
            state = self.status.server(name)
            reason = exit_reason(code) if not hung else f"hung: {hung}, stopped"
            state.last_exit, state.last_exit_at = reason, now_iso()
            await child.stop(self.policy.stop_timeout)  # what is left of its process group
            restarts = self._restarts[name]
            delay = restarts.next_delay(time.monotonic())
            if delay is None:
                self._fail(
                    f"{name} died ({reason}) after {restarts.recent(time.monotonic())}"
                    f" restarts within {self.policy.window:g} s (RUN_RESTART_LIMIT,"
                    f" RUN_RESTART_WINDOW): a crash loop, stopping everything. The end of"
                    f" {child.log_path}:\n{tail(child.log_path)}"
                )
                return
            restarts.record(time.monotonic())
            state.state, state.restarts, state.pid = "restarting", restarts.total, None
            state.next_start_at = (datetime.now(UTC) + timedelta(seconds=delay)).isoformat(
                timespec="seconds"
            )
            self.status.write()
            self.journal.error(
                f"{name} died ({reason}) after {lived:.0f} s; restart {restarts.total}"
                f" in {delay:g} s (log: {child.log_path})"
            )
            if await self._pause(delay) or not await self._port_freed(child):
                return
            await self._start(child, fresh_log=False)
            await self._until_ready(child)

    async def _watch(self, child: Child) -> tuple[int, str | None]:
        """Until the server exits: (its exit status, None); or until it stops answering its
        health probe `hung_after` times in a row: then it is stopped (its whole group), and
        (exit status, what was seen) is returned, so that it is restarted like a dead one."""
        exited = asyncio.ensure_future(child.wait())
        missed = 0
        try:
            while True:
                done, _ = await asyncio.wait({exited}, timeout=self.policy.probe_interval)
                if done:
                    return exited.result(), None
                missed = 0 if await self._ready(child.server) else missed + 1
                if missed >= self.policy.hung_after:
                    seen = f"{missed} health probes unanswered"
                    self.journal.error(
                        f"{child.server.name} is running but has not answered"
                        f" {child.server.ready.url} {missed} times in a row"
                        f" (RUN_PROBE_INTERVAL {self.policy.probe_interval:g} s, RUN_HUNG_AFTER):"
                        " stopping it"
                    )
                    await child.stop(self.policy.stop_timeout)
                    return await exited, seen
        finally:
            exited.cancel()

    async def _port_freed(self, child: Child) -> bool:
        """Wait (up to the stop timeout) until nothing listens on the server's port."""
        server = child.server
        deadline = time.monotonic() + self.policy.stop_timeout
        while in_use(server.listen):
            if time.monotonic() > deadline:
                self.journal.error(describe_busy(server.name, server.listen, server.setting))
                return True  # start anyway: it fails, and the crash-loop count stops it
            if await self._pause(0.5):
                return False
        return True

    async def _until_ready(self, child: Child) -> None:
        """Log when the restarted server is ready again; stop it (it is then restarted) if it
        is not within the start timeout."""
        begun = time.monotonic()
        while child.running and not self._stop.is_set():
            if await self._ready(child.server):
                self._mark_running(child.server.name)
                self.journal.info(
                    f"{child.server.name} is back (ready after {time.monotonic() - begun:.0f} s)"
                )
                return
            if time.monotonic() - begun > self.policy.start_timeout:
                self.journal.error(
                    f"{child.server.name} not ready within {self.policy.start_timeout:g} s"
                    " after its restart: stopping it"
                )
                await child.stop(self.policy.stop_timeout)
                return
            await self._pause(1.0)

    # ------------------------------------------------------------------------------- stop

    async def _stop_all(self) -> None:
        self.status.state = "stopping"
        self.status.write()
        for name in reversed(list(self.children)):
            child = self.children[name]
            if child.process is not None:
                await child.stop(self.policy.stop_timeout)
                state = self.status.server(name)
                state.state, state.pid = "stopped", None
                self.status.write()
        self.status.state = "failed" if self._failure else "stopped"
        self.status.reason = self._failure
        self.status.write()
        self.journal.info("stopped" + (": see above" if self._failure else ""))
