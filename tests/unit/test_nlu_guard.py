"""nlu.guard: the candidate against the live model, intent by intent, and the verdict."""

from __future__ import annotations

from typing import Any

import pytest

from nlu.guard import OverrideRefused, check_override, compare, metrics_from_report
from nlu.report import ReportError
from nlu.settings import GuardSettings

GUARD = GuardSettings(max_macro_f1_drop=0.0, max_recall_drop=0.05, min_override_reason=10)


def metrics(macro: float, **recalls: float) -> dict[str, Any]:
    return {
        "macro_f1": macro,
        "accuracy": None,
        "per_intent": {
            intent: {"precision": 0.9, "recall": recall, "f1": 0.9, "support": 12}
            for intent, recall in recalls.items()
        },
    }


def test_the_first_model_passes() -> None:
    verdict = compare(metrics(0.5, greet=0.5), None, GUARD)
    assert verdict.passed
    assert verdict.reasons == ()
    assert verdict.rows[0].recall == (None, 0.5)
    assert verdict.comparison_json()["macro_f1"] == {"before": None, "after": 0.5, "delta": None}


def test_an_equal_or_better_candidate_passes() -> None:
    live = metrics(0.90, greet=0.90, query_bill=0.80)
    verdict = compare(metrics(0.90, greet=0.86, query_bill=0.95), live, GUARD)
    assert verdict.passed, verdict.reasons
    row = next(r for r in verdict.rows if r.intent == "greet")
    assert row.to_json()["recall"]["delta"] == pytest.approx(-0.04)


def test_a_macro_f1_drop_is_refused() -> None:
    verdict = compare(metrics(0.899, greet=0.9), metrics(0.9, greet=0.9), GUARD)
    assert not verdict.passed
    assert verdict.reasons == (
        "macro-F1 dropped from 0.900 to 0.899 (more than the allowed 0.000)",
    )
    margin = GuardSettings(max_macro_f1_drop=0.01, max_recall_drop=0.05, min_override_reason=10)
    assert compare(metrics(0.89, greet=0.9), metrics(0.9, greet=0.9), margin).passed


def test_a_recall_drop_beyond_the_margin_is_refused_even_when_macro_f1_rises() -> None:
    live = metrics(0.90, report_safety_hazard=0.92, greet=0.5)
    candidate = metrics(0.95, report_safety_hazard=0.83, greet=1.0)
    verdict = compare(candidate, live, GUARD)
    assert not verdict.passed
    assert verdict.reasons == (
        "recall on report_safety_hazard fell from 0.92 to 0.83, more than 0.05",
    )
    # exactly at the margin passes
    assert compare(metrics(0.95, report_safety_hazard=0.87, greet=1.0), live, GUARD).passed


def test_an_intent_missing_from_the_candidate_is_refused() -> None:
    verdict = compare(metrics(0.95, greet=1.0), metrics(0.9, greet=1.0, thank=1.0), GUARD)
    assert not verdict.passed
    assert "intent thank of the live model's test set is missing" in verdict.reasons[0]


def test_a_new_intent_of_the_candidate_is_shown_without_before() -> None:
    verdict = compare(metrics(0.9, greet=1.0, ask_ev=0.5), metrics(0.9, greet=1.0), GUARD)
    assert verdict.passed
    row = next(r for r in verdict.rows if r.intent == "ask_ev")
    assert row.to_json()["recall"] == {"before": None, "after": 0.5, "delta": None}


def test_metrics_from_rasas_report() -> None:
    raw = {
        "greet": {"precision": 1.0, "recall": 0.5, "f1-score": 0.6667, "support": 2},
        "thank": {
            "precision": 0.5,
            "recall": 1.0,
            "f1-score": 0.6667,
            "support": 1,
            "confused_with": {"greet": 1},
        },
        "accuracy": 0.667,
        "macro avg": {"precision": 0.75, "recall": 0.75, "f1-score": 0.6667, "support": 3},
    }
    found = metrics_from_report(raw, holdout_sha256="ab" * 32)
    assert found["macro_f1"] == pytest.approx(0.6667)
    assert found["accuracy"] == 0.667
    assert found["per_intent"]["thank"]["confused_with"] == {"greet": 1}
    assert found["holdout_sha256"] == "ab" * 32
    with pytest.raises(ReportError):
        metrics_from_report({"accuracy": 1.0})


@pytest.mark.parametrize("reason", [None, "", "   ", "too short"])
def test_an_override_needs_a_written_reason(reason: str | None) -> None:
    with pytest.raises(OverrideRefused, match="at least 10 characters"):
        check_override(reason, GUARD)


def test_an_override_reason_is_kept_stripped() -> None:
    assert check_override("  holdout misses new slang  ", GUARD) == "holdout misses new slang"
