"""Running the `rasa` command of the Python 3.10 environment as a child process, or a module of
rasa_addons with that environment's interpreter (`addons_command`).

The environment is the one scripts/lib.sh gives Rasa: no PYTHONPATH (our Python 3.11 code is
not importable from Rasa's 3.10 interpreter), no telemetry, quiet TensorFlow, and the training
cache under the project (.rasa/cache, where `make train` keeps it) so a retraining after an
NLU-only change reuses the dialogue components trained before. A module of rasa_addons gets the
repository as its PYTHONPATH, and only it: the project it runs in (its working directory, where
Rasa looks for custom components too) may be a copy without rasa_addons.

And no secrets: training and validating read files, nothing else, yet the process that starts
them (the gateway, for the console's NLU page) holds the database password, the Telegram token
and the API tokens. A child would inherit them all, and anything it runs or writes (a crash
report, a dumped environment) could leak them; so they are left out (`without_secrets`, the
same rule as scripts/lib.sh's for the servers `make run` starts).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from nlu.settings import REPO_ROOT, NluSettings

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY|AES_KEY|DATABASE_URL|REDIS_URL",
    re.IGNORECASE,
)
"""A variable whose name says it holds a secret (a database or Redis URL may hold a password)."""
URL_WITH_PASSWORD = re.compile(r"://[^/@\s:]*:[^/@\s]*@")
"""A value that is a URL with a password in it, whatever the variable's name."""


def is_secret(name: str, value: str) -> bool:
    return bool(SECRET_NAME.search(name) or URL_WITH_PASSWORD.search(value))


def without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the variables that hold secrets."""
    return {k: v for k, v in environ.items() if not is_secret(k, v)}


def rasa_env(settings: NluSettings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of `rasa train` / `rasa data validate`: this process's, without
    PYTHONPATH and secrets, plus Rasa's settings and `extra`."""
    env = {k: v for k, v in without_secrets(os.environ).items() if k != "PYTHONPATH"}
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


def addons_command(settings: NluSettings, module: str, *args: str | Path) -> list[str]:
    """`python -m MODULE ARGS` with Rasa's interpreter (MODULE: one of rasa_addons)."""
    return [str(settings.rasa_python), "-m", module, *(str(a) for a in args)]


def addons_env(settings: NluSettings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """`rasa_env` for `addons_command`: rasa_addons importable from the repository."""
    return rasa_env(settings, {**(extra or {}), "PYTHONPATH": str(REPO_ROOT)})


def clean_output(text: str) -> str:
    """Rasa's output without colours; tqdm's carriage-return redraws become separate lines."""
    return ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
