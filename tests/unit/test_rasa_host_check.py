"""rasa_addons/host_check.py: which Host headers Rasa answers (no DNS rebinding)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from rasa_addons.host_check import allowed_names, host_allowed, host_name

ROOT = Path(__file__).resolve().parents[2]
NAMES = allowed_names({"RASA_ALLOWED_HOSTS": "rasa, Rasa-Standby. ,"})


def test_allowed_names() -> None:
    assert {"localhost", "rasa", "rasa-standby"} <= NAMES
    assert "" not in NAMES
    assert "rasa" not in allowed_names({})


@pytest.mark.parametrize(
    ("header", "host"),
    [("LocalHost:5005", "localhost"), ("[::1]:5005", "::1"), ("rasa.", "rasa"), ("::1", "::1")],
)
def test_host_name(header: str, host: str) -> None:
    assert host_name(header) == host


@pytest.mark.parametrize(
    "header",
    ["localhost", "localhost:5005", "127.0.0.1:5005", "[::1]:5006", "10.1.2.3", "rasa:5005"],
)
def test_allowed(header: str) -> None:
    assert host_allowed(header, NAMES)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "evil.example:5005",  # a rebound name
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "rasa.evil.example",
        "xn--rasa-9ra",
        "rasa:5005",  # not configured here
    ],
)
def test_refused(header: str | None) -> None:
    assert not host_allowed(header, allowed_names({}))


def test_compose_lets_the_gateway_reach_rasa_by_its_service_name() -> None:
    """docker-compose.yml: the host of the gateway's RASA_URL is one Rasa answers."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    rasa_url = services["gateway"]["environment"]["RASA_URL"]
    host = urlsplit(re.sub(r"\$\{[^}]*\}", "5005", rasa_url)).hostname
    assert host is not None
    names = allowed_names({k: str(v) for k, v in services["rasa"]["environment"].items()})
    assert host_allowed(host, names)
