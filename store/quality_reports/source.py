"""The database's `Source` of a report: the figures from `store.quality` (the one computation),
the measures from the improvement plan, the not-understood messages from the NLU inbox (their
intents named as conf/intents.yml names them)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from store import quality
from store.configuration.yamlfile import read_yaml
from store.quality import Bottleneck, Period, Snapshot
from store.quality_reports.content import InboxItem, Measure
from store.quality_reports.inbox import top_not_understood
from store.services import quality_plan


def intent_labels(conf_dir: Path) -> dict[str, str]:
    """Intent → its Chinese name (conf/intents.yml); an intent missing there keeps its code."""
    node = read_yaml(Path(conf_dir) / "intents.yml")["intents"]
    return {code: label["zh"].as_str() for code, label in node.items()}


@dataclass
class DatabaseSource:
    session: Session
    intents: dict[str, str]
    now: datetime
    """the report's time: open items past their deadline by then count as late"""

    def snapshot(self, period: Period) -> Snapshot:
        return quality.snapshot(self.session, period, now=self.now)

    def bottlenecks(self, snap: Snapshot) -> list[Bottleneck]:
        return quality.bottlenecks(snap)

    def label(self, key: str) -> str:
        try:
            return quality.label(key)
        except KeyError:  # a measure on a figure no longer in conf/quality.yml
            return key

    def measures(self) -> list[Measure]:
        return [
            Measure(
                title=m.title,
                figure_key=m.figure_key,
                baseline=m.baseline,
                target=m.target,
                owner=m.owner,
                due=m.due_date,
                status=m.status,
            )
            for m in quality_plan.list_measures(self.session)
        ]

    def not_understood(self, period: Period, limit: int) -> list[InboxItem]:
        items = top_not_understood(self.session, period, limit)
        return [
            replace(item, intent=self.intents.get(item.intent, item.intent))
            if item.intent
            else item
            for item in items
        ]
