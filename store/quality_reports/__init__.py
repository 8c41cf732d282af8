"""Periodic evaluation reports (issue 18, the paper's 3.3): for a month, a quarter, a year or any
range of days, the figures against their targets with the previous period and the same period a
year before, the bottlenecks, the customers' voice, each improvement measure's execution and the
adjustments the rules propose; in Chinese, as HTML (the console), PDF, CSV and XLSX, each stored.

Every figure is `store.quality.snapshot()`'s (one computation): this package assembles and writes
them, it never computes one. The console (bot/console/quality_reports_api.py), the CLI
(`python -m store report`) and the gateway's scheduled job import only from here.
Guide: docs/quality-reports.md.
"""

from __future__ import annotations

from store.quality_reports.config import ReportConfig, read_report_config
from store.quality_reports.generate import (
    Generated,
    build,
    check_period,
    generate,
    generate_due,
)
from store.quality_reports.kinds import (
    KIND_NAMES,
    ReportKind,
    kind_of,
    period_title,
    report_title,
)
from store.quality_reports.render_html import Parts, parts
from store.quality_reports.storage import FORMATS, StoredReport, file_of, get, listing
from store.quality_reports.words import GENERATED_BY_SCHEDULE

__all__ = [
    "FORMATS",
    "GENERATED_BY_SCHEDULE",
    "KIND_NAMES",
    "Generated",
    "Parts",
    "ReportConfig",
    "ReportKind",
    "StoredReport",
    "build",
    "check_period",
    "file_of",
    "generate",
    "generate_due",
    "get",
    "kind_of",
    "listing",
    "parts",
    "period_title",
    "read_report_config",
    "report_title",
]
