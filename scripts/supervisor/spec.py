"""What the supervisor runs: one `Server` per process, read from a JSON-lines file.

scripts/run.sh writes that file, one `python -m scripts.supervisor spec ...` line per server,
each command starting with `env -u ...` (lib.sh's `unset_secrets`: the secrets that server may
not hold). The file holds no secret: a readiness URL that needs Rasa's token names the variable
(`token_env`) and the supervisor adds the value from its own environment when it asks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from scripts.supervisor.ports import Address, AddressError


class SpecError(ValueError):
    """The servers file is wrong: the message names the line and what is wrong."""


@dataclass(frozen=True)
class Readiness:
    url: str
    any_status: bool = False
    """Any HTTP answer counts: the gateway's /health answers 503 while Rasa is away, yet the
    gateway is up and takes messages."""
    token_env: str | None = None
    """The URL gets `token=<value of this variable>` (Rasa's API), added at each probe."""

    def url_with(self, environ: Mapping[str, str]) -> str:
        token = environ.get(self.token_env, "") if self.token_env else ""
        if not token:
            return self.url
        joiner = "&" if urlsplit(self.url).query else "?"
        return f"{self.url}{joiner}{urlencode({'token': token})}"


@dataclass(frozen=True)
class Server:
    name: str
    listen: Address
    ready: Readiness
    command: tuple[str, ...]
    after: str | None = None
    """Started once that server is ready (the standby Rasa: both would create the tracker
    store's tables at once)."""
    setting: str | None = None
    """The variable that sets its port, named when the port is taken."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "listen": str(self.listen),
                "setting": self.setting,
                "ready": {
                    "url": self.ready.url,
                    "any_status": self.ready.any_status,
                    "token_env": self.ready.token_env,
                },
                "after": self.after,
                "command": list(self.command),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, line: str) -> Server:
        data: Any = json.loads(line)
        ready = data["ready"]
        command = data["command"]
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(part, str) for part in command)
        ):
            raise SpecError("command: a non-empty list of strings")
        return cls(
            name=str(data["name"]),
            listen=Address.parse(str(data["listen"])),
            ready=Readiness(
                url=str(ready["url"]),
                any_status=bool(ready.get("any_status", False)),
                token_env=ready.get("token_env") or None,
            ),
            command=tuple(command),
            after=data.get("after") or None,
            setting=data.get("setting") or None,
        )


def check(servers: Iterable[Server]) -> list[Server]:
    """The servers, if names are unique, `after` names one listed before and no two share a
    port; SpecError otherwise."""
    seen: dict[str, Server] = {}
    ports: dict[int, str] = {}
    for server in servers:
        if server.name in seen:
            raise SpecError(f"{server.name}: listed twice")
        if server.after is not None and server.after not in seen:
            raise SpecError(f"{server.name}: after {server.after!r}, which is not listed before")
        if server.listen.port in ports:
            raise SpecError(
                f"{server.name} and {ports[server.listen.port]} both want port {server.listen.port}"
            )
        seen[server.name] = server
        ports[server.listen.port] = server.name
    if not seen:
        raise SpecError("no server to run")
    return list(seen.values())


def load(path: Path) -> list[Server]:
    servers = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            servers.append(Server.from_json(line))
        except (ValueError, KeyError, TypeError, AddressError) as error:
            raise SpecError(f"{path}, line {number}: {error}") from None
    return check(servers)
