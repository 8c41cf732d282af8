"""The outage notices' rules that need no database: groups in addresses, quiet hours, the
reminder's time, the notice commitment, one customer across channels, the configuration's
checks and the subscription buttons' payloads."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from store.config import load_settings
from store.configuration.outages import QuietHours, Reminder, load_outages
from store.configuration.yamlfile import ConfigError
from store.models import Outage
from store.outages import commitment, subscriptions
from store.outages.fanout import Candidate, group
from store.services.areas import group_of

TZ = ZoneInfo("Asia/Shanghai")
SETTINGS = load_settings()


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("东山村3组12号", 3),
        ("东山村三组", 3),
        ("第十二组", 12),
        ("二十一队", 21),
        ("两组", 2),
        ("２０组", 20),
        ("东山村", None),
        ("青溪社区", None),
        ("", None),
        (None, None),
    ],
)
def test_the_group_an_address_names(text: str | None, expected: int | None) -> None:
    assert group_of(text) == expected


def test_quiet_hours_across_midnight() -> None:
    quiet = QuietHours(time(22), time(7))
    assert quiet.holds(local(23, 22, 0), TZ)
    assert quiet.holds(local(24, 3, 30), TZ)
    assert quiet.holds(local(24, 6, 59), TZ)
    assert not quiet.holds(local(24, 7, 0), TZ)
    assert not quiet.holds(local(23, 21, 59), TZ)
    assert quiet.holds(local(23, 14).astimezone(UTC) + timedelta(hours=9), TZ)  # 23:00 local


def test_quiet_hours_within_a_day_and_none() -> None:
    assert QuietHours(time(12), time(14)).holds(local(23, 13), TZ)
    assert not QuietHours(time(12), time(14)).holds(local(23, 14), TZ)
    assert not QuietHours(time(0), time(0)).holds(local(23, 3), TZ)


def test_the_reminder_is_the_day_before_at_its_time() -> None:
    rule = Reminder(days_before=1, at=time(18), min_gap=timedelta(hours=6))
    assert rule.due_at(local(26, 8), TZ) == local(25, 18)
    assert rule.due_at(local(26, 1).astimezone(UTC), TZ) == local(25, 18)


def _outage(kind: str, starts_at: datetime) -> Outage:
    return Outage(kind=kind, starts_at=starts_at, notice_missed=False)


def test_a_planned_outage_a_week_ahead_keeps_the_commitment() -> None:
    now = local(23, 10)
    outage = _outage("planned", now + timedelta(days=7))
    assert commitment.check(SETTINGS.commitments, outage, now) is None
    assert outage.notice_due_at == now
    assert outage.notice_missed is False


def test_a_late_planned_outage_is_accepted_with_a_warning_that_names_the_commitment() -> None:
    now = local(23, 10)
    outage = _outage("planned", now + timedelta(days=2, hours=5))
    warning = commitment.check(SETTINGS.commitments, outage, now)
    assert warning is not None
    assert "计划停电应提前7天" in warning.zh
    assert "仅提前2天5小时" in warning.zh
    assert "7 d" in warning.en
    assert warning.as_json()["required_hours"] == 168
    assert warning.as_json()["given_hours"] == 53
    assert outage.notice_missed is True


def test_temporary_outages_owe_24_hours_and_faults_nothing() -> None:
    now = local(23, 10)
    temporary = _outage("temporary", now + timedelta(hours=30))
    assert commitment.check(SETTINGS.commitments, temporary, now) is None
    short = _outage("temporary", now + timedelta(hours=20))
    warning = commitment.check(SETTINGS.commitments, short, now)
    assert warning is not None
    assert "临时停电应提前1天" in warning.zh
    fault = _outage("fault", now)
    assert commitment.check(SETTINGS.commitments, fault, now) is None
    assert fault.notice_due_at is None


def test_a_late_outage_stays_late_when_its_start_moves_later() -> None:
    now = local(23, 10)
    outage = _outage("planned", now + timedelta(days=1))
    assert commitment.check(SETTINGS.commitments, outage, now) is not None
    outage.starts_at = now + timedelta(days=30)
    assert commitment.check(SETTINGS.commitments, outage, now) is None
    assert outage.notice_missed is True


def test_one_customer_on_two_channels_is_told_once_where_they_subscribed() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    activity = {"web:abc": now, "telegram:1": now - timedelta(days=3), "telegram:2": now}
    found = group(
        [
            Candidate("telegram:1", 7, "13900000001", True),  # subscribed, verified account 7
            Candidate("web:abc", None, "13900000001", False),  # reported from the web, same phone
            Candidate("telegram:2", None, None, True),  # somebody else
        ],
        activity,
    )
    assert len(found) == 2
    first = next(r for r in found if r.key == "account:7")
    assert first.conversation_id == "telegram:1"  # subscribed beats more recently active
    assert first.subscribed
    other = next(r for r in found if r.conversation_id == "telegram:2")
    assert other.key.startswith("chat:")
    assert "telegram" not in other.key


def test_a_reporter_on_two_channels_is_told_on_the_last_one_used() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    found = group(
        [Candidate("web:old", 3, None, False), Candidate("telegram:5", 3, None, False)],
        {"web:old": now - timedelta(hours=5), "telegram:5": now},
    )
    assert [(r.key, r.conversation_id, r.subscribed) for r in found] == [
        ("account:3", "telegram:5", False)
    ]


def test_the_same_conversation_twice_is_one_candidate() -> None:
    found = group(
        [Candidate("telegram:9", None, None, False), Candidate("telegram:9", 4, None, True)], {}
    )
    assert [(r.key, r.subscribed) for r in found] == [("account:4", True)]


def test_subscription_payloads_round_trip() -> None:
    value = subscriptions.subscribe_value("QX03", 3)
    assert subscriptions.parse_value(value) == ("subscribe", "QX03", 3)
    assert subscriptions.parse_value("subscribe:QX04") == ("subscribe", "QX04", None)
    assert subscriptions.parse_value("unsubscribe") == ("unsubscribe", None, None)
    assert subscriptions.parse_value("subscribe:") is None
    assert subscriptions.parse_value("drop table") is None
    assert subscriptions.parse_value(None) is None
    assert subscriptions.payload("unsubscribe") == (
        '/query_outage_info{"outage_subscription": "unsubscribe"}'
    )


def _conf(tmp_path: Path, old: str, new: str) -> Path:
    text = (SETTINGS.conf_dir / "outages.yml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "outages.yml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


def test_the_configuration_loads_with_its_feeders() -> None:
    config = load_outages(SETTINGS.conf_dir, [a.code for a in SETTINGS.areas])
    line = config.feeder("F03")
    assert line is not None
    assert config.feeder(line.name) is line
    assert "QX04" in line.areas
    assert config.delivery.pace("telegram").per_second <= 30
    assert config.delivery.pace("telegram").per_chat_seconds >= 1
    assert config.delivery.pace("unknown-channel") == config.delivery.default


def test_a_feeder_of_an_unknown_area_stops_start_up(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "areas: [QX05]", "areas: [QX99]")
    with pytest.raises(ConfigError, match=r"outages.yml: feeders\[3\].areas.*QX99"):
        load_outages(conf, [a.code for a in SETTINGS.areas])


def test_a_notice_with_an_unknown_placeholder_stops_start_up(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "（编号{outage_no}）", "（编号{outage_number}）")
    with pytest.raises(ConfigError, match=r"texts.notices.published.zh.*outage_number"):
        load_outages(conf, [a.code for a in SETTINGS.areas])
