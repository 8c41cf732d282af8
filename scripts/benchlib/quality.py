"""The pure half of `make bench`'s quality part (scripts/benchquality.py drives it): the
timings of the views it times (scripts/benchlib/quality_views.py), the verdicts against the
issue's targets, its BENCHMARKS.md section and the carry-over of an earlier run's. No I/O:
tests/unit/test_bench_quality.py.

The targets (issue 18, "Speed"): on PostgreSQL with a county-sized year (at least 200,000
tickets, 100,000 conversations and 2,000,000 messages) every dashboard view answers in under
500 ms at p95, and an annual report is generated in under 60 s.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from scripts.benchlib.figures import Verdict, percentile
from scripts.benchlib.markdown import comment_json, not_measured_part
from scripts.benchlib.quality_views import API, View
from scripts.benchlib.report import Part, RunInfo, markdown_table, text_table

MAX_VIEW_P95_MS = 500.0
MAX_REPORT_SECONDS = 60.0
COUNTY_YEAR: tuple[tuple[str, int], ...] = (
    ("tickets", 200_000),
    ("conversations", 100_000),
    ("messages", 2_000_000),
)
"""The issue's county-sized year: at least this many of each, created in the year."""
HISTORY_AT = timedelta(hours=6)
"""The generated history ends at the start of the year after the measured one plus this."""
NAME = "the service-quality dashboard and reports"
TITLE = "## The service-quality dashboard and the annual report on a county's year"
BEGIN, END = "<!-- quality: begin -->", "<!-- quality: end -->"
COMMENT = re.compile(r"<!-- quality targets: (\{.*?\}) -->")
COLUMNS = ("view", "request", "first ms", "requests", "p50 ms", "p95 ms", "max ms")


# --- what is measured -------------------------------------------------------------------------


def history_moment(now: datetime, tz: ZoneInfo) -> datetime:
    """The `--now` of the generated history: early on the 1st of January of this year (of the
    year before when that is still ahead), so the history's thirteen months hold the whole of
    the year before, in the past, and nothing of the current one but a few hours."""
    local = now.astimezone(tz)
    moment = datetime(local.year, 1, 1, tzinfo=tz) + HISTORY_AT
    return moment if moment <= now else moment.replace(year=local.year - 1)


def measured_year(history_at: datetime, tz: ZoneInfo) -> int:
    """The whole year the history holds: the one before its `--now`."""
    return history_at.astimezone(tz).year - 1


# --- the figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewTiming:
    view: View
    first_ms: float
    """The warm-up request, not counted in the figures."""
    latencies_ms: tuple[float, ...]
    """Send to the whole body read, of each counted request answered 200."""
    errors: tuple[tuple[str, int], ...] = ()
    """Counted requests not answered 200, by status or error."""

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies_ms, 95)

    @property
    def max(self) -> float:
        return max(self.latencies_ms, default=math.nan)

    @property
    def met(self) -> bool:
        return not self.errors and self.p95 < MAX_VIEW_P95_MS  # NaN never is


@dataclass(frozen=True)
class QualityBench:
    run: RunInfo
    conditions: str
    history_command: str
    year: int
    year_counts: tuple[tuple[str, int], ...]
    """(what, how many created in the measured year), for each of COUNTY_YEAR."""
    history_seconds: float
    facts_seconds: float
    facts_summary: str
    """What `python -m store quality-refresh` printed."""
    repetitions: int
    plan_measures: int
    timings: tuple[ViewTiming, ...]
    report_seconds: tuple[float, ...]
    report_pdf_bytes: int


def missing_size(counts: Sequence[tuple[str, int]]) -> list[str]:
    """What of the county-sized year the data fell short of ("tickets 190,000 < 200,000")."""
    found = dict(counts)
    return [
        f"{what} {found.get(what, 0):,} < {least:,}"
        for what, least in COUNTY_YEAR
        if found.get(what, 0) < least
    ]


def _short(bench: QualityBench) -> str:
    short = missing_size(bench.year_counts)
    return f" (smaller than the issue's county year: {'; '.join(short)})" if short else ""


def _counts(bench: QualityBench) -> str:
    return ", ".join(f"{n:,} {what}" for what, n in bench.year_counts)


def _year_text(bench: QualityBench) -> str:
    return f"the year {bench.year}: {_counts(bench)}{_short(bench)}"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def views_target() -> str:
    return (
        f"every service-quality dashboard view answers in under {MAX_VIEW_P95_MS:g} ms at p95"
        " (PostgreSQL, a county-sized year)"
    )


def report_target() -> str:
    return (
        f"an annual report is generated in under {MAX_REPORT_SECONDS:g} s (PostgreSQL, a"
        " county-sized year)"
    )


def views_verdict(bench: QualityBench) -> Verdict:
    """Met when every view's p95 is under the target, none failed, on a county-sized year."""
    timed = bench.timings
    slowest = max(timed, key=lambda t: -1.0 if math.isnan(t.p95) else t.p95, default=None)
    failed = sum(1 for t in timed if t.errors)
    measured = (
        f"{sum(1 for t in timed if t.met)} of {len(timed)} views under {MAX_VIEW_P95_MS:g} ms"
    )
    if slowest is not None:
        measured += f"; slowest p95 {_ms(slowest.p95)} ms ({slowest.view.name})"
    if failed:
        measured += f"; {failed} with failed requests"
    measured += f"; {_year_text(bench)}"
    met = bool(timed) and all(t.met for t in timed) and not missing_size(bench.year_counts)
    return Verdict(views_target(), measured, met)


def report_verdict(bench: QualityBench) -> Verdict:
    """Met when every generation of the annual report took less than the target."""
    seconds = bench.report_seconds
    if not seconds:
        return Verdict(report_target(), "not measured", None)
    measured = (
        f"{max(seconds):.1f} s at most ({len(seconds)} generation(s) of the report of"
        f" {bench.year}, PDF included); {_year_text(bench)}"
    )
    met = max(seconds) < MAX_REPORT_SECONDS and not missing_size(bench.year_counts)
    return Verdict(report_target(), measured, met)


def rows(bench: QualityBench) -> list[list[str]]:
    """The table's rows; a p95 over the target in bold."""
    found = []
    for t in bench.timings:
        p95 = _ms(t.p95) if t.met or math.isnan(t.p95) else f"**{_ms(t.p95)}**"
        found.append([t.view.name, f"`{t.view.path}`", _ms(t.first_ms),
                      str(len(t.latencies_ms)), _ms(t.p50), p95, _ms(t.max)])  # fmt: skip
    return found


def setup_text(bench: QualityBench) -> str:
    return (
        f"The data: `{bench.history_command}` into a throwaway PostgreSQL database (the server"
        f" the tests use, on the same machine; {bench.history_seconds:.0f} s), then `python -m"
        f" store quality-refresh` built the dashboard's facts ({bench.facts_seconds:.0f} s:"
        f" {bench.facts_summary}) and `VACUUM (ANALYZE)` gave the planner its statistics (which"
        " autovacuum gives a database in daily use). The history's thirteen months hold the"
        " whole of"
        f" {bench.year}, in which {_counts(bench)} were created{_short(bench)}. The gateway"
        " (`python -m bot`, default settings but QUALITY_REPORTS=0, so no scheduled report is"
        " made meanwhile; no Rasa behind it, which the dashboard does not need) runs on"
        " loopback; the bench logs in as a manager (the whole station, every filter) and adds"
        f" {bench.plan_measures} improvement"
        " measures through the API. Each view is requested once to warm up (its time is"
        f' "first ms"), then {bench.repetitions} times, the views taking turns (each once a'
        " round, so the machine's ups and downs fall on all of them alike), one request at a"
        " time on a kept-alive connection; the time runs from sending the request to having"
        " read the whole answer. The filtered views name the year's busiest area, crew, agent"
        " and channel. The dashboard computes the comparison period beside each view (the"
        " previous month, quarter or year): for the month and the quarter a whole one, for the"
        " year only the one month of history before it, so a station with two whole years"
        " behind it pays more for the year's view than measured here."
    )


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times one after the other"


def report_text(bench: QualityBench) -> str:
    if not bench.report_seconds:
        return "The annual report was not generated by this run."
    each = ", ".join(f"{s:.1f}" for s in bench.report_seconds)
    return (
        f"The annual report of {bench.year}, generated as the console's 「立即生成」 does it"
        f' (`POST {API}/reports` with `{{"period": "{bench.year}"}}`: the gateway runs'
        " `store.quality_reports.generate` in a worker thread: the figures with their"
        " comparisons, the HTML, the PDF with its Chinese fonts, CSV and XLSX, then stores"
        f" them), {_times(len(bench.report_seconds))} before the views were timed, from the"
        f" request to the answer: {each} s; the PDF"
        f" {bench.report_pdf_bytes / 1024:.0f} KB."
    )


def block(bench: QualityBench) -> str:
    """The section between its markers: what a later run carries over as it is."""
    found = [views_verdict(bench), report_verdict(bench)]
    lines = [
        bench.run.table("service-quality measurement", bench.conditions),
        "",
        setup_text(bench),
        "",
        markdown_table(COLUMNS, rows(bench)),
        "",
    ]
    slow = [t.view.name for t in bench.timings if not t.met]
    if slow:
        lines += [f"Over {MAX_VIEW_P95_MS:g} ms at p95 or failing: {', '.join(slow)}.", ""]
    for t in bench.timings:
        if t.errors:
            kinds = ", ".join(f"{kind}: {count}" for kind, count in t.errors)
            lines += [f"{t.view.name}: failed requests ({kinds}).", ""]
    lines += [report_text(bench), ""]
    targets = {"date": bench.run.date, "targets": [[v.target, v.measured, v.met] for v in found]}
    lines.append(f"<!-- quality targets: {comment_json(targets)} -->")
    return "\n".join(lines) + "\n"


def part(bench: QualityBench) -> Part:
    return Part(
        NAME,
        (TITLE, "", BEGIN, block(bench) + END),
        views_verdict(bench),
        measured=True,
        more=(report_verdict(bench),),
    )


def not_measured() -> Part:
    found = not_measured_part(name=NAME, title=TITLE, only="quality", target=views_target())
    return Part(
        NAME, found.lines, found.verdict, measured=False,
        more=(Verdict(report_target(), "not measured", None),),
    )  # fmt: skip


def previous_quality(markdown: str) -> Part | None:
    """The section an earlier run wrote, with its two verdicts, carried over as it is; None
    when there is none or its comment does not read."""
    found = re.search(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), markdown, re.DOTALL)
    comment = COMMENT.search(found.group(1)) if found else None
    if found is None or comment is None:
        return None
    try:
        data = json.loads(comment.group(1))
        date = str(data["date"])
        carried = [
            Verdict(str(target), f"{measured}; recorded {date}, not measured again",
                    None if met is None else bool(met))
            for target, measured, met in data["targets"]
        ]  # fmt: skip
    except (ValueError, TypeError, KeyError):
        return None
    if len(carried) != 2:
        return None
    note = f"Not measured by this run: recorded {date}, carried over."
    lines = (TITLE, "", note, "", BEGIN, found.group(1) + END)
    return Part(NAME, lines, carried[0], measured=False, carried=True, more=(carried[1],))


def quality_part(bench: QualityBench | None, existing: str) -> Part:
    """Measured now, carried over, or not measured yet."""
    if bench is not None:
        return part(bench)
    return previous_quality(existing) or not_measured()


def summary(bench: QualityBench) -> str:
    """What the terminal shows at the end of the part: the table without the paths, the
    verdicts."""
    table = [[t.view.name, _ms(t.first_ms), str(len(t.latencies_ms)), _ms(t.p50), _ms(t.p95),
              _ms(t.max)] for t in bench.timings]  # fmt: skip
    lines = [text_table((COLUMNS[0], *COLUMNS[2:]), table), ""]
    for verdict in (views_verdict(bench), report_verdict(bench)):
        state = "n/a" if verdict.met is None else "met" if verdict.met else "NOT MET"
        lines.append(f"{state:8} {verdict.target}: {verdict.measured}")
    return "\n".join(lines)
