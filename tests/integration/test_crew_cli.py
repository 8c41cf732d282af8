"""`python -m store crews list|add|set|member` on the demo station (both backends, in-process)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.cli import main
from store.db import unit_of_work
from store.services import crews, staff
from tests.fakes.console import make_staff


def _crew(factory: sessionmaker[Session], name: str) -> tuple[str | None, list[str], bool]:
    with unit_of_work(factory) as session:
        crew = crews.by_name(session, name)
        assert crew is not None
        return crew.phone, [a.name for a in crew.areas], crew.active


def test_a_manager_sets_up_a_crew_and_its_member(
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_staff(session_factory, {"laowang": ("crew", 0)})
    assert main(["--url", db_url, "crews", "add", "北片抢修组", "--phone", "13905719009",
                 "--area", "东山村", "--area", "桃源村"]) == 0  # fmt: skip
    assert _crew(session_factory, "北片抢修组") == ("13905719009", ["东山村", "桃源村"], True)
    assert main(["--url", db_url, "crews", "member", "laowang", "北片抢修组"]) == 0
    capsys.readouterr()

    assert main(["--url", db_url, "crews", "list"]) == 0
    listing = capsys.readouterr().out
    block = listing[listing.index("北片抢修组") :].split("\n\n")[0]
    assert "13905719009" in block
    assert "东山村、桃源村" in block
    assert "laowang" in block
    assert "未完成工单 open tickets: 0" in block
    east = listing[listing.index("东片抢修组") :].splitlines()
    counted = next(line for line in east if "未完成工单" in line)
    assert int(counted.rsplit(":", 1)[1]) >= 1  # the demo's repair on site (T0001010001)
    assert "crew1" not in listing  # demo users are not created by seeding

    assert main(["--url", db_url, "crews", "set", "北片抢修组", "--area", "柳湾村",
                 "--inactive"]) == 0  # fmt: skip
    assert _crew(session_factory, "北片抢修组") == ("13905719009", ["柳湾村"], False)
    assert main(["--url", db_url, "crews", "member", "laowang", "--none"]) == 0
    with unit_of_work(session_factory) as session:
        user = staff.get_by_username(session, "laowang")
        assert user is not None
        assert user.crew_id is None


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["crews", "add", "东片抢修组"], "exists"),
        (["crews", "add", "新组", "--area", "火星村"], "no single service area"),
        (["crews", "set", "没有这个组", "--inactive"], "no crew"),
        (["crews", "member", "agent1", "东片抢修组"], "not a crew member"),
        (["crews", "member", "nobody", "东片抢修组"], "no staff user"),
        (["crews", "member", "crew9"], "name a crew, or --none"),
    ],
)
def test_what_cannot_be_done_is_refused_and_changes_nothing(
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    reason: str,
) -> None:
    make_staff(session_factory, {"agent1": ("agent", 3), "crew9": ("crew", 0)})
    with unit_of_work(session_factory) as session:
        before = [(c.name, c.phone, c.active, len(c.areas)) for c in crews.all_crews(session)]
    assert main(["--url", db_url, *argv]) == 1
    assert reason in capsys.readouterr().err
    with unit_of_work(session_factory) as session:
        after = [(c.name, c.phone, c.active, len(c.areas)) for c in crews.all_crews(session)]
    assert after == before
