"""Whether a port a server needs is free and, when it is not, which process holds it.

Checked by binding the address as the server will (SO_REUSEADDR, so a connection of a server
stopped a moment ago in TIME_WAIT does not count): only a listening socket makes it fail. The
holder is found in /proc: the listening sockets of /proc/net/tcp{,6} on that port, then the
processes with one of them among their open files. Another user's processes are visible only to
root; then the message says how to look.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_LISTEN = "0A"
"""The state column of /proc/net/tcp for a listening socket."""


class AddressError(ValueError):
    """An address the supervisor cannot listen on or parse."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Address:
        """`127.0.0.1:5005`, `[::1]:5005`, `0.0.0.0:5055`."""
        host, _, port = text.strip().rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise AddressError(f"not a host:port address: {text!r}")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str


def in_use(address: Address) -> bool:
    """Whether something listens where `address` would (EADDRINUSE on binding it)."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address.host, address.port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise AddressError(f"cannot listen on {address}: {error.strerror}") from None
    return False


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            listening = len(fields) > 9 and fields[3] == _LISTEN
            if listening and int(fields[1].rpartition(":")[2], 16) == port:
                inodes.add(fields[9])
    return inodes


def command_line(pid: int, proc: Path = PROC) -> str:
    """The process's command line as `ps` shows it ('' once it is gone)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")


def holders(port: int, proc: Path = PROC) -> list[Holder]:
    """The processes listening on `port` that this user may see, lowest pid first."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port, proc)}
    found: list[Holder] = []
    if not wanted:
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:  # gone, or another user's
            continue
        if links & wanted:
            found.append(Holder(int(entry.name), command_line(int(entry.name), proc)))
    return sorted(found, key=lambda holder: holder.pid)


def describe_busy(name: str, address: Address, setting: str | None = None) -> str:
    """'port 8080 (gateway, GATEWAY_PORT) is in use by pid 4242: python3 -m http.server 8080'."""
    what = f"{name}, {setting}" if setting else name
    found = holders(address.port)
    if not found:
        return (
            f"port {address.port} ({what}) is in use by a process this user cannot see;"
            f" `sudo ss -ltnp 'sport = :{address.port}'` shows it"
        )
    by = "; ".join(f"pid {h.pid}: {h.command or '?'}" for h in found[:3])
    return f"port {address.port} ({what}) is in use by {by}"
