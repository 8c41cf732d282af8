"""Averaging DIET's intent ranking with a logistic regression's (rasa_addons/ensemble.py)."""

from __future__ import annotations

import math

import pytest

from rasa_addons.ensemble import combine


def _diet(**confidences: float) -> list[dict[str, object]]:
    return [{"name": name, "confidence": c} for name, c in confidences.items()]


def test_agreement_keeps_the_confidence() -> None:
    ranking = combine(
        _diet(report_fault=0.96, greet=0.04), {"report_fault": 0.9, "greet": 0.1}, 0.5
    )
    assert ranking[0] == {"name": "report_fault", "confidence": pytest.approx(0.93)}
    assert ranking[1]["name"] == "greet"


def test_disagreement_lowers_the_winners_confidence() -> None:
    ranking = combine(
        _diet(track_repair=0.99, report_fault=0.01), {"report_fault": 0.7, "track_repair": 0.3}, 0.5
    )
    assert ranking == [
        {"name": "track_repair", "confidence": pytest.approx(0.645)},
        {"name": "report_fault", "confidence": pytest.approx(0.355)},
    ]


def test_intents_outside_diets_top_count_zero_there_and_the_sum_stays_one() -> None:
    lr = {"query_bill": 0.5, "pay_bill": 0.3, "greet": 0.2}
    ranking = combine(_diet(query_bill=0.8, pay_bill=0.2), lr, 0.6)
    by_name = {item["name"]: item["confidence"] for item in ranking}
    assert by_name["greet"] == pytest.approx(0.4 * 0.2)
    assert math.fsum(by_name.values()) == pytest.approx(1.0)
    assert [item["name"] for item in ranking] == ["query_bill", "pay_bill", "greet"]


@pytest.mark.parametrize(("weight", "winner"), [(1.0, "a"), (0.0, "b")])
def test_the_weights_ends_are_each_classifier_alone(weight: float, winner: str) -> None:
    ranking = combine(_diet(a=0.9, b=0.1), {"a": 0.2, "b": 0.8}, weight)
    assert ranking[0]["name"] == winner


def test_ties_are_ordered_by_name_and_a_bad_weight_is_refused() -> None:
    assert [i["name"] for i in combine([], {"b": 0.5, "a": 0.5}, 0.5)] == ["a", "b"]
    with pytest.raises(ValueError, match="diet_weight"):
        combine([], {"a": 1.0}, 1.5)
