"""The quality part's HTTP half (scripts/benchquality.py runs it against its gateway): a
manager's browser on the console's JSON API. It logs in, adds improvement measures, has the
annual report generated as the console's 「立即生成」 does (`POST /api/v1/quality/reports` starts
a job, polled on `GET /api/v1/quality/reports/jobs` until it ends: timed from the POST to the job
seen done), then times every view of scripts/benchlib/quality.py: one warm-up request each, then
`repetitions` rounds in which every view is requested once, one request at a time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import aiohttp

from scripts.benchlib.quality import ViewTiming
from scripts.benchlib.quality_views import Choices, View, views
from scripts.benchstack import BenchError, say

MANAGER: Final = "bench-manager"
REQUEST_TIMEOUT: Final = 120.0
REPORT_TIMEOUT: Final = 900.0
JOB_POLL: Final = 0.25
"""Seconds between two looks at the report's job (the generation's time is this close)."""
PLAN_MEASURES: Final = 20
PLAN_FIGURES: Final = (
    "repairs.arrival_on_time_rate",
    "repairs.restoration_on_time_rate",
    "applications.on_time_rate",
    "applications.stage_on_time_rate",
    "complaints.reply_rate",
    "conversations.queue_wait_p90",
    "conversations.csat",
)


@dataclass(frozen=True)
class Drive:
    timings: tuple[ViewTiming, ...]
    report_seconds: tuple[float, ...]
    report_pdf_bytes: int
    plan_measures: int


class Browser:
    """One logged-in console session (its cookie and CSRF token)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.csrf = ""

    async def login(self, username: str, password: str) -> None:
        body = {"username": username, "password": password}
        async with self.session.post(f"{self.base}/api/v1/agent/login", json=body) as response:
            if response.status != 200:
                raise BenchError(f"the manager's login was refused ({response.status})")
            self.csrf = (await response.json())["csrf_token"]

    async def post(self, path: str, body: dict[str, Any], seconds: float) -> Any:
        """POST `body`, its JSON answer (BenchError unless 200, 201 or 202)."""
        async with self.session.post(
            f"{self.base}{path}",
            json=body,
            headers={"X-CSRF-Token": self.csrf},
            timeout=aiohttp.ClientTimeout(total=seconds),
        ) as response:
            if response.status not in (200, 201, 202):
                raise BenchError(f"POST {path}: {response.status} {await response.text()}")
            return await response.json()

    async def get(self, path: str) -> tuple[str, float, bytes]:
        """GET `path`: ("200" or what went wrong, milliseconds to the whole body, the body)."""
        began = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        try:
            async with self.session.get(f"{self.base}{path}", timeout=timeout) as response:
                body = await response.read()
                outcome = str(response.status)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return type(exc).__name__, (time.perf_counter() - began) * 1000, b""
        return outcome, (time.perf_counter() - began) * 1000, body


async def add_measures(browser: Browser, year: int, owner: str) -> int:
    """PLAN_MEASURES improvement measures, as a manager adds them on the dashboard."""
    for n in range(PLAN_MEASURES):
        figure = PLAN_FIGURES[n % len(PLAN_FIGURES)]
        body = {"title": f"改进措施 {n + 1}（压力测试）", "figure": figure, "owner": owner,
                "due": date(year + 1, 1 + n % 12, 15).isoformat(), "baseline": 0.8,
                "target": 0.9, "status": "in_progress" if n % 2 else "planned"}  # fmt: skip
        await browser.post("/api/v1/quality/plan", body, REQUEST_TIMEOUT)
    return PLAN_MEASURES


async def _job_ended(browser: Browser, job_id: int, began: float) -> dict[str, Any]:
    """The report's job once it has ended, looked at every JOB_POLL seconds."""
    while time.perf_counter() - began < REPORT_TIMEOUT:
        outcome, _, body = await browser.get("/api/v1/quality/reports/jobs")
        if outcome != "200":
            raise BenchError(f"the report jobs' list answered {outcome}")
        job: dict[str, Any] = next(j for j in json.loads(body)["jobs"] if j["id"] == job_id)
        if job["state"] != "running":
            return job
        await asyncio.sleep(JOB_POLL)
    raise BenchError(f"the report's job {job_id} still ran after {REPORT_TIMEOUT:g} s")


async def generate_reports(browser: Browser, year: int, runs: int) -> tuple[list[float], int]:
    """The annual report of `year` generated `runs` times (seconds each, from the POST to its
    job seen done); the last one's id."""
    seconds, report_id = [], 0
    for n in range(runs):
        began = time.perf_counter()
        started = await browser.post(
            "/api/v1/quality/reports", {"period": str(year)}, REQUEST_TIMEOUT
        )
        job = await _job_ended(browser, int(started["job"]["id"]), began)
        seconds.append(time.perf_counter() - began)
        if job["state"] != "done":
            raise BenchError(f"the annual report's job {job['state']}: {job['error']}")
        report_id = int(job["report_id"])
        say(f"quality: annual report {year} ({n + 1} of {runs}): {seconds[-1]:.1f} s")
    return seconds, report_id


async def time_views(
    browser: Browser, shown: tuple[View, ...], repetitions: int
) -> tuple[ViewTiming, ...]:
    """A warm-up request of each view, then `repetitions` rounds of every view once."""
    first: dict[View, float] = {}
    for view in shown:
        outcome, ms, _ = await browser.get(view.path)
        if outcome != "200":
            raise BenchError(f"{view.path}: {outcome} on the warm-up request")
        first[view] = ms
    latencies: dict[View, list[float]] = {view: [] for view in shown}
    errors: dict[View, Counter[str]] = {view: Counter() for view in shown}
    for round_no in range(repetitions):
        for view in shown:
            outcome, ms, _ = await browser.get(view.path)
            if outcome == "200":
                latencies[view].append(ms)
            else:
                errors[view][outcome] += 1
        if (round_no + 1) % 5 == 0:
            say(f"quality: round {round_no + 1} of {repetitions}")
    return tuple(
        ViewTiming(view, first[view], tuple(latencies[view]), tuple(sorted(errors[view].items())))
        for view in shown
    )


async def drive(
    base: str, password: str, year: int, choices: Choices, repetitions: int, reports: int
) -> Drive:
    jar = aiohttp.CookieJar(unsafe=True)  # the session cookie of 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        browser = Browser(session, base)
        await browser.login(MANAGER, password)
        measures = await add_measures(browser, year, choices.agent)
        seconds, report_id = await generate_reports(browser, year, reports)
        outcome, _, pdf = await browser.get(f"/api/v1/quality/reports/{report_id}/pdf")
        if outcome != "200" or not pdf.startswith(b"%PDF"):
            raise BenchError(f"the annual report's PDF did not download ({outcome})")
        shown = views(year, choices, report_id)
        say(f"quality: timing {len(shown)} views, {repetitions} rounds ...")
        timings = await time_views(browser, shown, repetitions)
    return Drive(timings, tuple(seconds), len(pdf), measures)
