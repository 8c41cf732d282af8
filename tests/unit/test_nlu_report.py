"""nlu.report: parsing Rasa's intent_report.json, macro-F1, the table and the CI gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nlu import report

# Shaped like `rasa test nlu --out DIR` output: intents plus the four aggregate keys.
# Per-intent F1: 0.5, 0.9, 1.0 -> macro-F1 0.8 (the aggregates below are deliberately
# different, to prove macro-F1 is computed from the intent rows).
FABRICATED = {
    "report_fault": {
        "precision": 0.6,
        "recall": 0.4,
        "f1-score": 0.5,
        "support": 10,
        "confused_with": {"query_outage_info": 4, "nlu_fallback": 2},
    },
    "query_outage_info": {
        "precision": 0.85,
        "recall": 0.95,
        "f1-score": 0.9,
        "support": 12,
        "confused_with": {"report_fault": 1},
    },
    "greet": {
        "precision": 1.0,
        "recall": 1.0,
        "f1-score": 1.0,
        "support": 8,
        "confused_with": {},
    },
    "accuracy": 0.8,
    "macro avg": {"precision": 0.1, "recall": 0.1, "f1-score": 0.1, "support": 30},
    "weighted avg": {"precision": 0.1, "recall": 0.1, "f1-score": 0.1, "support": 30},
    "micro avg": {"precision": 0.8, "recall": 0.8, "f1-score": 0.8, "support": 30},
}


@pytest.fixture
def report_path(tmp_path: Path) -> Path:
    path = tmp_path / "results" / "intent_report.json"
    path.parent.mkdir()
    path.write_text(json.dumps(FABRICATED), encoding="utf-8")
    return path


def test_parse_skips_aggregate_keys(report_path: Path) -> None:
    scores = report.parse_intents(report.load_report(report_path))
    assert {s.name for s in scores} == {"report_fault", "query_outage_info", "greet"}


def test_macro_f1_is_the_mean_of_intent_f1(report_path: Path) -> None:
    scores = report.parse_intents(report.load_report(report_path))
    assert report.macro_f1(scores) == pytest.approx(0.8)


def test_macro_f1_ignores_rows_without_support() -> None:
    scores = [
        report.IntentScore("greet", 1.0, 1.0, 1.0, 5, {}),
        report.IntentScore("nlu_fallback", 0.0, 0.0, 0.0, 0, {}),
    ]
    assert report.macro_f1(scores) == pytest.approx(1.0)


def test_worst_confusions_sorted_by_count(report_path: Path) -> None:
    scores = report.parse_intents(report.load_report(report_path))
    confusions = report.worst_confusions(scores)
    assert [(c.expected, c.predicted, c.count) for c in confusions] == [
        ("report_fault", "query_outage_info", 4),
        ("report_fault", "nlu_fallback", 2),
        ("query_outage_info", "report_fault", 1),
    ]


def test_table_is_sorted_by_f1_and_shows_macro_f1(
    report_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report.main([str(report_path), "--min-macro-f1", "0.5"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "|---" not in line]
    assert [row.split("|")[1].strip() for row in rows[1:]] == [
        "report_fault",
        "query_outage_info",
        "greet",
    ]
    assert "report_fault → query_outage_info: 4" in out
    assert "macro-F1: 0.8000" in out
    assert "OK: macro-F1 0.8000" in out


def test_below_threshold_exits_1_with_message(
    report_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report.main([str(report_path), "--min-macro-f1", "0.92"]) == 1
    err = capsys.readouterr().err
    assert "FAIL: macro-F1 0.8000 is below the minimum 0.9200" in err
    assert "report_fault 0.50" in err


def test_default_threshold_is_092(report_path: Path) -> None:
    assert report.DEFAULT_MIN_MACRO_F1 == 0.92  # documented default of the CLI
    assert report.main([str(report_path)]) == 1


def test_threshold_equal_to_macro_f1_passes(report_path: Path) -> None:
    assert report.main([str(report_path), "--min-macro-f1", "0.8"]) == 0


def test_out_md_writes_the_same_markdown(
    report_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_md = tmp_path / "reports" / "nlu.md"
    assert report.main([str(report_path), "--min-macro-f1", "0", "--out-md", str(out_md)]) == 0
    written = out_md.read_text(encoding="utf-8")
    assert written.startswith("# NLU intent evaluation")
    assert written in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"accuracy": 1.0}', "no intents"),
        ('{"greet": {"precision": 1, "recall": 1, "support": 3}}', "'f1-score'"),
    ],
)
def test_unusable_report_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "intent_report.json"
    path.write_text(content, encoding="utf-8")
    assert report.main([str(path)]) == 2
    assert message in capsys.readouterr().err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main([str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_threshold_outside_0_1_is_a_usage_error(report_path: Path) -> None:
    with pytest.raises(SystemExit) as exc_info:
        report.main([str(report_path), "--min-macro-f1", "92"])
    assert exc_info.value.code == 2


def test_runs_as_module(report_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nlu.report", str(report_path), "--min-macro-f1", "0.9"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "macro-F1: 0.8000" in result.stdout
    assert "FAIL" in result.stderr
