"""Importing the billing system's exports on both databases (store/importing, and the CLI
`python -m store import`): a crafted file with bad rows is reported row by row and changes
nothing (dry run or not), a good import lands, the same import again changes nothing, an update
touches only what the file has, and a row the database refuses rolls every row back."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.config import PROJECT_ROOT, Settings
from store.db import unit_of_work
from store.demo import DemoSummary
from store.importing import ImportReport, ImportRequest, Outcome, load_import_limits, run_import
from store.importing import plan_accounts as plan_accounts_module
from store.models import Account, Bill, ImportRun, ServiceArea

SAMPLES = PROJECT_ROOT / "docs" / "samples"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
CRAFTED = "\n".join(
    [
        "户号,户名,联系电话,用电地址,台区,表号,家庭人口,余额",
        "3302000201,陈大山,13805710201,竹林村3组1号,QX03,3330009000000000000401,3,0",  # 2 good
        "33020002,短户号,13805710202,竹林村3组2号,QX03,3330009000000000000402,3,0",  # 3
        "3302000203,,13805710203,竹林村3组3号,QX03,3330009000000000000403,3,0",  # 4
        "3302000204,林秀梅,13805710204,竹林村3组4号,ZZ99,3330009000000000000404,3,0",  # 5
        "3302000205,黄海,13805710205,竹林村3组5号,QX03,3330009000000000000405,三,0",  # 6
        "3302000201,陈大山,13805710201,竹林村3组1号,QX03,3330009000000000000406,3,0",  # 7
        "3302000207,何玉兰,13805710207,竹林村3组7号,QX03,,3,0",  # 8 a new account, no meter
        "3301000001,张建国,13805710208,东山村,QX03,3330009000000000000408,3,十元",  # 9
        "3302000209,宋志刚,13805710209,东山村,QX03,{taken},3,0",  # 10 another's meter
    ]
)


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables an import writes, as plain tuples."""
    tables = {"areas": ServiceArea, "accounts": Account, "bills": Bill, "runs": ImportRun}
    out = {}
    for name, model in tables.items():
        columns = list(model.__table__.columns)
        out[name] = [tuple(r) for r in session.execute(select(*columns).order_by(columns[0]))]
    return out


def do_import(
    factory: sessionmaker[Session],
    settings: Settings,
    kind: str,
    data: bytes,
    *,
    dry_run: bool = False,
    accept_partial: bool = False,
) -> ImportReport:
    request = ImportRequest(kind, f"{kind}.csv", data, "tester", dry_run, accept_partial)
    with unit_of_work(factory) as session:
        return run_import(session, request, settings, load_import_limits(), now=NOW)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def crafted(factory: sessionmaker[Session]) -> bytes:
    with unit_of_work(factory) as session:
        taken = session.scalars(select(Account.meter_no).where(Account.account_no == "3301000002"))
        return CRAFTED.format(taken=taken.one()).encode()


def test_a_crafted_file_reports_every_bad_row_and_changes_nothing(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    data = crafted(session_factory)
    with unit_of_work(session_factory) as session:
        before = snapshot(session)
    for dry_run in (True, False):
        report = do_import(session_factory, settings, "accounts", data, dry_run=dry_run)
        assert report.outcome == (Outcome.DRY_RUN if dry_run else Outcome.REFUSED)
        lines = {r.line: "；".join(r.reasons) for r in report.rejections}
        assert sorted(lines) == [3, 4, 5, 6, 7, 8, 9, 10]
        assert "户号" in lines[3]
        assert lines[4] == "缺少户名"
        assert "台区“ZZ99”不存在" in lines[5]
        assert "家庭人口" in lines[6]
        assert "与第 2 行重复" in lines[7]
        assert lines[8] == "新户缺少表号"
        assert "余额" in lines[9]
        assert "已属于户号 3301000002" in lines[10]
        assert (report.rows, report.created, report.rejected) == (9, 1, 8)
        assert report.run_id is None
        with unit_of_work(session_factory) as session:
            assert snapshot(session) == before


def _import_samples(factory: sessionmaker[Session], settings: Settings) -> list[ImportReport]:
    return [
        do_import(factory, settings, kind, sample(f"{kind}.csv"))
        for kind in ("areas", "accounts", "meters", "bills")
    ]


def test_a_good_import_and_the_same_again_changes_nothing(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    first = _import_samples(session_factory, settings)
    assert [(r.outcome, r.created, r.updated, r.rejected) for r in first] == [
        (Outcome.APPLIED, 3, 0, 0),
        (Outcome.APPLIED, 5, 0, 0),
        (Outcome.APPLIED, 0, 2, 0),  # meters of known accounts
        (Outcome.APPLIED, 5, 0, 0),
    ]
    with unit_of_work(session_factory) as session:
        data_before = {k: v for k, v in snapshot(session).items() if k != "runs"}
        wu = session.scalars(select(Account).where(Account.account_no == "3302000002")).one()
        assert (wu.balance, wu.area.code, wu.household_size) == (Decimal("-86.40"), "QX12", 3)
        feng = session.scalars(select(Account).where(Account.account_no == "3302000005")).one()
        assert (feng.phone, feng.area.code) == ("13705710105", "QX03")  # full-width, by alias
        zheng = session.scalars(select(Account).where(Account.account_no == "3302000003")).one()
        assert (zheng.meter_no, zheng.prepaid) == ("3330009000000000000203", True)
        bill = session.scalars(select(Bill).where(Bill.account_id == zheng.id)).one()
        assert (bill.period, bill.kwh, bill.paid, bill.due_date) == (
            "2026-10", 71, True, date(2026, 11, 25),
        )  # fmt: skip
        assert len(session.scalars(select(ImportRun)).all()) == 4
    again = _import_samples(session_factory, settings)
    # the meters file undoes nothing the second time: accounts.csv set the old meters back
    assert [(r.created, r.updated) for r in again] == [(0, 0), (0, 2), (0, 2), (0, 0)]
    third = _import_samples(session_factory, settings)
    assert [(r.created, r.updated) for r in third] == [(0, 0), (0, 2), (0, 2), (0, 0)]
    bills_again = do_import(session_factory, settings, "bills", sample("bills.csv"))
    assert (bills_again.created, bills_again.updated, bills_again.unchanged) == (0, 0, 5)
    with unit_of_work(session_factory) as session:
        after = {k: v for k, v in snapshot(session).items() if k != "runs"}
    assert after == data_before


def test_the_same_file_twice_changes_nothing(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    do_import(session_factory, settings, "areas", sample("areas.csv"))
    do_import(session_factory, settings, "accounts", sample("accounts.csv"))
    with unit_of_work(session_factory) as session:
        before = {k: v for k, v in snapshot(session).items() if k != "runs"}
    for name, kind in (("accounts.csv", "accounts"), ("accounts.xlsx", "accounts")):
        report = do_import(session_factory, settings, kind, sample(name))
        assert (report.created, report.updated, report.unchanged) == (0, 0, 5), name
    with unit_of_work(session_factory) as session:
        assert {k: v for k, v in snapshot(session).items() if k != "runs"} == before


def test_an_update_changes_only_what_the_file_has(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    do_import(session_factory, settings, "areas", sample("areas.csv"))
    do_import(session_factory, settings, "accounts", sample("accounts.csv"))
    changed = "户号,户名,联系电话\n3302000002,吴小芳,13905719999\n3302000001,周建平,13805710101\n"
    refused = do_import(session_factory, settings, "accounts", changed.encode())
    assert refused.file_error_code == "missing_columns"  # no address or area: not an export
    assert "地址" in refused.file_error
    full = sample("accounts.csv").decode().replace("13905710102", "13905719999")
    full = full.replace(",余额", "").replace(",-86.40\n", "\n")  # no balance column now
    report = do_import(session_factory, settings, "accounts", full.encode())
    assert (report.created, report.updated, report.unchanged) == (0, 1, 4)
    with unit_of_work(session_factory) as session:
        wu = session.scalars(select(Account).where(Account.account_no == "3302000002")).one()
        assert wu.phone == "13905719999"
        assert wu.balance == Decimal("-86.40")  # the file had no balance: kept


def test_bills_get_year_to_date_usage_and_tiers_from_earlier_periods(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    do_import(session_factory, settings, "areas", sample("areas.csv"))
    do_import(session_factory, settings, "accounts", sample("accounts.csv"))
    head = "户号,账期,上次示数,本次示数,电费\n"
    rows = "3302000001,2026-01,0,2000,1076.00\n3302000001,2026-02,2000,2400,215.20\n"
    report = do_import(session_factory, settings, "bills", (head + rows).encode())
    assert (report.created, report.rejected) == (2, 0)
    limit = settings.tariffs.limits_for(4)[0]
    with unit_of_work(session_factory) as session:
        account = session.scalars(select(Account).where(Account.account_no == "3302000001"))
        bills = session.scalars(
            select(Bill).where(Bill.account_id == account.one().id).order_by(Bill.period)
        ).all()
        assert [(b.ytd_kwh_before, b.tier1_kwh, b.tier2_kwh) for b in bills] == [
            (0, 2000, 0),
            (2000, limit - 2000, 2400 - limit),
        ]
        assert bills[1].total == Decimal("215.20")
    # the earlier month again, now from the database: the split of February stays the same
    again = do_import(session_factory, settings, "bills", (head + rows.split("\n")[1]).encode())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_a_row_the_database_refuses_rolls_back_every_row(
    seeded: DemoSummary,
    session_factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The meter check switched off, so the database itself meets a taken meter number on
    the last row, after the other rows were written in the same transaction."""
    monkeypatch.setattr(plan_accounts_module, "_meter_taken", lambda *_args: False)
    do_import(session_factory, settings, "areas", sample("areas.csv"))
    with unit_of_work(session_factory) as session:
        taken = session.scalars(select(Account.meter_no).where(Account.account_no == "3301000002"))
        before = snapshot(session)
    text = sample("accounts.csv").decode().rstrip("\n")
    text += f"\n3302000009,冲突户,13805710109,竹林村,QX12,{taken.one()},居民,3,否,0\n"
    text = text.replace("13805710101", "13805710111")  # and an update of an existing row
    with pytest.raises(IntegrityError):
        do_import(session_factory, settings, "accounts", text.encode())
    with unit_of_work(session_factory) as session:
        assert snapshot(session) == before


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "store", "import", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
def test_the_command_line_exit_status_and_partial_acceptance(
    seeded: DemoSummary, db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    bad = tmp_path / "用户档案.csv"
    bad.write_bytes(crafted(session_factory).decode().encode("gbk"))
    dry = cli(db_url, "accounts", str(bad), "--dry-run")
    assert dry.returncode == 1, dry.stderr
    assert "试运行" in dry.stdout
    assert "第 5 行（3302000204）：台区“ZZ99”不存在" in dry.stdout
    refused = cli(db_url, "accounts", str(bad))
    assert refused.returncode == 1
    assert "未导入" in refused.stdout
    with unit_of_work(session_factory) as session:
        assert session.scalars(select(ImportRun)).all() == []
    partial = cli(db_url, "accounts", str(bad), "--accept-partial")
    assert partial.returncode == 0, partial.stderr
    assert "新增 1" in partial.stdout
    assert "拒绝 8" in partial.stdout
    with unit_of_work(session_factory) as session:
        run = session.scalars(select(ImportRun)).one()
        assert (run.file_name, run.created, run.rejected) == ("用户档案.csv", 1, 8)
        assert run.actor.startswith("cli")
    garbage = tmp_path / "photo.jpg"
    garbage.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    unreadable = cli(db_url, "bills", str(garbage))
    assert unreadable.returncode == 1
    assert "文件无法导入" in unreadable.stdout
