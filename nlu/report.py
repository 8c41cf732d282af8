"""Turn Rasa's intent_report.json into something an operator can act on, and gate on macro-F1.

`rasa test nlu --out DIR` writes DIR/intent_report.json: one entry per intent of the test set
(precision, recall, f1-score, support, confused_with) plus the aggregates "accuracy",
"macro avg", "weighted avg" and "micro avg". The raw JSON hides what matters when deciding which
training data to write next: which intents are weak and what they are mistaken for.

Macro-F1 is the gate (not accuracy or weighted F1) because every intent counts the same: a rare
but important intent such as report_safety_hazard must fail the check even when the frequent
intents carry the average.

Usage: python -m nlu.report REPORT_JSON [--min-macro-f1 0.92] [--out-md FILE]
Exit status: 0 when macro-F1 >= the minimum, 1 when it is below, 2 when the report is unusable.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

AGGREGATE_KEYS = frozenset({"accuracy", "macro avg", "weighted avg", "micro avg"})
DEFAULT_MIN_MACRO_F1 = 0.92
WORST_CONFUSIONS_SHOWN = 10
# Averaging floats is inexact (mean of 0.5, 0.9, 1.0 is 0.7999999999999999): a model exactly at
# the threshold must pass.
_TOLERANCE = 1e-9


class ReportError(ValueError):
    """The input is not a usable intent report: reported as one line and exit 2, no traceback."""


@dataclass(frozen=True)
class IntentScore:
    """One intent's row of the report."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int
    confused_with: Mapping[str, int]


@dataclass(frozen=True)
class Confusion:
    """Test examples of `expected` that the model classified as `predicted`."""

    expected: str
    predicted: str
    count: int


def load_report(path: Path) -> Mapping[str, object]:
    """Read the JSON file, turning I/O and syntax errors into ReportError for a clean exit."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ReportError(f"{path} is not an intent report (expected a JSON object)")
    return raw


def _number(entry: Mapping[str, object], key: str, intent: str) -> float:
    """Fetch a numeric field; a missing or non-numeric one means the file is not a Rasa report."""
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportError(f"intent {intent!r}: {key!r} is missing or not a number")
    return float(value)


def _confusions(entry: Mapping[str, object], intent: str) -> dict[str, int]:
    """Read confused_with; it is absent in reports written without an output directory."""
    raw = entry.get("confused_with", {})
    if not isinstance(raw, Mapping):
        raise ReportError(f"intent {intent!r}: 'confused_with' is not an object")
    confused: dict[str, int] = {}
    for label, count in raw.items():
        if isinstance(count, bool) or not isinstance(count, int):
            raise ReportError(f"intent {intent!r}: confusion count for {label!r} is not an integer")
        confused[str(label)] = count
    return confused


def parse_intents(report: Mapping[str, object]) -> list[IntentScore]:
    """Per-intent rows: every key except the aggregates is an intent name."""
    scores: list[IntentScore] = []
    for name, entry in report.items():
        if name in AGGREGATE_KEYS:
            continue
        if not isinstance(entry, Mapping):
            raise ReportError(f"intent {name!r}: expected an object of metrics")
        scores.append(
            IntentScore(
                name=name,
                precision=_number(entry, "precision", name),
                recall=_number(entry, "recall", name),
                f1=_number(entry, "f1-score", name),
                support=int(_number(entry, "support", name)),
                confused_with=_confusions(entry, name),
            )
        )
    if not scores:
        raise ReportError("the report lists no intents")
    return scores


def macro_f1(scores: Sequence[IntentScore]) -> float:
    """Unweighted mean F1 over the intents present in the test set (support > 0).

    Computed here rather than read from "macro avg" so the gate does not depend on which
    aggregate keys a Rasa/scikit-learn version writes; it equals Rasa's macro avg, which is
    taken over the test set's intents. A row without support (a label that was only ever
    predicted) says nothing about recall and is left out.
    """
    present = [score.f1 for score in scores if score.support > 0]
    if not present:
        raise ReportError("no intent has test examples (all supports are 0)")
    return math.fsum(present) / len(present)


def accuracy(report: Mapping[str, object]) -> float | None:
    """Overall accuracy when Rasa wrote it; shown for context only, never gated on."""
    value = report.get("accuracy")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def worst_confusions(
    scores: Sequence[IntentScore], limit: int = WORST_CONFUSIONS_SHOWN
) -> list[Confusion]:
    """The largest expected→predicted error counts: where new training examples help most."""
    confusions = [
        Confusion(score.name, predicted, count)
        for score in scores
        for predicted, count in score.confused_with.items()
        if count > 0
    ]
    confusions.sort(key=lambda c: (-c.count, c.expected, c.predicted))
    return confusions[:limit]


def _confused_cell(confused_with: Mapping[str, int]) -> str:
    """Most frequent first, so the table row already says what to fix."""
    ranked = sorted(confused_with.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{label} ×{count}" for label, count in ranked) or "-"


def render_markdown(
    scores: Sequence[IntentScore], macro: float, overall_accuracy: float | None
) -> str:
    """Markdown that reads well both in a terminal and pasted into an issue or a CI summary."""
    lines = [
        "# NLU intent evaluation",
        "",
        "| intent | F1 | precision | recall | support | confused with |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for score in sorted(scores, key=lambda s: (s.f1, s.name)):
        lines.append(
            f"| {score.name} | {score.f1:.3f} | {score.precision:.3f} | {score.recall:.3f}"
            f" | {score.support} | {_confused_cell(score.confused_with)} |"
        )
    lines += ["", "## Worst confusions", ""]
    confusions = worst_confusions(scores)
    if confusions:
        lines += [f"- {c.expected} → {c.predicted}: {c.count}" for c in confusions]
    else:
        lines.append("- none")
    lines += ["", f"**macro-F1: {macro:.4f}**"]
    if overall_accuracy is not None:
        lines.append(f"accuracy: {overall_accuracy:.4f}")
    return "\n".join(lines) + "\n"


def _threshold(text: str) -> float:
    """argparse type: an F1 threshold must lie in [0, 1], or the gate is meaningless."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface; kept separate so tests and `nlu` subcommands can reuse it."""
    parser = argparse.ArgumentParser(
        prog="python -m nlu.report",
        description="Summarise Rasa's intent_report.json and fail when macro-F1 is too low.",
    )
    parser.add_argument("report", type=Path, metavar="REPORT_JSON", help="intent_report.json")
    parser.add_argument(
        "--min-macro-f1",
        type=_threshold,
        default=DEFAULT_MIN_MACRO_F1,
        help=f"exit 1 below this macro-F1 (default {DEFAULT_MIN_MACRO_F1}; 0 disables the gate)",
    )
    parser.add_argument("--out-md", type=Path, metavar="FILE", help="also write the Markdown here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table, optionally save it, and return the exit status for CI."""
    args = build_parser().parse_args(argv)
    try:
        report = load_report(args.report)
        scores = parse_intents(report)
        macro = macro_f1(scores)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    markdown = render_markdown(scores, macro, accuracy(report))
    print(markdown, end="")
    if args.out_md is not None:
        try:
            args.out_md.parent.mkdir(parents=True, exist_ok=True)
            args.out_md.write_text(markdown, encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot write {args.out_md}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    if macro + _TOLERANCE < args.min_macro_f1:
        present = sorted((s for s in scores if s.support > 0), key=lambda s: (s.f1, s.name))
        weakest = ", ".join(f"{s.name} {s.f1:.2f}" for s in present[:3])
        print(
            f"FAIL: macro-F1 {macro:.4f} is below the minimum {args.min_macro_f1:.4f} "
            f"(weakest: {weakest})",
            file=sys.stderr,
        )
        return 1
    print(f"OK: macro-F1 {macro:.4f} >= minimum {args.min_macro_f1:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
