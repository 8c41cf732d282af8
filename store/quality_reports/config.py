"""conf/quality_reports.yml: when the gateway makes the periodic reports by itself and how much
of each list a report shows; validated once when read (ConfigError naming the key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from store.configuration.yamlfile import ConfigError, Node, read_yaml
from store.quality_reports.kinds import ReportKind

FILE_NAME = "quality_reports.yml"
SCHEDULED_KINDS = (ReportKind.MONTHLY, ReportKind.QUARTERLY, ReportKind.ANNUAL)


@dataclass(frozen=True)
class ReportConfig:
    kinds: tuple[ReportKind, ...]
    """what the gateway makes by itself"""
    check_every: timedelta
    delay: timedelta
    """how long after a period's close its report is made"""
    time_limit: timedelta
    """how long the gateway's child process making them may run before it is stopped"""
    top_items: int
    bottlenecks: int
    steady_share: float
    max_custom_days: int


def _kinds(node: Node) -> tuple[ReportKind, ...]:
    kinds = tuple(ReportKind(item.choice(tuple(SCHEDULED_KINDS))) for item in node.as_list())
    if len(set(kinds)) != len(kinds):
        node.fail("each kind once")
    return kinds


def _share(node: Node) -> float:
    value = float(node.as_decimal())
    if not 0 <= value < 1:
        node.fail("a share from 0 to below 1")
    return value


def load_report_config(root: Node) -> ReportConfig:
    schedule, report = root["schedule"], root["report"]
    kinds = schedule.get("kinds")
    return ReportConfig(
        kinds=_kinds(kinds) if kinds is not None else (),
        check_every=timedelta(minutes=schedule["check_every_minutes"].as_int()),
        delay=timedelta(hours=schedule["delay_hours"].as_int(minimum=0)),
        time_limit=timedelta(minutes=schedule["time_limit_minutes"].as_int()),
        top_items=report["top_items"].as_int(),
        bottlenecks=report["bottlenecks"].as_int(),
        steady_share=_share(report["steady_share"]),
        max_custom_days=report["max_custom_days"].as_int(),
    )


def read_report_config(conf_dir: Path) -> ReportConfig:
    """conf/quality_reports.yml of `conf_dir` (ConfigError on the first problem)."""
    return load_report_config(read_yaml(Path(conf_dir) / FILE_NAME))


__all__ = ["FILE_NAME", "ConfigError", "ReportConfig", "read_report_config"]
