"""The client's address: the one function every limiter and log line of the gateway uses.

Behind a reverse proxy every request comes from the proxy, so the customer's address is in
`X-Forwarded-For`, which anybody can also send. It is believed only as far as the hops that
appended to it are trusted (TRUSTED_PROXIES): starting from the TCP peer, the header is read
from the right (the entry the nearest proxy added) and the first address that is not a
trusted proxy is the client. A peer that is not a trusted proxy is the client itself, whatever
it claims. Without TRUSTED_PROXIES the header is ignored.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable, Sequence
from typing import Final

from aiohttp import hdrs, web
from aiohttp.abc import AbstractAccessLogger

from bot.keys import SETTINGS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN: Final = "unknown"
"""The address of a peer the socket does not name (a Unix socket, a closed transport)."""
IPV6_LIMIT_PREFIX: Final = 64
"""One IPv6 customer usually holds a whole /64: limits count it as one address."""
CLIENT: Final = web.RequestKey("client_address", str)


def parse_networks(raw: str, name: str = "TRUSTED_PROXIES") -> tuple[Network, ...]:
    """'10.0.0.1, 192.168.0.0/16 ::1' → networks; ValueError naming `name` and the bad item."""
    networks = []
    for item in raw.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(
                f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.1 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def _address(raw: str) -> Address | None:
    """An address as peers and X-Forwarded-For write it (with or without a port); IPv4-mapped
    IPv6 addresses as plain IPv4, so one client has one spelling."""
    text = raw.strip().strip('"')
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Iterable[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> str:
    """The client's address for a request from `peer` carrying these X-Forwarded-For header
    values (in order), believing only `proxies` (see the module doc)."""
    current = _address(peer or "")
    if current is None:
        return peer or UNKNOWN
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    while hops and _trusted(current, proxies):
        previous = _address(hops.pop())
        if previous is None:  # garbage a trusted proxy passed on: stop at that proxy
            break
        current = previous
    return str(current)


def client_ip(request: web.Request) -> str:
    """The client's address of a gateway request (computed once per request)."""
    if CLIENT in request:
        return request[CLIENT]
    settings = request.app.get(SETTINGS)
    proxies = settings.trusted_proxies if settings is not None else ()
    address = client_address(
        request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, ()), proxies
    )
    request[CLIENT] = address
    return address


def limit_key(address: str) -> str:
    """What a per-address limit counts: the address, or for IPv6 its /64 network."""
    parsed = _address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((parsed, IPV6_LIMIT_PREFIX), strict=False)
        return str(network)
    return address


class AccessLogger(AbstractAccessLogger):
    """aiohttp's access log with the client's address of `client_ip` instead of the TCP peer
    (which behind a proxy is always the proxy), and the path without its query string."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        address = request.remote or UNKNOWN
        if isinstance(request, web.Request):
            with contextlib.suppress(Exception):  # a request that never reached the app
                address = client_ip(request)
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %s %.3fs "%s"',
            address,
            request.method,
            request.path,
            request.version.major,
            request.version.minor,
            response.status,
            response.body_length,
            time,
            request.headers.get(hdrs.USER_AGENT, "-"),
        )
