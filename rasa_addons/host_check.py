"""Rasa answers only requests addressed to it by a name it knows: no DNS rebinding.

Rasa listens on loopback, and its webhooks need no token. A web page from another site can
still reach it through the customer's or the operator's own browser: its domain's DNS answer
switches to 127.0.0.1 after the page loaded (DNS rebinding), and the browser then sends the
page's requests to Rasa as same-origin requests, with the attacker's name in the Host header.
So every request whose Host is not a loopback name, an IP address, or a name listed in
RASA_ALLOWED_HOSTS (comma-separated, e.g. `rasa` when the gateway reaches Rasa by a Docker
service name) is refused with 400 before Rasa sees it. An IP address cannot be rebound, so
IP literals are always accepted.

Installed by the gateway's input channel (rasa_addons/gateway_channel.py), the one piece of
this project Rasa loads: its blueprint registers a listener that adds this check as the first
request middleware of the whole Sanic app (every route, not only the channel's). Standard
library and Sanic only.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

ENV = "RASA_ALLOWED_HOSTS"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def allowed_names(env: Mapping[str, str]) -> frozenset[str]:
    """The names accepted besides IP addresses: loopback names and RASA_ALLOWED_HOSTS."""
    extra = (name.strip().lower().rstrip(".") for name in env.get(ENV, "").split(","))
    return LOOPBACK_NAMES | {name for name in extra if name}


def host_name(header: str) -> str:
    """The host of a Host header: lower-cased, without the port and a final dot."""
    host = header.strip().lower()
    if host.startswith("["):  # [::1]:5005
        return host[1:].partition("]")[0]
    if host.count(":") == 1:  # name:port or v4:port
        host = host.partition(":")[0]
    return host.rstrip(".")


def host_allowed(header: str | None, names: Iterable[str]) -> bool:
    """Whether a request with this Host header may reach Rasa (none: refused)."""
    if not header:
        return False
    host = host_name(header)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host in set(names)
    return True


def make_check(names: frozenset[str]) -> Any:
    """The Sanic request middleware refusing other hosts."""

    async def check_host(request: Request) -> HTTPResponse | None:
        header = request.headers.get("host")
        if host_allowed(header, names):
            return None
        logger.warning("refused a request for host %r (DNS rebinding?)", header)
        return response.json(
            {"error": "unknown host", "allowed": "localhost, IP addresses or " + ENV}, status=400
        )

    return check_host


def install(blueprint: Blueprint, env: Mapping[str, str] | None = None) -> None:
    """Have `blueprint`, once registered on an app, put the check in front of all its routes."""
    names = allowed_names(os.environ if env is None else env)
    check = make_check(names)

    @blueprint.listener("before_server_start")
    async def _install_host_check(app: Any, _loop: Any) -> None:
        if check not in app.request_middleware:
            app.request_middleware.appendleft(check)  # before CORS and Rasa's own
            logger.info("Host header check on: %s or an IP address", ", ".join(sorted(names)))
