"""Settings of the operators' retraining loop: conf/nlu.yml plus where the project's files are.

The numbers (inbox threshold, guard margins, folds) are configuration in conf/nlu.yml; the
places come from the environment so that tests and deployments can point the loop at a copy
of the project:

- `NLU_PROJECT_DIR`: the folder with data/, domain.yml, config.yml and the held-out set
  (default: this repository).
- `NLU_TRAIN_CONFIG`: the Rasa config a retraining uses (default: the project's config.yml);
  tests use a small, fast one.
- `NLU_MODELS_DIR`: where the registry keeps its models and models/current.tar.gz is
  (default: <project>/models).
- `RASA_BIN`: the `rasa` executable of the Python 3.10 environment
  (default: <repository>/.venv-rasa/bin/rasa); its interpreter is the `python` beside it.
- `CONF_DIR`: the folder with nlu.yml (default: <repository>/conf).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from store.configuration.yamlfile import ConfigError, Node, read_yaml

FILE_NAME = "nlu.yml"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class InboxSettings:
    confidence_below: float
    fallback_intents: frozenset[str]
    before_handoff: int
    group_similarity: float
    context_messages: int


@dataclass(frozen=True)
class TrainingSettings:
    holdout: Path
    cross_validation_folds: int
    keep_models: int
    finetune_epoch_fraction: float
    """0: every retraining from scratch; else the fraction of epochs a finetuning runs."""


@dataclass(frozen=True)
class GuardSettings:
    max_macro_f1_drop: float
    max_recall_drop: float
    min_override_reason: int


@dataclass(frozen=True)
class NluSettings:
    inbox: InboxSettings
    training: TrainingSettings
    guard: GuardSettings
    project_dir: Path
    """data/, domain.yml, config.yml: what operators edit and training reads."""
    train_config: Path
    models_dir: Path
    rasa_bin: Path

    @property
    def data_dir(self) -> Path:
        return self.project_dir / "data"

    @property
    def domain_file(self) -> Path:
        return self.project_dir / "domain.yml"

    @property
    def rasa_python(self) -> Path:
        """The interpreter of Rasa's environment: the `python` beside `rasa` (RASA_BIN)."""
        return self.rasa_bin.parent / "python"

    @property
    def registry_dir(self) -> Path:
        """Where the registry's model files are (models/registry)."""
        return self.models_dir / "registry"

    @property
    def current_model(self) -> Path:
        """The file `make run` starts Rasa with (scripts/lib.sh MODEL)."""
        return self.models_dir / "current.tar.gz"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> NluSettings:
        env = os.environ if env is None else env
        conf_dir = Path(env["CONF_DIR"]) if env.get("CONF_DIR") else REPO_ROOT / "conf"
        project = Path(env.get("NLU_PROJECT_DIR") or REPO_ROOT).resolve()
        root = read_yaml(conf_dir / FILE_NAME)
        inbox, training, guard = root["inbox"], root["training"], root["guard"]
        holdout = Path(training["holdout"].as_str())
        return cls(
            inbox=InboxSettings(
                confidence_below=_fraction(inbox["confidence_below"]),
                fallback_intents=frozenset(n.as_str() for n in inbox["fallback_intents"].as_list()),
                before_handoff=inbox["before_handoff"].as_int(minimum=0),
                group_similarity=_fraction(inbox["group_similarity"]),
                context_messages=inbox["context_messages"].as_int(minimum=0),
            ),
            training=TrainingSettings(
                holdout=holdout if holdout.is_absolute() else project / holdout,
                cross_validation_folds=training["cross_validation_folds"].as_int(minimum=2),
                keep_models=training["keep_models"].as_int(minimum=2),
                finetune_epoch_fraction=_fraction(training["finetune_epoch_fraction"]),
            ),
            guard=GuardSettings(
                max_macro_f1_drop=_fraction(guard["max_macro_f1_drop"]),
                max_recall_drop=_fraction(guard["max_recall_drop"]),
                min_override_reason=guard["min_override_reason"].as_int(minimum=1),
            ),
            project_dir=project,
            train_config=Path(env.get("NLU_TRAIN_CONFIG") or project / "config.yml").resolve(),
            models_dir=Path(env.get("NLU_MODELS_DIR") or project / "models").resolve(),
            rasa_bin=Path(env.get("RASA_BIN") or REPO_ROOT / ".venv-rasa" / "bin" / "rasa"),
        )


def _fraction(node: Node) -> float:
    value = node.as_decimal()
    if not Decimal(0) <= value <= Decimal(1):
        node.fail("a number from 0 to 1")
    return float(value)


__all__ = [
    "ConfigError",
    "GuardSettings",
    "InboxSettings",
    "NluSettings",
    "TrainingSettings",
]
