"""Running the `rasa` command of the Python 3.10 environment as a child process.

The environment is the one scripts/lib.sh gives Rasa: no PYTHONPATH (our Python 3.11 code is
not importable from Rasa's 3.10 interpreter), no telemetry, quiet TensorFlow, and the training
cache under the project (.rasa/cache, where `make train` keeps it) so a retraining after an
NLU-only change reuses the dialogue components trained before.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from nlu.settings import NluSettings

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def rasa_env(settings: NluSettings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "PYTHONWARNINGS": env.get("PYTHONWARNINGS", "ignore::DeprecationWarning"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.setdefault("RASA_CACHE_DIRECTORY", str(cache_dir(settings)))
    env.update(extra or {})
    return env


def cache_dir(settings: NluSettings) -> Path:
    """Rasa's training cache: `.rasa/cache` of the project, as `make train` (cwd = project)."""
    return settings.project_dir / ".rasa" / "cache"


def command(settings: NluSettings, *args: str | Path) -> list[str]:
    return [str(settings.rasa_bin), *(str(a) for a in args)]


def clean_output(text: str) -> str:
    """Rasa's output without colours; tqdm's carriage-return redraws become separate lines."""
    return ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
