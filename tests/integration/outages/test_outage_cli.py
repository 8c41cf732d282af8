"""`python -m store outage ...` on the demo station (both backends, in-process): the same
publishing as the console's, with the commitment's warning on stderr and the notices queued for
the gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.cli import main
from store.config import Settings
from tests.integration.outages.support import notices, report

TZ = ZoneInfo("Asia/Shanghai")


def _when(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def test_publish_change_and_list_from_the_command_line(
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    start = timedelta(days=9)
    code = main([
        "--url", db_url, "outage", "--actor", "wang", "publish", "--kind", "planned",
        "--area", "东山村3组", "--area", "QX09", "--start", _when(start),
        "--end", _when(start + timedelta(hours=8)), "--reason", "配变增容",
        "--advice", "请提前储水",
    ])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""  # nine days ahead: the commitment is kept
    number = out.split(":")[0].strip()
    assert number.startswith("TD")
    assert "notice published queued" in out
    assert "东山村3组、杨家村" in out
    code = main([
        "--url", db_url, "outage", "postpone", number, "--start", _when(start + timedelta(days=1)),
        "--end", _when(start + timedelta(days=1, hours=8)), "--note", "天气原因",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert main(["--url", db_url, "outage", "cancel", number]) == 0
    assert main(["--url", db_url, "outage", "cancel", number]) == 1
    assert "已取消" in capsys.readouterr().err
    assert main(["--url", db_url, "outage", "restore", "TD99999999"]) == 2
    assert [(n.kind, n.created_by) for n in notices(session_factory, number)] == [
        ("published", "wang"),
        ("postponed", "staff"),
        ("cancelled", "staff"),
    ]
    capsys.readouterr()
    assert main(["--url", db_url, "outage", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"{number}  计划停电  cancelled  东山村3组、杨家村" in listing
    assert "TD00010101  故障停电" in listing  # the demo's fault


def test_a_late_notice_warns_and_a_bad_time_is_refused(
    db_url: str, seeded: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    start = timedelta(hours=30)
    args = ["--url", db_url, "outage", "publish", "--kind", "planned", "--area", "柳湾村",
            "--reason", "检修", "--end", _when(start + timedelta(hours=2))]  # fmt: skip
    assert main([*args, "--start", _when(start)]) == 0
    assert "计划停电应提前7天通知客户，本次仅提前1天" in capsys.readouterr().err
    assert main([*args, "--start", "下周一"]) == 1
    assert "时间格式" in capsys.readouterr().err


def test_suspected_outages_are_listed_and_confirmed(
    db_url: str,
    seeded: Any,
    settings: Settings,
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = datetime.now(UTC)
    for n, name in enumerate(("西河村", "柳湾村", "石桥村")):  # one feeder, F03
        at = now - timedelta(minutes=n)
        report(session_factory, settings, f"{name}1组", f"telegram:{n}", f"1391234000{n}", at)
    assert main(["--url", db_url, "outage", "suspected"]) == 0
    out = capsys.readouterr().out
    # 西河村 has the demo's fault outage: its report is attached to it, two are left
    assert "No suspected outage." in out
    report(session_factory, settings, "柳湾村2组", "telegram:9", "13912340009", now, "跳闸了")
    assert main(["--url", db_url, "outage", "suspected"]) == 0
    out = capsys.readouterr().out
    assert "feeder:F03  10kV西河线: 3 reports" in out
    assert main(["--url", db_url, "outage", "confirm", "feeder:F03", "--reason", "线路跳闸"]) == 0
    out = capsys.readouterr().out
    assert "attached reports:" in out
    assert out.count(", ") >= 2
