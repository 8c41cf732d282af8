"""The managers' upload of billing-system exports: POST /api/v1/imports and /console/import on
the real gateway and database (both backends). Managers only, with the session's CSRF token;
the report of a crafted file lists each bad row and nothing changes; a good file lands and the
same file again changes nothing; the upload limit comes from conf/imports.yml."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.config import PROJECT_ROOT
from store.db import unit_of_work
from store.models import Account, ImportRun
from tests.fakes.console import (
    Console,
    StaffClient,
    cheap_password_hashing,
    make_staff,
    running_console,
)
from tests.fakes.rasa import FakeRasa

SAMPLES = PROJECT_ROOT / "docs" / "samples"
BAD = (
    "户号,户名,联系电话,用电地址,台区,表号\n"
    "3302000301,甲,13805710301,竹林村,QX03,3330009000000000000501\n"
    "3302000302,乙,12345,竹林村,QX03,3330009000000000000502\n"
    "3302000303,丙,13805710303,竹林村,火星村,3330009000000000000503\n"
)


@pytest.fixture
def console_staff(seeded: Any) -> dict[str, tuple[str, int]]:
    return {"chief": ("manager", 5), "dispatch": ("dispatcher", 0), "clerk": ("clerk", 0)}


def form(kind: str, data: bytes, name: str, *, dry_run: bool) -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field("kind", kind)
    body.add_field("dry_run", "1" if dry_run else "0")
    body.add_field("file", data, filename=name, content_type="application/octet-stream")
    return body


async def upload(
    who: StaffClient,
    kind: str,
    data: bytes,
    name: str = "f.csv",
    *,
    dry_run: bool = False,
    csrf: bool = True,
) -> tuple[int, Any]:
    headers = {"X-CSRF-Token": who.csrf} if csrf else {}
    response = await who.http.post(
        who.url("/api/v1/imports"), data=form(kind, data, name, dry_run=dry_run), headers=headers
    )
    return response.status, await response.json()


def accounts(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return session.scalar(select(func.count()).select_from(Account)) or 0


async def test_a_manager_checks_then_imports_and_the_second_import_changes_nothing(
    console: Console,
) -> None:
    chief = await console.browser("chief")
    before = accounts(console.factory)
    status, report = await upload(chief, "accounts", BAD.encode("gbk"), dry_run=True)
    assert status == 200, report
    assert (report["outcome"], report["encoding"]) == ("dry_run", "gb18030")
    assert [(r["line"], r["key"]) for r in report["rejections"]] == [
        (3, "3302000302"),
        (4, "3302000303"),
    ]
    assert "电话" in report["rejections"][0]["reasons"][0]
    assert "火星村" in report["rejections"][1]["reasons"][0]
    status, report = await upload(chief, "accounts", BAD.encode())  # not a dry run: refused
    assert (status, report["outcome"], report["created"]) == (200, "refused", 1)
    assert accounts(console.factory) == before
    for kind in ("areas", "accounts"):
        status, report = await upload(chief, kind, (SAMPLES / f"{kind}.csv").read_bytes())
        assert (status, report["outcome"], report["rejected"]) == (200, "applied", 0), report
    assert accounts(console.factory) == before + 5
    status, report = await upload(chief, "accounts", (SAMPLES / "accounts.xlsx").read_bytes())
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 5)
    with unit_of_work(console.factory) as session:
        runs = session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
        assert [(r.kind, r.actor, r.created) for r in runs] == [
            ("areas", "chief", 3), ("accounts", "chief", 5), ("accounts", "chief", 0),
        ]  # fmt: skip


async def test_only_managers_may_import(console: Console) -> None:
    data = (SAMPLES / "areas.csv").read_bytes()
    anonymous = await console.browser()
    status, _ = await upload(anonymous, "areas", data)
    assert status == 401
    for name in ("agent1", "boss", "ops", "dispatch", "clerk"):
        who = await console.browser(name)
        status, body = await upload(who, "areas", data)
        assert (status, body["error"]["code"]) == (403, "forbidden"), name
        page = await who.get("/console/import")
        assert page.status == 403, name
    chief = await console.browser("chief")
    status, body = await upload(chief, "areas", data, csrf=False)
    assert (status, body["error"]["code"]) == (403, "csrf")
    with unit_of_work(console.factory) as session:
        assert session.scalars(select(ImportRun)).all() == []
    page = await chief.get("/console/import")
    assert page.status == 200
    html = await page.text()
    assert "数据导入" in html
    assert chief.csrf in html
    script = await chief.get("/console/static/console-import.js")
    assert script.status == 200
    assert "X-CSRF-Token" in await script.text()


async def test_bad_forms_are_refused(console: Console) -> None:
    chief = await console.browser("chief")
    status, body = await upload(chief, "customers", b"x")
    assert (status, body["error"]["code"]) == (422, "invalid")
    no_file = aiohttp.FormData()
    no_file.add_field("kind", "areas")
    no_file.add_field("note", b"x", filename="note.txt")  # multipart, but no "file"
    response = await chief.http.post(
        chief.url("/api/v1/imports"), data=no_file, headers={"X-CSRF-Token": chief.csrf}
    )
    assert response.status == 422
    status, body = await chief.json("POST", "/api/v1/imports", {"kind": "areas"})
    assert status == 415
    status, report = await upload(chief, "bills", b"\x89PNG\r\n\x1a\n\0\0\0" * 100, "a.png")
    assert (status, report["outcome"], report["file_error_code"]) == (200, "refused", "not_text")


async def test_the_upload_limit_comes_from_conf(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf", conf)
    text = (conf / "imports.yml").read_text(encoding="utf-8")
    (conf / "imports.yml").write_text(
        text.replace("max_upload_bytes: 33554432", "max_upload_bytes: 4096"), encoding="utf-8"
    )
    cheap_password_hashing(monkeypatch)
    async with running_console(rasa, db_url, session_factory, conf_dir=conf) as running:
        make_staff(session_factory, {"chief": ("manager", 5)})
        chief = await running.browser("chief")
        big = (SAMPLES / "areas.csv").read_bytes() + b"QX99,x,y,rural,z\n" * 400
        status, body = await upload(chief, "areas", big)
        assert (status, body["error"]["code"]) == (413, "too_large")
        status, report = await upload(chief, "areas", (SAMPLES / "areas.csv").read_bytes())
        assert (status, report["created"]) == (200, 3)


async def test_a_plain_form_with_its_token_as_a_field_works_within_the_request_limit(
    console: Console,
) -> None:
    chief = await console.browser("chief")
    body = form("areas", (SAMPLES / "areas.csv").read_bytes(), "areas.csv", dry_run=True)
    body.add_field("csrf_token", chief.csrf)
    response = await chief.http.post(chief.url("/api/v1/imports"), data=body)
    report = await response.json()
    assert (response.status, report["outcome"], report["created"]) == (200, "dry_run", 3)
    wrong = form("areas", b"x", "a.csv", dry_run=True)
    wrong.add_field("csrf_token", "not-the-token")
    response = await chief.http.post(chief.url("/api/v1/imports"), data=wrong)
    assert response.status == 403
