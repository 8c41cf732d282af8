"""scripts/train.sh in a scratch copy of the project, with a fake `rasa` that only writes the
model file: when it trains, and that it never trains over a model operators deployed from the
registry (models/current.source)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE_RASA = """#!/usr/bin/env bash
# fake: `rasa train ... --out DIR --fixed-model-name NAME` writes DIR/NAME.tar.gz
while [ $# -gt 0 ]; do
  case "$1" in --out) out="$2"; shift;; --fixed-model-name) name="$2"; shift;; esac; shift
done
echo trained > "$out/$name.tar.gz"
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for name in ("lib.sh", "train.sh"):
        shutil.copy2(ROOT / "scripts" / name, project / "scripts" / name)
    for name in ("config.yml", "domain.yml", "requirements/rasa.in"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(ROOT / "data", project / "data")
    shutil.copytree(ROOT / "nlu" / "dict", project / "nlu" / "dict")
    rasa = project / ".venv-rasa" / "bin" / "rasa"
    rasa.parent.mkdir(parents=True)
    rasa.write_text(FAKE_RASA)
    rasa.chmod(0o755)
    return project


def _train(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # the model cache of the scratch project, never the user's (~/.cache/...)
    cache = str(project.parent / "model-cache")
    return subprocess.run(
        ["bash", str(project / "scripts" / "train.sh")],
        env={**os.environ, "MODEL_CACHE": cache, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip


def test_trains_when_inputs_change_and_never_over_a_registry_model(tmp_path: Path) -> None:
    project = _project(tmp_path)
    model = project / "models" / "current.tar.gz"
    assert "training" in _train(project).stderr
    assert model.read_text() == "trained\n"
    assert "up to date" in _train(project).stderr

    # an operator deployed a model from the registry, then labelled more examples
    model.write_text("operator's model\n")
    (project / "models" / "current.source").write_text("registry nlu-7.tar.gz\n")
    (project / "data" / "nlu" / "operator.yml").write_text('version: "3.1"\nnlu: []\n')
    said = _train(project).stderr
    assert "deployed from the model registry (nlu-7.tar.gz)" in said
    assert model.read_text() == "operator's model\n"

    # FORCE=1 trains anyway, and the model is then no longer the registry's
    _train(project, FORCE="1")
    assert model.read_text() == "trained\n"
    assert not (project / "models" / "current.source").exists()


def test_a_model_of_the_same_inputs_is_restored_from_the_cache(tmp_path: Path) -> None:
    project = _project(tmp_path)
    model = project / "models" / "current.tar.gz"
    assert "training" in _train(project).stderr
    cached = list((tmp_path / "model-cache").glob("*.tar.gz"))
    assert [p.read_text() for p in cached] == ["trained\n"]

    # a fresh clone of the same commit: no models/ at all
    shutil.rmtree(project / "models")
    said = _train(project).stderr
    assert "restored from the cache" in said
    assert "training" not in said
    assert model.read_text() == "trained\n"

    # changed inputs miss the cache; MODEL_CACHE=off and FORCE=1 always train
    (project / "data" / "nlu" / "new.yml").write_text('version: "3.1"\nnlu: []\n')
    assert "training" in _train(project).stderr
    assert len(list((tmp_path / "model-cache").glob("*.tar.gz"))) == 2
    shutil.rmtree(project / "models")
    assert "training" in _train(project, MODEL_CACHE="off").stderr
    assert "training" in _train(project, FORCE="1").stderr
