"""The service-quality dashboard's limits (conf/quality_dashboard.yml): which periods it accepts,
how many chart steps and drill-down rows it returns, how long a plan measure's texts may be.
Loaded on its own when the gateway's console starts, validated once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from store.configuration.yamlfile import ConfigError, Node, read_yaml

FILE_NAME = "quality_dashboard.yml"


@dataclass(frozen=True)
class DashboardConfig:
    earliest_year: int
    max_days: int
    menu_months: int
    max_points: int
    page_size: int
    max_page_size: int
    max_offset: int
    title_max: int
    notes_max: int
    value_max: int


def load_dashboard(root: Node) -> DashboardConfig:
    periods, drill, plan = root["periods"], root["drill"], root["plan"]
    config = DashboardConfig(
        earliest_year=periods["earliest_year"].as_int(minimum=1900),
        max_days=periods["max_days"].as_int(),
        menu_months=periods["menu_months"].as_int(),
        max_points=root["charts"]["max_points"].as_int(),
        page_size=drill["page_size"].as_int(),
        max_page_size=drill["max_page_size"].as_int(),
        max_offset=drill["max_offset"].as_int(minimum=0),
        title_max=plan["title_max"].as_int(),
        notes_max=plan["notes_max"].as_int(),
        value_max=plan["value_max"].as_int(),
    )
    if config.page_size > config.max_page_size:
        raise ConfigError(f"{root.path}: drill.page_size is larger than drill.max_page_size")
    return config


def read_dashboard(conf_dir: Path) -> DashboardConfig:
    """conf/quality_dashboard.yml of `conf_dir`, validated (ConfigError on the first problem)."""
    return load_dashboard(read_yaml(Path(conf_dir) / FILE_NAME))
