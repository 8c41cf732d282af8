"""The regression guard: a candidate model against the live one, intent by intent.

Both are evaluated on the same held-out set (conf/nlu.yml training.holdout). The candidate is
refused when

- its macro-F1 is lower than the live model's by more than guard.max_macro_f1_drop;
- its recall on an intent falls by more than guard.max_recall_drop (a rare but important
  intent such as report_safety_hazard must not get worse unnoticed because the others improve);
- an intent of the live model's test set is missing from the candidate's evaluation.

A refused candidate can still be deployed by an operator who writes why (at least
guard.min_override_reason characters); the registry records it. Everything here is pure: the
metrics are the JSON the registry stores (`metrics_from_report` builds them from Rasa's
intent_report.json).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nlu import report
from nlu.rules import Invalid
from nlu.settings import GuardSettings

#: Averages of floats are inexact; a model exactly at a margin passes.
TOLERANCE = 1e-9


class OverrideRefused(Invalid):
    """An override without a good enough written reason."""


def metrics_from_report(
    raw: Mapping[str, object], holdout_sha256: str | None = None
) -> dict[str, Any]:
    """Rasa's intent_report.json → the registry's metrics JSON: {"macro_f1", "accuracy",
    "per_intent": {intent: {"precision", "recall", "f1", "support", "confused_with"}}} (+ the
    held-out file's hash, so a changed test set is noticed)."""
    scores = report.parse_intents(raw)
    metrics: dict[str, Any] = {
        "macro_f1": report.macro_f1(scores),
        "accuracy": report.accuracy(raw),
        "per_intent": {
            s.name: {
                "precision": s.precision,
                "recall": s.recall,
                "f1": s.f1,
                "support": s.support,
                "confused_with": dict(s.confused_with),
            }
            for s in scores
        },
    }
    if holdout_sha256 is not None:
        metrics["holdout_sha256"] = holdout_sha256
    return metrics


@dataclass(frozen=True)
class Row:
    """One intent of the comparison (None: the model's evaluation has no such intent)."""

    intent: str
    support: int
    precision: tuple[float | None, float | None]
    recall: tuple[float | None, float | None]
    f1: tuple[float | None, float | None]

    @staticmethod
    def _delta(pair: tuple[float | None, float | None]) -> float | None:
        before, after = pair
        return None if before is None or after is None else after - before

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"intent": self.intent, "support": self.support}
        for name in ("precision", "recall", "f1"):
            pair = getattr(self, name)
            out[name] = {"before": pair[0], "after": pair[1], "delta": self._delta(pair)}
        return out


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...]
    rows: tuple[Row, ...]
    macro_f1: tuple[float | None, float]

    def comparison_json(self) -> dict[str, Any]:
        """What the registry stores as the candidate's `comparison`."""
        before, after = self.macro_f1
        return {
            "macro_f1": {
                "before": before,
                "after": after,
                "delta": None if before is None else after - before,
            },
            "rows": [row.to_json() for row in self.rows],
            "passed": self.passed,
            "reasons": list(self.reasons),
        }


def _per_intent(metrics: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    per_intent = metrics.get("per_intent")
    return per_intent if isinstance(per_intent, Mapping) else {}


def _value(entry: Mapping[str, Any] | None, key: str) -> float | None:
    if entry is None:
        return None
    value = entry.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def compare(
    candidate: Mapping[str, Any], live: Mapping[str, Any] | None, guard: GuardSettings
) -> Verdict:
    """The comparison rows and the verdict. Without a live model (the first one) it passes."""
    new = _per_intent(candidate)
    old = _per_intent(live) if live is not None else {}
    rows: list[Row] = []
    reasons: list[str] = []
    for intent in sorted(set(new) | set(old)):
        before, after = old.get(intent), new.get(intent)
        support = int(_value(after, "support") or _value(before, "support") or 0)
        rows.append(
            Row(
                intent=intent,
                support=support,
                precision=(_value(before, "precision"), _value(after, "precision")),
                recall=(_value(before, "recall"), _value(after, "recall")),
                f1=(_value(before, "f1"), _value(after, "f1")),
            )
        )
    macro_after = float(candidate.get("macro_f1") or 0.0)
    macro_before = _value(live, "macro_f1") if live is not None else None
    if (
        macro_before is not None
        and macro_after + guard.max_macro_f1_drop + TOLERANCE < macro_before
    ):
        reasons.append(
            f"macro-F1 dropped from {macro_before:.3f} to {macro_after:.3f}"
            f" (more than the allowed {guard.max_macro_f1_drop:.3f})"
        )
    for intent in sorted(old):
        before_entry = old[intent]
        if (_value(before_entry, "support") or 0) <= 0:
            continue  # only predicted, never expected: says nothing about recall
        recall_before = _value(before_entry, "recall")
        after_entry = new.get(intent)
        if after_entry is None:
            reasons.append(
                f"intent {intent} of the live model's test set is missing from the candidate's"
                " evaluation"
            )
            continue
        recall_after = _value(after_entry, "recall")
        if recall_before is None or recall_after is None:
            continue
        if recall_after + guard.max_recall_drop + TOLERANCE < recall_before:
            reasons.append(
                f"recall on {intent} fell from {recall_before:.2f} to {recall_after:.2f},"
                f" more than {guard.max_recall_drop:.2f}"
            )
    return Verdict(
        passed=not reasons,
        reasons=tuple(reasons),
        rows=tuple(rows),
        macro_f1=(macro_before, macro_after),
    )


def check_override(reason: str | None, guard: GuardSettings) -> str:
    """The override's reason, stripped; OverrideRefused when it is missing or too short."""
    text = (reason or "").strip()
    if len(text) < guard.min_override_reason:
        raise OverrideRefused(
            "this candidate was refused by the regression guard: deploying it anyway needs a"
            f" written reason of at least {guard.min_override_reason} characters"
        )
    return text
