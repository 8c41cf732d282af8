"""A candidate trained and evaluated in one Rasa process (rasa_addons/train_then_test.py, as the
retraining loop runs it: nlu.training.train_and_evaluate) writes the evaluation the separate
`rasa test nlu` of the same model writes, and a training Rasa refuses is a failed training,
with Rasa's reason and nothing evaluated.

Real Rasa, in a copy of the project with tests/nlu_fast_config.yml and its NLU data thinned to
EXAMPLES_PER_BLOCK examples of each intent block: what is compared is the evaluation's files,
not the model's quality. The loop's own steps around it (the fallback to a training from
scratch, a failed evaluation failing the job) are tested with the fake `rasa`
(tests/integration/test_nlu_loop.py).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from nlu import training
from nlu.settings import NluSettings
from tests.fakes.nlu_project import copy_project, project_settings, thin_examples
from tests.processes import RASA

# trains a model of its own (needs no trained model): `make test` runs it in the retraining lane
pytestmark = pytest.mark.retraining

EXAMPLES_PER_BLOCK = 5
TOLERANCE = 1e-6
"""Numbers of the evaluation's files: labels and counts are the same, but the confidences come
from DIET loaded with rasa_addons' fast load (the one process) or Rasa's own (`rasa test nlu`
with this configuration), the same to within this (tests/e2e/test_model_load.py), and an average
of the report may differ in its last digit (0.6078108428374218 and ...219 in one run)."""


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> NluSettings:
    if not RASA.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(".venv-rasa is missing under CI: run `make setup`")
        pytest.skip("the Rasa environment (.venv-rasa) is not set up: run `make setup`")
    project = copy_project(tmp_path_factory.mktemp("train-then-test") / "project")
    for path in sorted((project / "data" / "nlu").glob("*.yml")):
        path.write_text(thin_examples(path.read_text("utf-8"), EXAMPLES_PER_BLOCK), "utf-8")
    config = project / "tests" / "nlu_fast_config.yml"
    return project_settings(project, RASA, {"NLU_TRAIN_CONFIG": str(config)})


def same(ours: Any, theirs: Any, where: str = "") -> None:
    """Equal JSON, numbers to within TOLERANCE."""
    if isinstance(ours, float) or isinstance(theirs, float):
        assert math.isclose(ours, theirs, rel_tol=0, abs_tol=TOLERANCE), where
    elif isinstance(ours, dict) and isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), where
        for key in ours:
            same(ours[key], theirs[key], f"{where}/{key}")
    elif isinstance(ours, list) and isinstance(theirs, list):
        assert len(ours) == len(theirs), where
        for index, (mine, rasas) in enumerate(zip(ours, theirs, strict=True)):
            same(mine, rasas, f"{where}[{index}]")
    else:
        assert ours == theirs, where


async def test_one_process_writes_the_evaluation_the_two_commands_write(
    settings: NluSettings, tmp_path: Path
) -> None:
    seen: list[tuple[str, int]] = []
    evaluating: list[int] = []
    log = training.LogTail(limit=100_000)
    model, metrics = await training.train_and_evaluate(
        settings,
        "nlu-once",
        training.evaluation_dir(settings, "nlu-once.tar.gz"),
        progress=training.ProgressMap(lambda stage, percent: seen.append((stage, percent)), 3, 80),
        log=log,
        on_evaluating=lambda: evaluating.append(len(seen)),
    )
    assert model.path == settings.registry_dir / "nlu-once.tar.gz"
    assert model.path.is_file()
    assert model.seconds > 0

    # the training's progress, then the evaluation (once, after the model was saved)
    assert any(stage.startswith("training DIET: epoch") for stage, _ in seen)
    assert seen[-1] == ("model saved", 80)
    assert evaluating == [len(seen)]
    lines = log.text().splitlines()
    trained = next(i for i, x in enumerate(lines) if x.startswith(training.TRAINED))
    marker = next(i for i, x in enumerate(lines) if x.startswith(training.EVALUATING))
    assert trained < marker
    assert lines[marker].endswith(f"--model {model.path}")

    # the same model evaluated as the loop did before: `rasa test nlu`, a process of its own
    separate = tmp_path / "separate"
    assert await training.evaluate_model(settings, model.path, separate, log=training.LogTail())
    together = training.evaluation_dir(settings, model.path.name)
    files = sorted(p.name for p in together.iterdir())
    assert files == sorted(p.name for p in separate.iterdir())
    assert {training.REPORT_FILE, training.CONFUSION_MATRIX, "intent_errors.json"} <= set(files)
    for name in files:
        ours, theirs = together / name, separate / name
        if name.endswith(".json"):
            same(json.loads(ours.read_text("utf-8")), json.loads(theirs.read_text("utf-8")), name)
        else:
            assert ours.stat().st_size > 0, name
    same(metrics, training.read_metrics(separate, training.holdout_sha256(settings)), "metrics")


async def test_a_training_rasa_refuses_is_a_failed_training(
    settings: NluSettings, tmp_path: Path
) -> None:
    """Rasa refuses to finetune a model that is not there (the way the loop's finetuning
    fails when Rasa refuses it: the loop then trains from scratch)."""
    out_dir = training.evaluation_dir(settings, "nlu-refused.tar.gz")
    evaluating: list[int] = []
    with pytest.raises(training.TrainingFailed) as failed:
        await training.train_and_evaluate(
            settings,
            "nlu-refused",
            out_dir,
            progress=training.ProgressMap(lambda _stage, _percent: None, 3, 80),
            log=training.LogTail(),
            on_evaluating=lambda: evaluating.append(1),
            finetune=tmp_path / "missing.tar.gz",
        )
    assert str(failed.value).startswith("rasa train failed (exit status 1): ")
    assert "No model for finetuning found" in str(failed.value)
    assert evaluating == []
    assert not (settings.registry_dir / "nlu-refused.tar.gz").exists()
    assert not (out_dir / training.REPORT_FILE).exists()
