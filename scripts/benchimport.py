"""The import part of `make bench` (`--only import` measures only it): a generated export of
50,000 accounts and a bill for each, imported on SQLite and on PostgreSQL with the real
`store.importing.run_import`, each step timed from the file's bytes to the commit. The pure
half (figures, verdict, BENCHMARKS.md section) is scripts/benchlib/imports.py.

PostgreSQL: $BENCH_DATABASE_URL, else $TEST_DATABASE_URL (a scratch schema is made and dropped);
without either that backend is reported as not measured.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import make_url, text

from scripts.benchlib.imports import ImportBench, Step
from scripts.benchlib.machine import conditions_text, cpu_shares, machine_ticks, process_ticks
from scripts.benchlib.report import RunInfo
from scripts.benchstack import read, say
from store.config import Settings, load_settings
from store.db import make_engine, make_session_factory, migrate, normalise_url, unit_of_work
from store.importing import ImportRequest, load_import_limits, run_import
from store.importing.xlsx_write import write_xlsx
from store.services import areas
from store.tariff import split_tiers

ACCOUNTS = 50_000
PERIOD = "2026-10"
SURNAMES = "张 王 李 赵 陈 刘 杨 黄 周 吴 徐 孙 胡 朱 高 林 何 郭 马 罗".split()
GIVEN = "建华 秀兰 国强 桂英 志明 丽华 海燕 伟 芳 军 敏 静 磊 洋 勇 艳 杰 娟 涛 明".split()
ACCOUNT_HEAD = ["户号", "户名", "联系电话", "用电地址", "台区", "表号", "用电类别", "家庭人口"]
BILL_HEAD = ["户号", "账期", "上次示数", "本次示数", "倍率", "电量", "一档电量", "二档电量",
             "三档电量", "电费", "应收金额", "已缴费"]  # fmt: skip


def account_rows(settings: Settings, count: int) -> list[list[str]]:
    rng = random.Random(17)
    codes = [a.code for a in settings.areas]
    rows = [ACCOUNT_HEAD]
    for i in range(count):
        area = settings.areas[i % len(codes)]
        rows.append([
            f"33090{i:05d}", rng.choice(SURNAMES) + rng.choice(GIVEN),
            f"13{rng.randrange(10**9):09d}", f"{area.name}{i % 30 + 1}组{i % 97 + 1}号",
            area.code, f"33300099{i:014d}", "居民", str(rng.randint(1, 6)),
        ])  # fmt: skip
    return rows


def bill_rows(settings: Settings, count: int) -> list[list[str]]:
    rng = random.Random(18)
    price = settings.tariffs.tier_prices[0]
    rows = [BILL_HEAD]
    for i in range(count):
        last = rng.randrange(1000, 90000)
        kwh = rng.randrange(40, 600)
        tiers = split_tiers(kwh, 0, settings.tariffs.limits_for(3))
        amount = (Decimal(kwh) * price).quantize(Decimal("0.01"))
        rows.append([
            f"33090{i:05d}", PERIOD, str(last), str(last + kwh), "1", str(kwh),
            *(str(t) for t in tiers), str(amount), str(amount), rng.choice(("是", "否")),
        ])  # fmt: skip
    return rows


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")


@contextmanager
def database(backend: str, work: Path) -> Iterator[str]:
    """A fresh, migrated database with the station's areas; dropped afterwards."""
    if backend == "SQLite":
        url = f"sqlite:///{work / 'bench-import.db'}"
        drop: Callable[[], None] = lambda: None  # noqa: E731
    else:
        base = normalise_url(
            os.environ.get("BENCH_DATABASE_URL") or os.environ["TEST_DATABASE_URL"]
        )
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        scoped = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        url = scoped.render_as_string(hide_password=False)

        def drop() -> None:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.dispose()

    try:
        migrate(url)
        yield url
    finally:
        drop()


def _steps(url: str, backend: str, files: dict[str, bytes], settings: Settings) -> list[Step]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    limits = load_import_limits()
    with unit_of_work(factory) as session:
        areas.sync_areas(session, settings)
    plan = [
        ("accounts, first import", "accounts", "accounts.csv", False),
        ("accounts, same file again", "accounts", "accounts.csv", False),
        ("accounts as XLSX, again", "accounts", "accounts.xlsx", False),
        ("accounts, phones changed", "accounts", "accounts-changed.csv", False),
        ("bills, dry run", "bills", "bills.csv", True),
        ("bills, first import", "bills", "bills.csv", False),
        ("bills, same file again", "bills", "bills.csv", False),
    ]
    steps = []
    try:
        for name, kind, file_name, dry_run in plan:
            request = ImportRequest(kind, file_name, files[file_name], "bench", dry_run)
            began = time.perf_counter()
            with unit_of_work(factory) as session:
                report = run_import(session, request, settings, limits, now=datetime.now(UTC))
            seconds = time.perf_counter() - began
            say(f"{backend}: {name}: {seconds:.1f} s ({report.outcome})")
            steps.append(Step(backend, name, report.rows, report.created, report.updated,
                              report.unchanged, report.rejected, seconds))  # fmt: skip
    finally:
        engine.dispose()
    return steps


def _ticks() -> tuple[int, int, int]:
    busy, total = machine_ticks(read("/proc/stat"))
    return busy, total, process_ticks(read("/proc/self/stat"))[1]


def measure_import(run: RunInfo, note: str, accounts: int = ACCOUNTS) -> ImportBench:
    settings = load_settings()
    say(f"import: writing {accounts:,} accounts and their bills ...")
    account_table = account_rows(settings, accounts)
    changed = [account_table[0]] + [[*r[:2], "199" + r[2][3:], *r[3:]] for r in account_table[1:]]
    files = {
        "accounts.csv": csv_bytes(account_table),
        "accounts.xlsx": write_xlsx(account_table),
        "accounts-changed.csv": csv_bytes(changed),
        "bills.csv": csv_bytes(bill_rows(settings, accounts)),
    }
    load_before = read("/proc/loadavg").split(" ")[0] or "unknown"
    start = _ticks()
    steps: list[Step] = []
    skipped: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as work:
        for backend in ("SQLite", "PostgreSQL"):
            if backend == "PostgreSQL" and not (
                os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
            ):
                skipped.append((backend, "neither BENCH_DATABASE_URL nor TEST_DATABASE_URL set"))
                continue
            with database(backend, Path(work)) as url:
                steps += _steps(url, backend, files, settings)
    cores = os.cpu_count() or 0
    conditions = conditions_text(
        load_before, cpu_shares(start, _ticks()), cores, note,
        started="the import part started", ours="the bench process (not PostgreSQL's server)",
    )  # fmt: skip
    sizes = tuple((name, len(data)) for name, data in files.items())
    return ImportBench(run, conditions, accounts, sizes, tuple(steps), tuple(skipped))
