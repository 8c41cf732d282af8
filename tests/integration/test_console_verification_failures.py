"""Failed identity checks on the supervisor overview: supervisors and managers read them
(masked), agents and operators are refused, anonymous callers are told to log in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.console import verification_api
from store.config import load_settings
from store.db import unit_of_work
from store.demo import DemoSummary
from store.services import verification
from store.services.verification import Claimant
from tests.fakes.console import (
    Console,
)

PATH = verification_api.PATH
WEB_ID = "web:5a1f3e9c-8d2b-4c6a-9e7f-0b1c2d3e4f50"


@pytest.fixture
def console_staff(seeded: DemoSummary) -> dict[str, tuple[str, int]]:
    """On the demo station's data, with a manager."""
    return {"chief": ("manager", 5)}


def guesses(factory: sessionmaker[Session]) -> None:
    """Three wrong guesses at one account from one address, one right answer elsewhere."""
    settings, now = load_settings(), datetime.now(UTC)
    with unit_of_work(factory) as session:
        for n in range(3):
            verification.verify(
                session,
                settings,
                claimant=Claimant(f"{WEB_ID[:-1]}{n}", "203.0.113.9"),
                account_no="3301000002",
                phone_last4=f"99{n}9",
                now=now,
            )
        verification.verify(
            session,
            settings,
            claimant=Claimant("tg-7", None),
            account_no="3301000001",
            phone_last4="0001",
            now=now,
        )


async def test_supervisors_and_managers_read_the_failures_masked(
    console: Console, session_factory: sessionmaker[Session]
) -> None:
    guesses(session_factory)
    for username in ("boss", "chief"):
        who = await console.browser(username)
        status, data = await who.json("GET", PATH)
        assert status == 200, data
        assert (data["failures"], data["throttled"]) == (3, 0)
        assert data["station_limit"] == 100
        assert [a["client_address"] for a in data["latest"]] == ["203.0.113.9"] * 3
        assert data["by_client"][0] | {"latest": None} == {
            "key": "203.0.113.9",
            "failures": 3,
            "latest": None,
        }
        assert data["by_account"][0]["key"] == "33******02"
        text = str(data)
        assert "3301000002" not in text  # masked
        assert WEB_ID[4:] not in text
        assert all(a["conversation"].startswith("web:") for a in data["latest"])


async def test_other_roles_and_anonymous_callers_are_refused(console: Console) -> None:
    anonymous = await console.browser()
    response = await anonymous.get(PATH)
    assert response.status == 401
    for username in ("agent1", "ops"):
        who = await console.browser(username)
        response = await who.get(PATH)
        assert response.status == 403, username
        assert (await response.json())["error"]["code"] == "forbidden"


async def test_limit_is_checked(console: Console) -> None:
    boss = await console.browser("boss")
    for bad in ("0", "201", "x", "²"):
        status, data = await boss.json("GET", f"{PATH}?limit={bad}")
        assert status == 422, bad
        assert data["error"]["code"] == "invalid"
