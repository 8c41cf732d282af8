"""The action server's settings and token check (no server: actions/server.py's parts), and the
verification back-off's arithmetic."""

from __future__ import annotations

import pytest

from actions.server import DEFAULT_HOST, bearer_matches, server_settings
from store.config import ConfigError, load_settings

TOKEN = "0123456789abcdef0123"


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer  {TOKEN} ", True),
        (None, False),
        ("", False),
        (TOKEN, False),  # no scheme
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer ", False),
        ("Bearer 令牌", False),  # not ASCII: compared as bytes, never raises
    ],
)
def test_bearer_matches(header: str | None, ok: bool) -> None:
    assert bearer_matches(header, TOKEN) is ok


def test_loopback_unless_told_otherwise() -> None:
    assert server_settings({"ACTION_SERVER_TOKEN": TOKEN}).host == DEFAULT_HOST == "127.0.0.1"
    assert server_settings({"ACTION_SERVER_TOKEN": TOKEN, "ACTION_HOST": " "}).host == "127.0.0.1"
    told = server_settings({"ACTION_SERVER_TOKEN": TOKEN, "ACTION_HOST": "0.0.0.0"})
    assert (told.host, told.token) == ("0.0.0.0", TOKEN)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "ACTION_SERVER_TOKEN is not set"),
        ({"ACTION_SERVER_TOKEN": "  "}, "ACTION_SERVER_TOKEN is not set"),
        ({"ACTION_SERVER_TOKEN": "short"}, "too short"),
    ],
)
def test_no_usable_token_no_server(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        server_settings(environ)


def test_back_off_doubles_from_the_limit_up_to_the_cap() -> None:
    policy = load_settings().commitments.verification  # limits 5/10/5/100, 60 s up to 900 s
    waits = [policy.wait_seconds(n, "account") for n in range(4, 12)]
    assert waits == [0, 60, 120, 240, 480, 900, 900, 900]
    assert policy.wait_seconds(10_000, "station") == 900
    assert policy.wait_seconds(99, "station") == 0
