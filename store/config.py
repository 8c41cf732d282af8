"""All configuration of the stores, loaded and validated once into frozen dataclasses.

`load_settings()` reads conf/*.yml (directory: the argument, else $CONF_DIR, else the project's
conf/) and fails at start-up with a message naming the file and the key of any bad value, so a
typo never surfaces as a wrong deadline in front of a customer. Callers keep the returned
`Settings` and pass it on; nothing reads the files again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from store.configuration.applications import (
    Applications,
    ApplicationType,
    BusinessType,
    DocumentSpec,
    StageSpec,
    load_applications,
)
from store.configuration.areas import AreaConfig, Station, load_areas, load_station
from store.configuration.commitments import (
    Commitments,
    NewConnectionLimits,
    VerificationPolicy,
    load_commitments,
)
from store.configuration.labels import Labels, load_labels
from store.configuration.service import (
    OpeningHours,
    PaymentChannel,
    Service,
    WorkCalendar,
    load_service,
)
from store.configuration.tariffs import Tariffs, load_tariffs
from store.configuration.yamlfile import ConfigError, Label, read_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent

__all__ = [
    "PROJECT_ROOT",
    "ApplicationType",
    "Applications",
    "AreaConfig",
    "BusinessType",
    "Commitments",
    "ConfigError",
    "DocumentSpec",
    "Label",
    "Labels",
    "NewConnectionLimits",
    "OpeningHours",
    "PaymentChannel",
    "Service",
    "Settings",
    "StageSpec",
    "Station",
    "Tariffs",
    "VerificationPolicy",
    "WorkCalendar",
    "default_conf_dir",
    "load_settings",
]


@dataclass(frozen=True)
class Settings:
    conf_dir: Path
    station: Station
    areas: tuple[AreaConfig, ...]
    commitments: Commitments
    tariffs: Tariffs
    service: Service
    applications: Applications
    labels: Labels

    @property
    def timezone(self) -> str:
        """IANA name of the station's time zone (deadlines are shown in it)."""
        return self.commitments.timezone

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.commitments.timezone)

    @property
    def calendar(self) -> WorkCalendar:
        return self.service.calendar

    def area(self, code: str) -> AreaConfig | None:
        return next((a for a in self.areas if a.code == code), None)


def default_conf_dir() -> Path:
    return Path(os.environ.get("CONF_DIR") or PROJECT_ROOT / "conf")


def load_settings(conf_dir: Path | None = None) -> Settings:
    """Read and validate every configuration file; raise ConfigError on the first problem."""
    directory = Path(conf_dir) if conf_dir is not None else default_conf_dir()
    if not directory.is_dir():
        raise ConfigError(f"{directory}: configuration directory does not exist")
    areas_file = read_yaml(directory / "areas.yml")
    commitments = load_commitments(read_yaml(directory / "commitments.yml"))
    labels = load_labels(read_yaml(directory / "labels.yml"))
    return Settings(
        conf_dir=directory,
        station=load_station(areas_file),
        areas=load_areas(areas_file),
        commitments=commitments,
        tariffs=load_tariffs(read_yaml(directory / "tariffs.yml")),
        service=load_service(read_yaml(directory / "service.yml")),
        applications=load_applications(
            read_yaml(directory / "applications.yml"), labels, commitments
        ),
        labels=labels,
    )
