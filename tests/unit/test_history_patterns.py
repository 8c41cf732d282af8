"""Where the demo history's patterns fall, relative to "now" (store/demodata/history/
patterns.py), the scales of `python -m store history`, and the inbox's group keys (no I/O)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from nlu.rules import normalise_for_grouping
from store.demodata.history.inbox import group_key
from store.demodata.history.patterns import (
    COUNTY,
    FINISHED_BEFORE,
    TOWNSHIP,
    parse_scale,
    patterns_for,
)
from store.demodata.history.texts_chat import HARD

TZ = ZoneInfo("Asia/Shanghai")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.mark.parametrize(
    ("now", "start", "storm_year"),
    [
        ("2026-11-23 10:00", date(2025, 10, 1), 2026),
        ("2026-07-18 10:00", date(2025, 6, 1), 2025),  # too close after this July's storm days
        ("2026-07-20 10:00", date(2025, 6, 1), 2026),
        ("2027-01-01 00:30", date(2025, 12, 1), 2026),
        ("2026-03-31 23:00", date(2025, 2, 1), 2025),
    ],
)
def test_thirteen_whole_months_and_the_latest_july_storm(
    now: str, start: date, storm_year: int
) -> None:
    p = patterns_for(_at(now), TZ)
    assert p.start == start
    assert p.end == _at(now) - FINISHED_BEFORE
    assert p.storm == tuple(date(storm_year, 7, d) for d in (14, 15, 16))
    assert p.start < p.storm[0]
    assert p.storm[-1] < _at(now).date()


@pytest.mark.parametrize("month", range(1, 13))
def test_the_dip_is_two_months_before_now_never_the_storms_and_recovers_after(month: int) -> None:
    now = _at(f"2026-{month:02d}-15 12:00")
    p = patterns_for(now, TZ)
    (y1, m1), (y2, m2) = p.dip
    assert 7 not in (m1, m2)
    assert (y2 * 12 + m2) - (y1 * 12 + m1) == 1
    assert (p.start.year, p.start.month) < (y1, m1)
    assert p.recovery == ((y2, m2 + 1) if m2 < 12 else (y2 + 1, 1))
    assert p.months_from_now(date(*p.recovery, 1)) < 0  # recovered before now
    assert p.in_dip(date(y1, m1, 3))
    assert not p.in_dip(date(*p.recovery, 3))


def test_scales() -> None:
    assert parse_scale("township") is TOWNSHIP
    assert parse_scale("county") is COUNTY
    part = parse_scale("0.01")
    assert part.tickets == pytest.approx(COUNTY.tickets / 100)
    assert part.accounts == COUNTY.accounts // 100
    assert part.agents >= 1
    assert TOWNSHIP.chat_share == 1.0 > COUNTY.chat_share
    for bad in ("0", "2", "-1", "many"):
        with pytest.raises(ValueError, match="scale"):
            parse_scale(bad)


def test_inbox_group_keys_are_what_nlu_inbox_groups_by() -> None:
    for text, _ in HARD:
        assert group_key(text) == normalise_for_grouping(text), text
    assert group_key("我的户号3301000002") is None  # digits: left to nlu's own normaliser
    assert group_key("电费多少？") is None
    assert group_key("Zhuan  Rengong") == "zhuanrengong" == normalise_for_grouping("Zhuan  Rengong")
