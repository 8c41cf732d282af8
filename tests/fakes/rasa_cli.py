"""A fake `rasa` command for the NLU loop's tests (set as RASA_BIN through `make_fake_rasa`).

It answers the three commands the loop runs, with Rasa 3.6's output shapes and files:

- `data validate ...`: Rasa's log lines and the expected "not used in any story or rule"
  warning; FAKE_RASA_VALIDATE=fail adds a real problem (a UserWarning; exit status 0, as Rasa);
- `train --out DIR --fixed-model-name NAME ...`: component log lines and tqdm's "Epochs:" bar
  (carriage returns) over FAKE_RASA_EPOCHS epochs of FAKE_RASA_EPOCH_SECONDS, then
  DIR/NAME.tar.gz (a real tar.gz); FAKE_RASA_TRAIN=fail exits 1 halfway, =hang never ends;
  with `--finetune MODEL`: Rasa's "No model for finetuning found" when MODEL is missing, and
  with FAKE_RASA_FINETUNE=refuse its InvalidConfigException for a changed label set;
- `test nlu --nlu FILE_OR_DIR --out DIR [--model M | --cross-validation ...]`:
  DIR/intent_report.json and DIR/intent_confusion_matrix.png. The report is FAKE_RASA_REPORTS
  (a JSON file: the model file name or its beginning (the longest that matches), or
  "cross-validation", → report; "*" for any other), else every intent of the test data at 0.9;
  FAKE_RASA_TEST=fail: Rasa's error for a model it cannot load, exit status 1.

And, as Rasa's `python` (`make_fake_rasa` puts it beside `rasa`), `-m rasa_addons.train_then_test
ARGS`: the real module, importable from the PYTHONPATH nlu.rasa_cli.addons_env gives it, running
the commands above in this process instead of Rasa's.

Every command appends {"argv", "cwd", "env", "env_names", "pid"} as a JSON line to FAKE_RASA_LOG
when it is set.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import yaml

# the smallest valid PNG (1x1, transparent)
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
WARNING = (
    "\x1b[93m/venv/lib/python3.10/site-packages/rasa/shared/utils/io.py:100: UserWarning: {}\n"
    "  More info at https://rasa.com/docs/rasa/domain\n\x1b[0m"
)


def fake_model(path: Path, content: bytes = b"model") -> Path:
    """A model file as `rasa train` leaves it: a real tar.gz (with a metadata.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        member = tarfile.TarInfo("metadata.json")
        member.size = len(content)
        archive.addfile(member, io.BytesIO(content))
    return path


def option(args: list[str], name: str, default: str | None = None) -> str | None:
    return args[args.index(name) + 1] if name in args else default


def log_call(args: list[str]) -> None:
    path = os.environ.get("FAKE_RASA_LOG")
    if path:
        keep = ("PYTHONPATH", "RASA_TELEMETRY_ENABLED", "RASA_CACHE_DIRECTORY")
        record = {
            "argv": args,
            "cwd": os.getcwd(),
            "env": {k: os.environ[k] for k in keep if k in os.environ},
            "env_names": sorted(os.environ),  # which variables it got (secrets: none)
            "pid": os.getpid(),  # the process: train_then_test runs two commands in one
        }
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def info(message: str, module: str = "rasa.engine.training.hooks") -> None:
    print(f"2026-11-26 05:00:00 INFO     {module}  - {message}", flush=True)


def validate() -> int:
    info("Validating intents...", "rasa.validator")
    sys.stdout.write(WARNING.format("The intent 'greet' is not used in any story or rule."))
    if os.environ.get("FAKE_RASA_VALIDATE") == "fail":
        sys.stdout.write(
            WARNING.format(
                "The example '电费' was found labeled with multiple different intents in the"
                " training data. Each annotated message should only appear with one intent."
                " You should fix that conflict The example is labeled with: greet, query_bill."
            )
        )
    info("No story structure conflicts found.", "rasa.validator")
    return 0


def train(args: list[str]) -> int:
    out = Path(option(args, "--out") or "models")
    name = option(args, "--fixed-model-name") or "model"
    epochs = int(os.environ.get("FAKE_RASA_EPOCHS", "5"))
    delay = float(os.environ.get("FAKE_RASA_EPOCH_SECONDS", "0.01"))
    mode = os.environ.get("FAKE_RASA_TRAIN", "")
    refused = finetune_refused(option(args, "--finetune"))
    if refused:
        print(refused, file=sys.stderr)
        return 1
    for component in ("JiebaTokenizer", "RegexFeaturizer", "CountVectorsFeaturizer"):
        info(f"Starting to train component '{component}'.")
        info(f"Finished training component '{component}'.")
    info("Starting to train component 'DIETClassifier'.")
    for epoch in range(epochs + 1):
        percent = epoch * 100 // epochs
        sys.stderr.write(
            f"\rEpochs: {percent:3d}%|{'█' * (percent // 10):<10}| {epoch}/{epochs}"
            f" [00:0{epoch}<00:05,  1.00s/it, t_loss=3.21, i_acc=0.{epoch}]"
        )
        sys.stderr.flush()
        if mode == "fail" and epoch == epochs // 2:
            print("\nValueError: the fake training failed on purpose", file=sys.stderr)
            return 1
        if mode == "hang" and epoch == 1:
            time.sleep(3600)
        time.sleep(delay)
    sys.stderr.write("\n")
    info("Finished training component 'DIETClassifier'.")
    info("Restored component 'MemoizationPolicy' from cache.")
    model = fake_model(out / f"{name}.tar.gz", f"fake model {name} {time.time()}".encode())
    print(f"Your Rasa model is trained and saved at '{model}'.", flush=True)
    return 0


def finetune_refused(model: str | None) -> str | None:
    """Rasa's own error when a finetuning cannot start (None: it can, or none was asked for)."""
    if model is None:
        return None
    if not Path(model).is_file():
        return (
            "rasa.shared.exceptions.SchemaValidationError: No model for finetuning found."
            " Please make sure to either specify a path to a previous model or to have a"
            " finetunable model within the directory 'models'."
        )
    if os.environ.get("FAKE_RASA_FINETUNE") == "refuse":
        return (
            "rasa.shared.exceptions.InvalidConfigException: Cannot finetune because more"
            " than just the 'epoch' keys have been changed, or because new labels were added."
        )
    return None


def intents_of(path: Path) -> dict[str, int]:
    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    counts: dict[str, int] = {}
    for file in files:
        for block in yaml.safe_load(file.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" in block:
                lines = [x for x in str(block.get("examples", "")).splitlines() if x.strip()]
                counts[block["intent"]] = counts.get(block["intent"], 0) + len(lines)
    return counts


def default_report(counts: dict[str, int]) -> dict[str, Any]:
    report: dict[str, Any] = {
        name: {"precision": 0.9, "recall": 0.9, "f1-score": 0.9, "support": n, "confused_with": {}}
        for name, n in counts.items()
    }
    total = sum(counts.values())
    report["accuracy"] = 0.9
    for key in ("macro avg", "weighted avg"):
        report[key] = {"precision": 0.9, "recall": 0.9, "f1-score": 0.9, "support": total}
    return report


def test_nlu(args: list[str]) -> int:
    out = Path(option(args, "--out") or "results")
    data = Path(option(args, "--nlu") or "data")
    key = (
        "cross-validation"
        if "--cross-validation" in args
        else Path(option(args, "--model") or "").name
    )
    if key != "cross-validation" and not Path(option(args, "--model") or "").is_file():
        print(f"ModelNotFound: no model at {option(args, '--model')}", file=sys.stderr)
        return 1
    if os.environ.get("FAKE_RASA_TEST") == "fail":
        print("ValueError: the fake evaluation failed on purpose", file=sys.stderr)
        return 1
    reports_file = os.environ.get("FAKE_RASA_REPORTS")
    reports = json.loads(Path(reports_file).read_text()) if reports_file else {}
    prefixes = sorted((k for k in reports if key.startswith(k)), key=len, reverse=True)
    report = reports[prefixes[0]] if prefixes else reports.get("*")
    report = report or default_report(intents_of(data))
    out.mkdir(parents=True, exist_ok=True)
    (out / "intent_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "intent_confusion_matrix.png").write_bytes(PNG)
    info("Intent evaluation results:", "rasa.nlu.test")
    return 0


def python(args: list[str]) -> int:
    """Rasa's interpreter: `-m rasa_addons.train_then_test ARGS` only."""
    if args[:2] != ["-m", "rasa_addons.train_then_test"]:
        print(f"fake python: unsupported arguments {args}", file=sys.stderr)
        return 2
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p != here]  # its rasa.py (a fake server) is no Rasa
    from rasa_addons import train_then_test  # on the PYTHONPATH, as in Rasa's interpreter

    return train_then_test.main(args[2:], run=main)


def main(args: list[str]) -> int:
    if args[:1] == ["--python"]:
        return python(args[1:])
    log_call(args)
    if args[:2] == ["data", "validate"]:
        return validate()
    if args[:1] == ["train"]:
        return train(args)
    if args[:2] == ["test", "nlu"]:
        return test_nlu(args)
    print(f"fake rasa: unsupported command {args}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
