"""rasa_addons/train_then_test.py's sequence: `rasa train`, then `rasa test nlu` of the model it
wrote, and exit statuses that tell a failed training from a failed evaluation. Rasa's commands
are given here by a recorder; the loop runs the module through the fake `rasa` commands
(tests/integration/test_nlu_loop.py) and with real Rasa
(tests/e2e/test_training_and_evaluation_in_one_process.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nlu import training
from rasa_addons import train_then_test
from rasa_addons.train_then_test import EVALUATING, EVALUATION_FAILED, main, trained_model


@dataclass
class Rasa:
    """Rasa's commands: `train` writes <--out>/<name>.tar.gz unless told otherwise."""

    out: Path
    train_status: int = 0
    writes_model: bool = True
    test_status: int = 0
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        if argv[0] == "train":
            if self.writes_model:
                (self.out / "nlu-1.tar.gz").write_bytes(b"model")
            return self.train_status
        return self.test_status


def args(out: Path) -> list[str]:
    return [
        "train", "--config", "c.yml", "--out", str(out), "--fixed-model-name", "nlu-1",
        "--skip-validation", "--", "test", "nlu", "--nlu", "holdout.yml", "--out", "results",
    ]  # fmt: skip


def test_the_model_the_training_wrote_is_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rasa = Rasa(tmp_path)
    assert main(args(tmp_path), run=rasa) == 0
    model = str(tmp_path / "nlu-1.tar.gz")
    assert rasa.calls == [
        ["train", "--config", "c.yml", "--out", str(tmp_path), "--fixed-model-name", "nlu-1",
         "--skip-validation"],
        ["test", "nlu", "--nlu", "holdout.yml", "--out", "results", "--model", model],
    ]  # fmt: skip
    said = capsys.readouterr().out.splitlines()
    assert said == [f"{EVALUATING}: rasa test nlu --nlu holdout.yml --out results --model {model}"]


def test_the_loop_looks_for_the_same_line_and_status() -> None:
    """nlu/training.py may not import rasa_addons: its copies must match."""
    assert training.EVALUATING == EVALUATING
    assert training.EVALUATION_FAILED == EVALUATION_FAILED
    assert train_then_test.__name__ == training.TRAIN_THEN_TEST


@pytest.mark.parametrize("status", [1, 2, EVALUATION_FAILED])
def test_a_failed_training_is_not_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    rasa = Rasa(tmp_path, train_status=status)
    code = main(args(tmp_path), run=rasa)
    assert code != 0
    assert code != EVALUATION_FAILED  # Rasa's own status, unless it reads as the evaluation's
    assert code == (status if status != EVALUATION_FAILED else 1)
    assert [c[0] for c in rasa.calls] == ["train"]
    assert EVALUATING not in capsys.readouterr().out


def test_a_training_that_wrote_no_model_is_a_failed_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nlu-1.tar.gz").write_bytes(b"an older model")  # there, but not written now
    rasa = Rasa(tmp_path, writes_model=False)
    assert main(args(tmp_path), run=rasa) == 1
    assert [c[0] for c in rasa.calls] == ["train"]
    said = capsys.readouterr()
    assert EVALUATING not in said.out
    assert said.err.strip().endswith(f"rasa train wrote no {tmp_path / 'nlu-1.tar.gz'}")


def test_a_failed_evaluation_has_its_own_status(tmp_path: Path) -> None:
    rasa = Rasa(tmp_path, test_status=1)
    assert main(args(tmp_path), run=rasa) == EVALUATION_FAILED
    assert [c[0] for c in rasa.calls] == ["train", "test"]


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["train", "--fixed-model-name", "m"], "expected: train ARGS... -- test nlu"),
        (["run", "--", "test", "nlu"], "the first command must be 'train'"),
        (["train", "--fixed-model-name", "m", "--", "test", "core"], "must be 'test nlu'"),
        (["train", "--fixed-model-name", "m", "--", "test", "nlu", "--model", "x"], "leave it"),
        (["train", "--fixed-model-name", "m", "--", "test", "nlu", "-m", "x"], "leave it"),
        (["train", "--out", "models", "--", "test", "nlu"], "needs --fixed-model-name"),
    ],
)
def test_arguments_it_cannot_split_run_nothing(
    argv: list[str], why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rasa = Rasa(tmp_path)
    assert main(argv, run=rasa) == 2
    assert rasa.calls == []
    assert why in capsys.readouterr().err


@pytest.mark.parametrize(
    ("train", "model"),
    [
        (["train", "--out", "reg", "--fixed-model-name", "nlu-1"], "reg/nlu-1.tar.gz"),
        (["train", "--out=reg", "--fixed-model-name=nlu-1.tar.gz"], "reg/nlu-1.tar.gz"),
        (["train", "--fixed-model-name", "nlu-1"], "models/nlu-1.tar.gz"),  # Rasa's default
        (["train", "--fixed-model-name", "sub/nlu-1"], "models/nlu-1.tar.gz"),  # as Rasa does
        (["train", "--finetune", "old.tar.gz", "--fixed-model-name", "a.b"], "models/a.tar.gz"),
    ],
)
def test_the_model_is_where_rasa_writes_it(train: list[str], model: str) -> None:
    assert trained_model(train) == Path(model)
