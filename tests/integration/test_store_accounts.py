"""Accounts and areas: lookups accept what customers type; areas match free text."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.demo import DemoSummary
from store.services import accounts, areas


def test_account_lookup_normalises(
    seeded: DemoSummary, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        found = accounts.get_by_no(session, "３３０１ ０００ ００１")
        assert found is not None
        assert found.holder_name == "张建国"
        assert found.area.name == "东山村"
        long = accounts.get_by_no(session, "3303301000004")
        assert long is not None
        assert long.holder_name == "赵敏"
        assert accounts.get_by_no(session, "3301999999") is None
        assert accounts.get_by_no(session, "not a number") is None
        by_meter = accounts.get_by_meter_no(session, found.meter_no)
        assert by_meter is found
        assert found.meter_no != found.account_no


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("西河村村口那根电杆", "西河村"),
        ("东山3组", "东山村"),
        ("我在青溪镇区幸福路", "青溪社区"),
        ("XIHE village", "西河村"),
        ("西和村5组", "西河村"),  # typo alias
        ("高岭山上", "高岭村"),
        ("北京市朝阳区", None),
        ("", None),
    ],
)
def test_match_area(
    seeded: DemoSummary, session_factory: sessionmaker[Session], text: str, expected: str | None
) -> None:
    with unit_of_work(session_factory) as session:
        area = areas.match_area(session, text)
        assert (area.name if area else None) == expected


def test_list_and_sync_areas(session_factory: sessionmaker[Session], settings: Settings) -> None:
    with unit_of_work(session_factory) as session:
        assert areas.list_areas(session) == []
        synced = areas.sync_areas(session, settings)
        assert [a.code for a in synced] == [f"QX{n:02d}" for n in range(1, 12)]
        again = areas.sync_areas(session, settings)  # idempotent
        assert [a.id for a in again] == [a.id for a in synced]
        area = areas.get_by_code(session, "QX10")
        assert area is not None
        assert (area.name, area.kind) == ("高岭村", "remote")
        assert areas.get_by_code(session, "") is None
