"""The independent evaluation corpus (tests/nlu/corpus/) and its report (nlu/corpus_report.py).

The corpus is kept apart from the training data: these checks fail when a line of it is found
in data/ (the fix is to delete the *training* line and write a different one), when it loses
coverage, and when the report's figures are computed wrongly. Failures print counts and the
training file's line, never a list of corpus lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlu.corpus_report import CONFIDENT, Miss, figures, main
from tests.unit.test_nlu_data import (
    DOMAIN_INTENTS,
    HOLDOUT,
    intent_examples,
    normalise,
    training_files,
)

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "nlu" / "corpus"
CONTROL = {"greet", "goodbye", "affirm", "deny", "thank", "inform", "out_of_scope"}


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[tuple[Path, str]]]:
    return intent_examples(sorted(CORPUS.glob("*.yml")))


def test_the_corpus_covers_the_29_intents_with_800_utterances(
    corpus: dict[str, list[tuple[Path, str]]],
) -> None:
    assert set(corpus) == DOMAIN_INTENTS | CONTROL
    small = {intent: len(e) for intent, e in corpus.items() if len(e) < 20}
    assert not small, f"intents with fewer than 20 utterances: {small}"
    total = sum(len(e) for e in corpus.values())
    english = sum(1 for e in corpus.values() for path, _ in e if path.stem.startswith("en"))
    assert total >= 800
    assert english / total >= 0.15, f"{english} of {total} English"


def test_the_corpus_has_no_duplicates(corpus: dict[str, list[tuple[Path, str]]]) -> None:
    seen = [normalise(text) for examples in corpus.values() for _, text in examples]
    assert len(seen) - len(set(seen)) == 0, f"{len(seen) - len(set(seen))} duplicated lines"


def test_no_corpus_utterance_is_in_the_training_data_or_the_holdout(
    corpus: dict[str, list[tuple[Path, str]]],
) -> None:
    mine = {normalise(text) for examples in corpus.values() for _, text in examples}
    shared = [
        f"{path.name}: {text!r} ({intent})"
        for intent, examples in intent_examples([*training_files(), HOLDOUT]).items()
        for path, text in examples
        if normalise(text) in mine
    ]
    assert not shared, "delete or rewrite these lines (they are in the corpus):\n" + "\n".join(
        shared
    )


def _report(tmp_path: Path, intents: dict[str, tuple[float, int]], misses: list[Miss]) -> Path:
    report = {
        name: {"precision": 1.0, "recall": r, "f1-score": r, "support": n, "confused_with": {}}
        for name, (r, n) in intents.items()
    }
    report["accuracy"] = 0.0  # type: ignore[assignment]
    (tmp_path / "intent_report.json").write_text(json.dumps(report), encoding="utf-8")
    errors = [
        {
            "text": m.text,
            "intent": m.expected,
            "intent_prediction": {"name": m.predicted, "confidence": m.confidence},
        }
        for m in misses
    ]
    (tmp_path / "intent_errors.json").write_text(json.dumps(errors), encoding="utf-8")
    return tmp_path


def test_figures_on_a_crafted_report(tmp_path: Path) -> None:
    # 10 utterances over two intents, 3 misses: one confident, one fallback, one English
    misses = [
        Miss("停电了", "report_fault", "query_outage_info", 0.95),
        Miss("嗯", "greet", "nlu_fallback", 0.55),
        Miss("no power", "report_fault", "greet", CONFIDENT - 0.01),
    ]
    report = {
        "report_fault": {"precision": 1, "recall": 4 / 6, "f1-score": 0.8, "support": 6},
        "greet": {"precision": 1, "recall": 3 / 4, "f1-score": 0.6, "support": 4},
        "nlu_fallback": {"precision": 0, "recall": 0, "f1-score": 0, "support": 0},
    }
    result = figures(report, misses, english={"no power", "hello", "bye", "power cut"})
    assert result.total == 10
    assert result.accuracy == pytest.approx(0.7)
    assert result.macro_f1 == pytest.approx(0.7)
    assert result.english_accuracy == pytest.approx(0.75)
    assert (result.confident_errors, result.fallbacks) == (1, 1)
    assert result.confident_error_rate == pytest.approx(0.1)
    assert result.recall == {"report_fault": pytest.approx(4 / 6), "greet": 0.75}


def test_the_gate_fails_below_the_minimum_accuracy(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "en.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello\n', encoding="utf-8"
    )
    # 1 miss in 10: accuracy 0.9 (the gate reads the top-1 accuracy)
    results = _report(tmp_path, {"greet": (0.9, 10)}, [Miss("hi", "greet", "thank", 0.5)])
    args = [str(results), "--corpus", str(corpus)]
    assert main([*args, "--min-accuracy", "0.93"]) == 1
    assert main([*args, "--min-accuracy", "0.9"]) == 0
    assert main([str(tmp_path / "missing"), "--corpus", str(corpus)]) == 2


def test_a_right_answer_below_the_fallback_threshold_is_a_miss() -> None:
    """In production a prediction under the FallbackClassifier's threshold gets buttons, not an
    answer: it counts as a miss (and never as a confident error)."""
    report = {"report_fault": {"precision": 1, "recall": 0.5, "f1-score": 0.5, "support": 4}}
    misses = [
        Miss("a", "report_fault", "greet", 0.4),  # wrong, and would fall back
        Miss("b", "report_fault", "greet", 0.97),  # wrong and confident
    ]
    unsure = [Miss("c", "report_fault", "report_fault", 0.5)]
    result = figures(report, misses, english=set(), unsure_hits=unsure, threshold=0.55)
    assert result.top1_accuracy == pytest.approx(0.5)
    assert result.accuracy == pytest.approx(0.25)
    assert result.recall == {"report_fault": pytest.approx(0.25)}
    assert (result.fallbacks, result.confident_errors) == (2, 1)
