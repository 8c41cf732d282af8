"""`rasa train`, then `rasa test nlu` of the model it wrote, in one Rasa process.

The operators' retraining loop (nlu/training.py) trains a candidate and evaluates it on the
held-out set. As two `rasa` commands, the evaluation started cold: Python, TensorFlow and Rasa
imported again and the model loaded in a fresh process, ~20 s more than in the process that had
just trained (32 s against 12 s, the small model of
tests/e2e/test_training_and_evaluation_in_one_process.py on 2 cores).
Here the two commands run one after the other in the same interpreter,
each as the `rasa` executable runs it (Rasa's own `main()`: its argument parser, logging, output
and error handling), and each with Jieba's dictionary as a new process has it
(`forget_jieba_words`):

    python -m rasa_addons.train_then_test train ARGS... -- test nlu ARGS...

The first command is a `rasa train` with --fixed-model-name: the model is <--out>/<name>.tar.gz,
as Rasa names it. The second is a `rasa test nlu` without --model: the model the training wrote
is added. The evaluation runs only when the training exited 0 and wrote that file; a line
starting with EVALUATING is printed before it, so that the caller's progress can move on from
training to evaluating.

Exit status: 0, both ran; EVALUATION_FAILED (3), the model was trained but its evaluation
failed; any other, the training failed and nothing was evaluated (Rasa's own status, 1 when it
wrote no model, 2 for arguments this launcher cannot split).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

EVALUATING = "rasa_addons.train_then_test: evaluating the trained model"
"""Printed (then ': rasa test nlu ...') between the training and the evaluation; nlu/training.py
looks for it (its own copy: nlu may not import rasa_addons)."""
EVALUATION_FAILED = 3
TRAINING_FAILED = 1
USAGE = 2
DEFAULT_OUT = "models"
"""Rasa's --out when none is given (rasa.shared.constants.DEFAULT_MODELS_PATH)."""

Command = Callable[[list[str]], int]
"""Runs one `rasa` command line (without 'rasa'), returning its exit status."""


class UsageError(ValueError):
    """Arguments this launcher cannot split into a training and an evaluation."""


def rasa_command(argv: list[str]) -> int:
    """`rasa ARGV` in this process, as the `rasa` executable runs it; its exit status."""
    from rasa.__main__ import main as rasa_main  # Rasa's environment only

    forget_jieba_words()
    sys.argv = ["rasa", *argv]
    try:
        rasa_main()
    except SystemExit as stop:
        return exit_status(stop.code)
    except Exception:
        traceback.print_exc()  # what the interpreter prints of an uncaught exception
        return 1
    return 0


def forget_jieba_words() -> None:
    """Jieba's dictionary as a new process has it. Rasa's JiebaTokenizer adds its user
    dictionary (nlu/dict) to Jieba's one global tokenizer whenever it is created or loaded, and
    each word added counts again into the total Jieba's word probabilities divide by: after
    the training created it, the evaluation's load of the model would add the words a second
    time and split some texts otherwise than a new process (`rasa run`, or the evaluation as a
    command of its own) does: 增溶怎么办理 was answered differently. A no-op before Jieba is
    imported."""
    jieba = sys.modules.get("jieba")
    if jieba is not None:
        jieba.dt.__init__(jieba.dt.dictionary)  # the tokenizer Jieba's functions are bound to


def exit_status(code: object) -> int:
    """The status `sys.exit(code)` ends a process with."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def split(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """The `rasa train` and the `rasa test nlu` command lines, on either side of '--'."""
    if "--" not in argv:
        raise UsageError("expected: train ARGS... -- test nlu ARGS...")
    cut = list(argv).index("--")
    train, test = list(argv[:cut]), list(argv[cut + 1 :])
    if train[:1] != ["train"]:
        raise UsageError(f"the first command must be 'train', not {' '.join(train[:1])!r}")
    if test[:2] != ["test", "nlu"]:
        raise UsageError(f"the second command must be 'test nlu', not {' '.join(test[:2])!r}")
    if any(a in ("--model", "-m") or a.startswith("--model=") for a in test):
        raise UsageError("the evaluation's --model is the trained model: leave it out")
    return train, test


def trained_model(train: Sequence[str]) -> Path:
    """The file `rasa train` writes: <--out>/<--fixed-model-name>, named as Rasa names it
    (rasa.model_training._determine_model_name)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--fixed-model-name")
    known, _ = parser.parse_known_args(list(train[1:]))
    if not known.fixed_model_name:
        raise UsageError("the training needs --fixed-model-name (which model to evaluate)")
    name = Path(known.fixed_model_name)
    if not name.name.endswith(".tar.gz"):
        name = Path(name.with_suffix(".tar.gz").name)
    return Path(known.out, name)


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is written anew (None: there is none)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def main(argv: Sequence[str] | None = None, run: Command = rasa_command) -> int:
    """Train, then evaluate what was trained; the exit status (see the module's doc)."""
    try:
        train, test = split(sys.argv[1:] if argv is None else argv)
        model = trained_model(train)
    except UsageError as error:
        print(f"rasa_addons.train_then_test: {error}", file=sys.stderr)
        return USAGE
    before = _signature(model)
    status = run(train)
    if status != 0:
        return TRAINING_FAILED if status == EVALUATION_FAILED else status
    if _signature(model) in (None, before):
        print(f"rasa_addons.train_then_test: rasa train wrote no {model}", file=sys.stderr)
        return TRAINING_FAILED
    evaluation = [*test, "--model", os.fspath(model)]
    sys.stderr.flush()
    print(f"{EVALUATING}: rasa {' '.join(evaluation)}", flush=True)
    return 0 if run(evaluation) == 0 else EVALUATION_FAILED


if __name__ == "__main__":
    sys.exit(main())
