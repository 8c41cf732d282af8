"""One server as a process group: started in a session of its own, its output copied to its log
and the terminal, stopped with everything it started.

Each server leads its own process group (`start_new_session`), so whatever it spawns (workers,
helpers) is stopped with it: SIGTERM to the whole group, a grace period, then SIGKILL to the
group, and the group is watched until no live process is left in it. The terminal's Ctrl-C
reaches only the supervisor, which stops the servers in its own order. Should the supervisor be
killed outright, the kernel sends each server SIGTERM (PR_SET_PDEATHSIG), so none is orphaned.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TextIO

from scripts.supervisor.spec import Server

PROC = Path("/proc")
_PR_SET_PDEATHSIG = 1
_LINE_LIMIT = 1 << 20


def _pdeathsig() -> Callable[[], None] | None:
    """A pre-exec hook giving the child SIGTERM when the supervisor dies (Linux only)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:  # runs in the forked child: nothing here may import or allocate much
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return hook


_ON_FORK = _pdeathsig()


def group_members(pgid: int, proc: Path = PROC) -> list[int]:
    """Live (not zombie) processes of process group `pgid`."""
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()  # after "(command)", which may hold spaces
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class _Watched(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's protocol, telling when the process exits (not only when its pipes close)."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


class Child:
    """A server's current process (one after another across restarts)."""

    def __init__(self, server: Server, log_path: Path, terminal: TextIO) -> None:
        self.server = server
        self.log_path = log_path
        self._terminal = terminal
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0
        self._copy: asyncio.Task[None] | None = None
        self._exited = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self, *, fresh_log: bool) -> None:
        """Start the server; `fresh_log` empties its log (a new stack), otherwise the restart
        is appended below what the dead process wrote."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb" if fresh_log else "ab")
        if not fresh_log:
            log.write(f"--- restarted at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _Watched(_LINE_LIMIT, loop),
                *self.server.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_ON_FORK,
            )
        except BaseException:
            log.close()
            raise
        self.process = asyncio.subprocess.Process(transport, protocol, loop)
        self._exited = protocol.exited
        self.started_at = time.monotonic()
        self._copy = asyncio.create_task(self._copy_output(log), name=f"{self.server.name}-log")

    async def _copy_output(self, log: BinaryIO) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        stream, prefix = self.process.stdout, f"[{self.server.name}] "
        with log:
            while True:
                try:
                    line = await stream.readline()
                except ValueError:  # a line longer than the limit: take what is there
                    line = await stream.read(_LINE_LIMIT)
                if not line:
                    return
                log.write(line)
                log.flush()
                text = line.decode(errors="replace").rstrip("\n")
                self._terminal.write(f"{prefix}{text}\n")
                self._terminal.flush()

    async def wait(self) -> int:
        """Until the process exits: its return code (-N: killed by signal N).

        Its exit is watched, not the end of its output: a process it started (same group) may
        hold the pipe open long after it died, and Process.wait() of Python 3.11 waits for that.
        """
        assert self.process is not None
        await self._exited.wait()
        assert self.process.returncode is not None
        return self.process.returncode

    def signal_group(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    async def stop(self, grace: float) -> None:
        """SIGTERM to the group, up to `grace` seconds, then SIGKILL; returns once no live
        process is left in the group (the leader reaped)."""
        if self.process is None:
            return
        pgid = self.process.pid
        self.signal_group(signal.SIGTERM)
        self.signal_group(signal.SIGCONT)  # a stopped process acts on SIGTERM only once resumed
        if not await self._gone(pgid, grace):
            self.signal_group(signal.SIGKILL)
            await self._gone(pgid, 10)
        if self._copy is not None:
            self._copy.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._copy

    async def _gone(self, pgid: int, seconds: float) -> bool:
        """Whether the leader exited and no live process is left in its group, within
        `seconds`."""
        assert self.process is not None
        deadline = time.monotonic() + seconds
        while self.process.returncode is None or group_members(pgid):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.1)
        return True
