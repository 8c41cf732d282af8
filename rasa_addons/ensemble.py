"""The intent distribution of two classifiers averaged (rasa_addons/ensemble_classifier.py).

DIET's ranking (its top intents, softmax over them) and a logistic regression's probabilities
over every intent, on the same sparse features. Where the two agree, the average keeps the
confidence; where they disagree, it drops, so the FallbackClassifier's threshold catches more of
the answers that would have been confidently wrong. Pure: tests/unit/test_nlu_ensemble.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def combine(
    diet_ranking: Iterable[Mapping[str, Any]],
    probabilities: Mapping[str, float],
    diet_weight: float,
) -> list[dict[str, Any]]:
    """The weighted average of the two distributions, highest first (ties by name). An intent
    missing from DIET's ranking counts 0 there; the result sums to 1 when both inputs do."""
    if not 0.0 <= diet_weight <= 1.0:
        raise ValueError(f"diet_weight must be within 0..1, not {diet_weight}")
    diet = {str(item["name"]): float(item["confidence"]) for item in diet_ranking}
    names = set(diet) | set(probabilities)
    mixed = {
        name: diet_weight * diet.get(name, 0.0)
        + (1.0 - diet_weight) * float(probabilities.get(name, 0.0))
        for name in names
    }
    ordered = sorted(mixed.items(), key=lambda item: (-item[1], item[0]))
    return [{"name": name, "confidence": confidence} for name, confidence in ordered]
