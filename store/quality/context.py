"""What every part of the computation reads: the station's configuration, conf/quality.yml, the
'系统繁忙' texts and the clock. Loaded once per configuration directory ($CONF_DIR or conf/),
never at import time."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from store.config import Settings, default_conf_dir, load_settings
from store.configuration.quality import FigureSpec, Quality, read_quality
from store.configuration.yamlfile import read_yaml
from store.sla import require_aware


@dataclass(frozen=True)
class Conf:
    """The configuration the figures depend on."""

    settings: Settings
    quality: Quality
    busy_texts: tuple[str, ...]
    """The gateway's '系统繁忙' notice as customers get it (conf/gateway.yml), both languages."""

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    def spec(self, key: str) -> FigureSpec:
        return self.quality.spec(key)

    def fingerprint(self) -> str:
        """Of everything the stored facts were measured with: a change measures them again."""
        s, q = self.settings, self.quality
        c = s.commitments
        data = {
            "tz": c.timezone,
            "arrival": dict(c.arrival_minutes_by_kind),
            "restore": dict(c.restoration_hours_by_kind),
            "unknown": c.unknown_area_kind,
            "complaint": [c.complaint_contact_hours, c.complaint_reply_working_days],
            "holidays": sorted(str(d) for d in s.calendar.holidays),
            "workdays": sorted(str(d) for d in s.calendar.workdays),
            "agent_hours": [
                [h.weekdays, str(h.opens), str(h.closes)] for h in s.service.agent_hours
            ],
            "areas": [[a.code, a.kind] for a in s.areas],
            "quality": [
                q.repair_types,
                q.repeat_fault_days,
                sorted(q.callback_done),
                q.repeat_complaint_days,
                q.fallback_intents,
                {k: [[c.code, c.words] for c in v] for k, v in q.categories.items()},
            ],
            "busy": self.busy_texts,
        }
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def _busy_texts(conf_dir: Path, hotline: str) -> tuple[str, ...]:
    label = read_yaml(conf_dir / "gateway.yml")["replies"]["busy"].as_label()
    return tuple(text.replace("{hotline}", hotline) for text in label)


@cache
def _load(conf_dir: Path) -> Conf:
    settings = load_settings(conf_dir)
    return Conf(
        settings=settings,
        quality=read_quality(conf_dir),
        busy_texts=_busy_texts(conf_dir, settings.service.hotline),
    )


def current() -> Conf:
    """The configuration of $CONF_DIR (or conf/), loaded on first use."""
    return _load(default_conf_dir().resolve())


@dataclass(frozen=True)
class Context:
    """One computation's configuration and clock (`now` decides whether an open item is late)."""

    conf: Conf
    now: datetime

    @property
    def quality(self) -> Quality:
        return self.conf.quality

    @property
    def settings(self) -> Settings:
        return self.conf.settings

    @property
    def tz(self) -> ZoneInfo:
        return self.conf.tz


def context(now: datetime | None = None) -> Context:
    """The current configuration with `now` (default: the clock)."""
    moment = now or datetime.now(UTC)
    require_aware(moment)
    return Context(current(), moment.astimezone(UTC))
