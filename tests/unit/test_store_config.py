"""conf/*.yml load into typed settings; bad values stop start-up naming the file and key."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from store.config import PROJECT_ROOT, ConfigError, Label, load_settings
from store.workflow import TICKET_TYPES, TRANSITIONS

CONF = PROJECT_ROOT / "conf"


@pytest.fixture
def conf_copy(tmp_path: Path) -> Path:
    target = tmp_path / "conf"
    shutil.copytree(CONF, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_commitments_from_the_brief() -> None:
    c = load_settings().commitments
    assert [c.arrival_minutes(k) for k in ("urban", "rural", "remote")] == [45, 90, 120]
    assert c.restoration_hours("rural") == 4
    assert (c.planned_notice_days, c.temporary_notice_days) == (7, 1)
    assert c.application_working_days("new_connection") == 5
    assert c.application_working_days("new_connection", category="non_residential") == 6
    assert c.application_working_days("new_connection", voltage="high") == 22
    assert c.application_working_days("new_connection", voltage="high", dual_supply=True) == 32
    assert c.application_working_days("name_transfer") == 5
    assert c.meter_test_working_days == 5
    assert (c.complaint_contact_hours, c.complaint_reply_working_days) == (24, 5)
    assert c.reconnect_hours == 24
    v = c.verification
    assert (v.idle_minutes, v.window_minutes) == (30, 60)
    assert (v.backoff_first_seconds, v.backoff_max_seconds) == (60, 900)
    assert dict(v.failures) == {"conversation": 5, "client": 10, "account": 5, "station": 100}
    assert c.ticket_reply_working_days("complaint") == 5
    assert c.ticket_reply_working_days("fault") is None
    assert load_settings().timezone == "Asia/Shanghai"


def test_tariffs_from_the_brief() -> None:
    t = load_settings().tariffs
    assert (t.tier1_limit, t.tier2_limit) == (2160, 4200)
    assert t.tier_prices == (Decimal("0.538"), Decimal("0.588"), Decimal("0.838"))
    assert (t.peak_markup, t.valley_markup) == (Decimal("0.03"), Decimal("-0.25"))
    assert (t.peak_start.hour, t.peak_end.hour) == (8, 22)
    assert t.limits_for(5) == (3360, 5400)
    assert t.late_fee_residential_per_day == Decimal("0.001")
    assert t.year_start_month == 1


def test_service_information() -> None:
    s = load_settings().service
    assert (s.hotline, s.regulator_hotline) == ("95598", "12398")
    codes = [c.code for c in s.payment_channels]
    assert {"wechat", "alipay", "wsgw", "hall", "bank"} <= set(codes)
    assert all(c.name_zh and c.name_en and c.how_zh and c.how_en for c in s.payment_channels)
    assert isinstance(s.hours_text, Label)
    calendar = s.calendar
    assert date(2026, 10, 1) in calendar.holidays
    assert date(2027, 2, 8) in calendar.holidays
    assert calendar.is_working_day(date(2026, 10, 10))  # make-up Saturday
    assert not calendar.is_working_day(date(2026, 10, 5))


def test_applications_and_labels() -> None:
    settings = load_settings()
    types = settings.applications.types
    assert set(types) == {"new_connection", "capacity_change", "name_transfer", "other_change"}
    transfer = [d.code for d in types["name_transfer"].documents_for("low")]
    assert transfer[:2] == ["id_card", "property_proof"]
    assert "arrears_settled" in transfer
    low = [s.code for s in types["new_connection"].stages_for("low")]
    assert low == ["received", "surveyed", "metering_install", "energized", "archived"]
    high = [s.code for s in types["new_connection"].stages_for("high")]
    assert "completion_inspection" in high
    assert "contract_payment" in high
    names = {b.name_zh for b in settings.applications.business_types}
    assert {"暂停", "减容", "移表", "分户", "改类", "销户", "临时用电"} <= names
    labels = settings.labels
    assert labels.ticket_status("on_site") == Label("已到达现场", "crew on site")
    assert labels.area_kind("remote").zh == "偏远山区"
    for ticket_type in TICKET_TYPES:
        assert labels.ticket_type(ticket_type)
        for status in TRANSITIONS[ticket_type]:
            assert labels.ticket_next_step(ticket_type, status).zh


def test_areas_and_station() -> None:
    settings = load_settings()
    assert len(settings.areas) == 11
    assert settings.station.name == "青溪镇供电所"
    area = settings.area("QX04")
    assert area is not None
    assert (area.name, area.kind) == ("西河村", "rural")
    assert "西和村" in area.aliases


def test_conf_dir_from_the_environment(conf_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _edit(conf_copy / "commitments.yml", "rural: 90", "rural: 80")
    monkeypatch.setenv("CONF_DIR", str(conf_copy))
    assert load_settings().commitments.arrival_minutes("rural") == 80
    assert load_settings(CONF).commitments.arrival_minutes("rural") == 90


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("commitments.yml", "rural: 90", "rural: soon", "repair.arrival_minutes.rural"),
        ("commitments.yml", "  idle_minutes: 30\n", "", "verification.idle_minutes is missing"),
        ("commitments.yml", "    client: 10 ", "    client: 0 ", "verification.failures.client"),
        ("commitments.yml", "max_seconds: 900", "max_seconds: 30", "backoff.max_seconds"),
        ("commitments.yml", "timezone: Asia/Shanghai", "timezone: Mars/Olympus", "timezone"),
        ("commitments.yml", "fault: high", "fault: asap", "priorities.fault"),
        ("tariffs.yml", 'tier1_price: "0.538"', 'tier1_price: "cheap"', "tier1_price"),
        ("tariffs.yml", "[2160, 4200]", "[4200, 2160]", "tier_limits_kwh[1]"),
        ("service.yml", "from: 2026-10-01, to: 2026-10-07", "from: 2026-10-07, to: 2026-10-01",
         "calendar.holidays[12].to"),
        ("labels.yml", "  on_site: {zh: 已到达现场, en: crew on site}\n", "",
         "ticket_statuses.on_site is missing"),
        ("applications.yml", "      - transfer_proof\n", "      - deed\n", "unknown document"),
        ("areas.yml", "kind: remote", "kind: faraway", "areas[9].kind"),
    ],
)  # fmt: skip
def test_bad_values_name_the_file_and_key(
    conf_copy: Path, file: str, old: str, new: str, message: str
) -> None:
    _edit(conf_copy / file, old, new)
    with pytest.raises(ConfigError) as error:
        load_settings(conf_copy)
    assert file in str(error.value)
    assert message in str(error.value)


def test_missing_file_and_directory(conf_copy: Path, tmp_path: Path) -> None:
    (conf_copy / "tariffs.yml").unlink()
    with pytest.raises(ConfigError, match=r"tariffs\.yml: file is missing"):
        load_settings(conf_copy)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nowhere")


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(AttributeError):
        settings.timezone = "UTC"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.commitments.arrival_minutes_by_kind["rural"] = 1  # type: ignore[index]
