"""A throw-away copy of the project for the NLU loop's tests: they edit data/ and domain.yml,
train and deploy, and must never touch the repository's own files."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from nlu import inbox
from nlu.settings import NluSettings

ROOT = Path(__file__).resolve().parents[2]
#: What the loop reads: the training inputs (scripts/train.sh), the held-out set, conf/nlu.yml.
COPIED = (
    "config.yml",
    "domain.yml",
    "data",
    "nlu/dict",
    "requirements/rasa.in",
    "tests/nlu/holdout.yml",
    "tests/nlu_fast_config.yml",
    "conf/nlu.yml",
)


_BLOCK = re.compile(r"^(\s*)- (intent|regex|lookup|synonym):")
_ITEM = re.compile(r"^(\s*)- ")


def thin_examples(text: str, keep: int) -> str:
    """An NLU data file with only the first `keep` examples of each intent block; everything
    else (comments, regexes, lookups, synonyms) as it was."""
    out, block_indent, kept = [], None, 0
    for line in text.splitlines(keepends=True):
        block = _BLOCK.match(line)
        if block is not None:
            block_indent = len(block.group(1)) if block.group(2) == "intent" else None
            kept = 0
        elif block_indent is not None:
            item = _ITEM.match(line)
            if item is not None and len(item.group(1)) > block_indent:
                kept += 1
                if kept > keep:
                    continue
        out.append(line)
    return "".join(out)


def copy_project(target: Path) -> Path:
    """Copy the loop's inputs into `target` (a new folder) and return it."""
    for name in COPIED:
        source = ROOT / name
        if not source.exists():
            continue
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination)
        else:
            shutil.copy2(source, destination)
    return target


def project_settings(
    project: Path, rasa_bin: Path | None = None, extra: Mapping[str, str] | None = None
) -> NluSettings:
    """Settings pointing at the copy: its conf/, models/ and (optionally) a fake rasa."""
    env = {
        "CONF_DIR": str(project / "conf"),
        "NLU_PROJECT_DIR": str(project),
        "NLU_MODELS_DIR": str(project / "models"),
        "RASA_BIN": str(rasa_bin or ROOT / ".venv-rasa" / "bin" / "rasa"),
        **(extra or {}),
    }
    return NluSettings.load(env)


def make_fake_rasa(directory: Path) -> Path:
    """An executable `rasa` that runs tests/fakes/rasa_cli.py with this interpreter, and the
    `python` beside it (Rasa's interpreter, for rasa_addons.train_then_test)."""
    directory.mkdir(parents=True, exist_ok=True)
    fake = Path(__file__).resolve().parent / "rasa_cli.py"
    for name, first in (("python", ' "--python"'), ("rasa", "")):
        script = directory / name
        script.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{fake}"{first} "$@"\n', encoding="utf-8"
        )
        script.chmod(0o755)
    return directory / "rasa"


def add_inbox_item(
    session: Session, settings: NluSettings, text: str, predicted: str, now: datetime
) -> int:
    """A customer message the bot understood badly (confidence 0.3), in the NLU inbox."""
    item = inbox.add_hit(
        session,
        message_id=None,
        conversation_id="api:c1",
        text=text,
        reason="low_confidence",
        predicted_intent=predicted,
        confidence=0.3,
        settings=settings.inbox,
        now=now,
    )
    assert item is not None
    return item.id
