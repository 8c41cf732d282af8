"""`python -m nlu`: the operator's loop from a terminal, on a copy of the project, a fake
`rasa` and a fake Rasa server (in a thread: the CLI runs its own event loop)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from nlu.__main__ import main
from nlu.settings import NluSettings
from store.db import unit_of_work
from tests.fakes.loopback import serve_in_thread
from tests.fakes.nlu_project import (
    add_inbox_item,
    copy_project,
    make_fake_rasa,
    project_settings,
)
from tests.fakes.rasa import FakeRasa
from tests.fakes.rasa_cli import fake_model

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    with serve_in_thread(FakeRasa.serving_models()) as server:
        yield server


@pytest.fixture
def project(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    session_factory: sessionmaker[Session],
    rasa: FakeRasa,
) -> NluSettings:
    root = copy_project(tmp_path / "project")
    rasa_bin = make_fake_rasa(tmp_path / "bin")
    env = {
        "CONF_DIR": str(root / "conf"),
        "NLU_PROJECT_DIR": str(root),
        "NLU_MODELS_DIR": str(root / "models"),
        "RASA_BIN": str(rasa_bin),
        "DATABASE_URL": db_url,
        "RASA_URL": rasa.url,
        "RASA_TOKEN": rasa.token or "",
        "USER": "operator1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = project_settings(root, rasa_bin)
    fake_model(settings.current_model, b"baseline")
    with unit_of_work(session_factory) as session:
        for text, guess in (("俺们东山村3组没电了", "greet"), ("帮我叫个外卖", "query_bill")):
            add_inbox_item(session, settings, text, guess, NOW)
    return settings


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_annotate_from_the_terminal(
    project: NluSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "inbox")
    assert code == 0
    assert out.splitlines()[0] == "2 item(s) open"
    assert "俺们东山村3组没电了" in out

    code, out, _ = run(capsys, "show", "1")
    assert code == 0
    assert "the bot thought: greet (0.30)" in out

    code, out, _ = run(capsys, "label", "1", "report_fault", "--entity", "address=东山村3组")
    assert code == 0
    assert out.strip() == "labelled: 俺们[东山村3组](address)没电了  (data/nlu/faults.yml)"

    code, out, _ = run(capsys, "oos", "2")
    assert (code, out.strip()) == (0, "out of scope: 帮我叫个外卖  (data/nlu/dialogue.yml)")

    code, out, _ = run(capsys, "inbox", "--status", "all")
    assert "labelled" in out
    assert "→ report_fault" in out

    # a wrong label corrected: the example moves to the other intent (here with no entity)
    code, out, _ = run(capsys, "relabel", "1", "query_outage_info")
    assert (code, out.strip()) == (
        0,
        "relabelled: 俺们东山村3组没电了  (data/nlu/faults.yml)",
    )
    faults = (project.data_dir / "nlu" / "faults.yml").read_text(encoding="utf-8")
    assert "[东山村3组](address)没电了" not in faults
    code, _, err = run(capsys, "relabel", "1", "query_outage_info")
    assert (code, err.strip()) == (
        1,
        "error: '俺们东山村3组没电了' is already an example of query_outage_info",
    )


def test_errors_are_one_line_with_a_status(
    project: NluSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "label", "1", "no_such_intent")
    assert code == 1
    assert err.strip().startswith("error: unknown intent 'no_such_intent'")
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "label", "1", "report_fault", "--entity", "address=西河村")
    assert (code, err.strip()) == (
        1,
        "error: entity address: '西河村' does not occur in the text '俺们东山村3组没电了'",
    )
    code, _, err = run(capsys, "show", "99")
    assert (code, err.strip()) == (1, "error: no inbox item 99")
    code, _, err = run(capsys, "new-intent", "1", "ask_ev", "--response", "TODO")
    assert code == 1
    assert "stub" in err
    with pytest.raises(SystemExit) as usage:
        main(["rollback", "1"])  # --reason is required
    assert usage.value.code == 2


def test_new_intent(project: NluSettings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "new-intent",
        "2",
        "order_takeaway",
        "--response",
        "抱歉，供电所不能帮您点外卖。",
        "--response-en",
        "Sorry, the power station cannot order food for you.",
    )
    assert code == 0, out
    assert out.startswith("new intent order_takeaway: 帮我叫个外卖")


def test_train_deploy_and_roll_back(
    project: NluSettings, capsys: pytest.CaptureFixture[str], rasa: FakeRasa
) -> None:
    assert run(capsys, "label", "1", "report_fault")[0] == 0
    code, out, err = run(capsys, "train")
    assert code == 0, err
    assert "[  3%] training: loading data" in out
    assert "epoch 5/5" in out
    assert "job 1: model 2, macro-F1 0.900" in out
    assert "PASSED the regression guard: deploy with `python -m nlu deploy 2`" in out

    code, out, _ = run(capsys, "models")
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["2", "candidate"]
    assert lines[1].split()[:2] == ["1", "live"]

    code, out, _ = run(capsys, "model", "2")
    assert "macro-F1 0.900 → 0.900 (live model 1)" in out
    assert "report_safety_hazard" in out
    assert "confusion matrix:" in out

    code, out, _ = run(capsys, "deploy", "2")
    assert (code, out.strip()) == (0, "model 2 is live (nlu-" + out.split("(nlu-")[1].strip())
    assert rasa.model_file.startswith("nlu-")

    code, _, err = run(capsys, "rollback", "1", "--reason", "short")
    assert code == 1
    assert "at least 10 characters" in err
    code, out, _ = run(capsys, "rollback", "1", "--reason", "customers complain since the deploy")
    assert code == 0
    assert out.startswith("rolled back: model 1 is live (baseline-")

    code, out, _ = run(capsys, "jobs")
    assert out.split()[:4] == ["1", "train", "succeeded", "100%"]
    code, out, _ = run(capsys, "model", "1")
    assert "rollback by operator1: customers complain since the deploy" in out


def test_a_refused_candidate_exits_3(
    project: NluSettings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    def scores(value: float) -> dict[str, object]:
        row = {"precision": value, "recall": value, "f1-score": value, "support": 12}
        return {"greet": row, "thank": row, "accuracy": value}

    reports = tmp_path / "reports.json"
    reports.write_text(json.dumps({"baseline-": scores(1.0), "nlu-": scores(0.5)}))
    monkeypatch.setenv("FAKE_RASA_REPORTS", str(reports))
    code, out, _ = run(capsys, "train")
    assert code == 3
    assert "REFUSED by the regression guard:" in out
    assert "  - macro-F1 dropped from 1.000 to 0.500 (more than the allowed 0.030)" in out
    assert "python -m nlu deploy 2 --override-reason" in out
    code, _, err = run(capsys, "deploy", "2")
    assert (code, "at least 10 characters" in err) == (1, True)
    code, out, _ = run(capsys, "deploy", "2", "--override-reason", "new slang, holdout is old")
    assert code == 0


def test_cross_validation(project: NluSettings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "train", "--cross-validation")
    assert code == 0
    assert "job 1: macro-F1 0.900" in out
    assert "cross-validation-job1/intent_confusion_matrix.png" in out
