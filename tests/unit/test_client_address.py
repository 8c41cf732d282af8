"""bot/clientaddr.py: X-Forwarded-For believed only from the configured trusted proxies."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.clientaddr import AccessLogger, client_address, limit_key, parse_networks
from bot.keys import SETTINGS
from bot.settings import ConfigError, GatewaySettings

PROXY = parse_networks("10.0.0.5, 192.168.0.0/16, ::1")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # an untrusted peer is the client, whatever it claims
        ("203.0.113.7", ["1.2.3.4"], "203.0.113.7"),
        ("203.0.113.7", ["10.0.0.5"], "203.0.113.7"),
        ("203.0.113.7", ["1.2.3.4, 10.0.0.5"], "203.0.113.7"),
        ("127.0.0.1", ["1.2.3.4"], "127.0.0.1"),  # loopback is not trusted unless listed
        # a trusted proxy's entry is believed, from the right
        ("10.0.0.5", ["198.51.100.9"], "198.51.100.9"),
        ("10.0.0.5", ["1.2.3.4, 198.51.100.9"], "198.51.100.9"),  # the client's own claim: no
        ("10.0.0.5", ["1.2.3.4", "198.51.100.9"], "198.51.100.9"),  # several header lines
        ("10.0.0.5", ["198.51.100.9, 192.168.3.4"], "198.51.100.9"),  # a chain of proxies
        ("10.0.0.5", ["192.168.3.4"], "192.168.3.4"),  # only proxies: the farthest one
        ("10.0.0.5", [], "10.0.0.5"),
        ("10.0.0.5", ["  "], "10.0.0.5"),
        ("10.0.0.5", ["not-an-address"], "10.0.0.5"),  # garbage: stop at the proxy
        ("10.0.0.5", ["1.2.3.4, garbage"], "10.0.0.5"),
        ("10.0.0.5", ["198.51.100.9:4711"], "198.51.100.9"),
        ("10.0.0.5", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("10.0.0.5", ['"[2001:db8::2]"'], "2001:db8::2"),
        ("::1", ["2001:db8::7"], "2001:db8::7"),
        ("::ffff:10.0.0.5", ["198.51.100.9"], "198.51.100.9"),  # IPv4-mapped peer
        ("::ffff:203.0.113.7", ["1.2.3.4"], "203.0.113.7"),
        (None, ["1.2.3.4"], "unknown"),
        ("", ["1.2.3.4"], "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], client: str) -> None:
    assert client_address(peer, forwarded, PROXY) == client


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("10.0.0.5", ["198.51.100.9"], ()) == "10.0.0.5"


def test_limits_count_an_ipv6_client_by_its_64() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::2")
    assert limit_key("2001:db8:1:2::1") != limit_key("2001:db8:1:3::1")
    assert limit_key("198.51.100.9") == "198.51.100.9"
    assert limit_key("unknown") == "unknown"


def test_trusted_proxies_setting() -> None:
    settings = GatewaySettings.from_env({"TRUSTED_PROXIES": "10.0.0.5, 172.16.0.0/12 ::1"})
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.5/32", "172.16.0.0/12", "::1/128"]
    assert GatewaySettings.from_env({}).trusted_proxies == ()
    with pytest.raises(ConfigError, match=r"TRUSTED_PROXIES: 'proxy\.local'"):
        GatewaySettings.from_env({"TRUSTED_PROXIES": "10.0.0.5, proxy.local"})


def test_the_access_log_shows_the_client_behind_the_proxy(caplog: pytest.LogCaptureFixture) -> None:
    app = web.Application()
    app[SETTINGS] = GatewaySettings(trusted_proxies=PROXY)
    transport = mock.Mock()
    transport.get_extra_info.return_value = ("10.0.0.5", 40000)
    request = make_mocked_request(
        "GET",
        "/health?token=secret",
        headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.9", "User-Agent": "curl/8"},
        app=app,
        transport=transport,
    )
    logger = logging.getLogger("test.access")
    caplog.set_level(logging.INFO, logger="test.access")
    AccessLogger(logger, "").log(request, web.Response(status=200), 0.0123)
    assert caplog.messages == ['198.51.100.9 "GET /health HTTP/1.1" 200 0 0.012s "curl/8"']
