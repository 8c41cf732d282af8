"""`python -m store team list|create|rename|staff|crew` on the demo station (both backends,
in-process), and the demo's own teams: 客服班 and 抢修班 made by the seed, the demo users put
into theirs by `demo-users`."""

from __future__ import annotations

from typing import Any, Final

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.cli import main
from store.db import unit_of_work
from store.demodata.crews import DEMO_CREWS
from store.services import teams
from tests.fakes.console import cheap_password_hashing, make_staff


def _rosters(factory: sessionmaker[Session]) -> dict[str, tuple[list[str], list[str]]]:
    """Team name → (usernames, crew names)."""
    with unit_of_work(factory) as session:
        return {
            t.name: ([m.username for m in t.members], [name for _, name in t.crews])
            for t in teams.rosters(session)
        }


def test_the_demo_station_has_a_chat_desk_and_a_repair_team(
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = _rosters(session_factory)
    assert found["客服班"] == ([], [])
    assert (found["抢修班"][0], sorted(found["抢修班"][1])) == ([], sorted(DEMO_CREWS))
    assert set(found) == {"客服班", "抢修班"}
    cheap_password_hashing(monkeypatch)
    monkeypatch.setenv("DEMO_AGENT_PASSWORD", "tests-pw")
    assert main(["--url", db_url, "demo-users"]) == 0
    found = _rosters(session_factory)
    assert found["客服班"][0] == ["agent1", "agent2", "supervisor"]
    assert found["抢修班"][0] == ["crew1", "foreman"]
    with unit_of_work(session_factory) as session:  # a manager's changes are kept
        chat_desk = teams.by_name(session, "客服班")
        assert chat_desk is not None
        teams.rename_team(session, chat_desk, "在线客服班")
    assert main(["--url", db_url, "demo-users"]) == 0
    assert set(_rosters(session_factory)) == {"在线客服班", "抢修班"}


def test_a_manager_sets_up_a_team_and_who_is_in_it(
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_staff(session_factory, {"laozhang": ("supervisor", 0), "xiaoli": ("agent", 3)})
    assert main(["--url", db_url, "team", "create", "夜班"]) == 0
    assert main(["--url", db_url, "team", "staff", "laozhang", "夜班"]) == 0
    assert main(["--url", db_url, "team", "staff", "xiaoli", "夜班"]) == 0
    assert main(["--url", db_url, "team", "crew", "山区抢修组", "夜班"]) == 0  # from 抢修班
    assert main(["--url", db_url, "team", "rename", "夜班", "夜间值班"]) == 0
    out = capsys.readouterr().out
    assert "Crew 山区抢修组 is now in 夜班." in out
    assert "Team 夜班 is now 夜间值班." in out
    found = _rosters(session_factory)
    assert found["夜间值班"] == (["laozhang", "xiaoli"], ["山区抢修组"])
    assert "山区抢修组" not in found["抢修班"][1]

    assert main(["--url", db_url, "team", "list"]) == 0
    listing = capsys.readouterr().out
    block = listing[listing.index("夜间值班") :].splitlines()[:3]
    assert block[1].endswith("laozhang (supervisor), xiaoli (agent)")
    assert block[2].endswith("山区抢修组")

    assert main(["--url", db_url, "team", "staff", "xiaoli", "--none"]) == 0
    assert main(["--url", db_url, "team", "crew", "山区抢修组", "--none"]) == 0
    assert _rosters(session_factory)["夜间值班"] == (["laozhang"], [])


REFUSED: Final = (
    (["team", "create", "抢修班"], "exists"),
    (["team", "create", " "], "1 to 64 characters"),
    (["team", "rename", "没有这个班", "新班"], "no team"),
    (["team", "rename", "客服班", "抢修班"], "exists"),
    (["team", "staff", "nobody", "客服班"], "no staff user"),
    (["team", "staff", "agent1", "没有这个班"], "no team"),
    (["team", "crew", "没有这个组", "客服班"], "no crew"),
    (["team", "crew", "东片抢修组"], "name a team, or --none"),
    (["team", "staff", "agent1", "客服班", "--none"], "name a team, or --none"),
)


def test_what_cannot_be_done_is_refused_and_changes_nothing(
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_staff(session_factory, {"agent1": ("agent", 3)})
    before = _rosters(session_factory)
    for argv, reason in REFUSED:
        assert main(["--url", db_url, *argv]) == 1, argv
        assert reason in capsys.readouterr().err, argv
    assert _rosters(session_factory) == before
