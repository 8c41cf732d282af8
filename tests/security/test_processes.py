"""The processes `make run` starts: no token in any command line (`ps` shows every user the
command lines of every process), and each process holds only the secrets it uses.

Checked on real processes: Rasa's server started through rasa_addons/serve.py as run.sh starts
it, the environments run.sh's `unset_secrets` (scripts/lib.sh) gives each server, and the
environment the NLU loop gives `rasa` (the fake `rasa` records what it got).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlu import training
from nlu.settings import NluSettings
from nlu.validate import run_validation
from tests.fakes.nlu_project import copy_project, make_fake_rasa, project_settings
from tests.processes import RASA_PYTHON, ROOT, free_port, stop

RUN_SH = ROOT / "scripts" / "run.sh"
START_TIMEOUT = 180.0
"""Seconds Rasa may take to start without a model on a loaded machine (usually ~10)."""

#: Secrets of every kind that may be in the environment `make run` is started from.
SECRETS = {
    "DATABASE_URL": "postgresql+psycopg://assistant:db-pass-1@127.0.0.1/assistant",
    "RASA_TOKEN": "rasa-token-" + "1" * 20,
    "ACTION_SERVER_TOKEN": "action-token-" + "2" * 20,
    "GATEWAY_API_TOKEN": "api-token-" + "3" * 20,
    "HEALTH_TOKEN": "health-token-" + "4" * 20,
    "TELEGRAM_BOT_TOKEN": "123456:telegram-" + "5" * 20,
    "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-" + "6" * 20,
    "WECHAT_APP_SECRET": "0f8e6c1b2a3d4e5f" + "a" * 16,
    "WECHAT_TOKEN": "wxToken" + "b" * 10,
    "WECHAT_ENCODING_AES_KEY": "c" * 43,
    "DEMO_AGENT_PASSWORD": "demo-pass-" + "7" * 10,
    "REDIS_URL": "redis://:redis-pass-8@127.0.0.1:6379/0",
    "REDIS_PASSWORD": "redis-pass-8",
    "SOME_BACKUP_URL": "s3://backup:s3-pass-9@store.example/bucket",
}
PLAIN = {"CONF_DIR": "conf", "GATEWAY_PORT": "8080", "RASA_TRACKER_DB": "var/rasa-tracker.db"}


def run_sh_list(name: str) -> set[str]:
    """A `NAME="A B C"` list of scripts/run.sh."""
    match = re.search(rf'^{name}="([^"]*)"$', RUN_SH.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{name} is not set in scripts/run.sh"
    return set(match.group(1).split())


def environment_given(keep: set[str]) -> dict[str, str]:
    """The environment a process gets when run.sh starts it with `unset_secrets "<keep>"`."""
    script = '. scripts/lib.sh; unset_secrets "$1"; exec env "${UNSET[@]}" "$2" -c "$3"'
    dump = "import json, os; print(json.dumps(dict(os.environ)))"
    env = {**os.environ, **SECRETS, **PLAIN}
    done = subprocess.run(
        ["bash", "-c", script, "bash", " ".join(sorted(keep)), sys.executable, dump],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    given: dict[str, str] = json.loads(done.stdout)
    return given


@pytest.mark.parametrize(
    ("server", "needs"),
    [
        ("RASA_SECRETS", {"RASA_TOKEN", "ACTION_SERVER_TOKEN", "REDIS_PASSWORD"}),
        ("ACTION_SECRETS", {"DATABASE_URL", "ACTION_SERVER_TOKEN"}),
        (
            "GATEWAY_SECRETS",
            {
                "DATABASE_URL",
                "RASA_TOKEN",
                "GATEWAY_API_TOKEN",
                "HEALTH_TOKEN",
                "TELEGRAM_BOT_TOKEN",
                "TELEGRAM_WEBHOOK_SECRET",
                "WECHAT_APP_SECRET",
                "WECHAT_TOKEN",
                "WECHAT_ENCODING_AES_KEY",
            },
        ),
    ],
)
def test_each_server_gets_only_its_secrets(server: str, needs: set[str]) -> None:
    given = environment_given(run_sh_list(server))
    assert {name for name in SECRETS if name in given} == needs
    assert {name: given[name] for name in PLAIN} == PLAIN  # the rest is left alone


def _secret_names_read_by(*packages: str) -> set[str]:
    """Environment variables with a secret's name that the packages' code mentions."""
    pattern = re.compile(r'"([A-Z][A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|AES_KEY|DATABASE_URL))"')
    names: set[str] = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return names


@pytest.mark.parametrize(
    ("server", "packages"),
    [("GATEWAY_SECRETS", ("bot",)), ("ACTION_SECRETS", ("actions",))],
)
def test_no_server_misses_a_secret_its_code_reads(server: str, packages: tuple[str, ...]) -> None:
    """A secret added to the code must be added to run.sh's list too, or `make run` breaks."""
    read = _secret_names_read_by(*packages) - {"TEST_DATABASE_URL"}
    assert read <= run_sh_list(server) | {"DATABASE_URL"}


def test_rasa_gets_the_secrets_its_endpoints_fill_in() -> None:
    endpoints = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    filled = set(re.findall(r"\$\{([A-Z_]+)\}", endpoints))
    secret = {n for n in filled if re.search(r"TOKEN|SECRET|PASSWORD|URL", n)} - {
        "ACTION_ENDPOINT_URL"
    }
    assert secret <= run_sh_list("RASA_SECRETS")


def test_the_nlu_loop_starts_rasa_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rasa data validate` / `rasa train` from the console's NLU page (the gateway's process,
    which holds every secret) get none of them."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FAKE_RASA_LOG", str(tmp_path / "calls.jsonl"))
    settings: NluSettings = project_settings(
        copy_project(tmp_path / "project"), make_fake_rasa(tmp_path / "bin")
    )
    assert run_validation(settings).ok
    call = json.loads((tmp_path / "calls.jsonl").read_text().splitlines()[0])
    assert call["argv"][:2] == ["data", "validate"]
    assert not set(SECRETS) & set(call["env_names"])
    assert "RASA_TELEMETRY_ENABLED" in call["env_names"]


async def test_the_nlu_loop_trains_and_evaluates_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A candidate's training and evaluation: one process of Rasa's interpreter
    (rasa_addons/train_then_test.py), with none of the secrets either."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FAKE_RASA_LOG", str(tmp_path / "calls.jsonl"))
    settings: NluSettings = project_settings(
        copy_project(tmp_path / "project"), make_fake_rasa(tmp_path / "bin")
    )
    await training.train_and_evaluate(
        settings,
        "nlu-1",
        tmp_path / "evaluation",
        progress=training.ProgressMap(lambda _stage, _percent: None, 0, 100),
        log=training.LogTail(),
        on_evaluating=lambda: None,
    )
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [call["argv"][:2] for call in calls] == [["train", "--config"], ["test", "nlu"]]
    for call in calls:
        assert not set(SECRETS) & set(call["env_names"])


def test_run_sh_starts_no_process_with_a_secret_on_its_command_line() -> None:
    """Rasa through the launcher, its readiness probe with the URL on curl's stdin."""
    script = RUN_SH.read_text(encoding="utf-8")
    assert "--auth-token" not in script
    assert "rasa_addons.serve" in script
    assert not re.search(r"curl[^\n|]*token=", script)
    for path in ("docker-compose.yml", "scripts/benchstack.py", "tests/e2e/conftest.py"):
        assert "--auth-token" not in (ROOT / path).read_text(encoding="utf-8"), path


def test_run_sh_makes_every_file_owner_only() -> None:
    """The umask is set before anything writes: the stores' SQLite database, Rasa's tracker
    database (Rasa creates it with the umask it inherits), logs, secrets, demo passwords."""
    script = RUN_SH.read_text(encoding="utf-8")
    first_write = min(script.index(s) for s in ("store migrate", "rasa_addons.serve", "var/log/"))
    assert 0 <= script.find("\numask 077\n") < first_write


def _status(port: int, query: str = "") -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status{query}", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


@pytest.fixture
def rasa_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, str]]:
    """Rasa's server (no model) started as run.sh starts it: rasa_addons.serve, token in the
    environment."""
    if not RASA_PYTHON.exists():
        pytest.skip("needs the Rasa environment (.venv-rasa)")
    port, token = free_port(), secrets.token_urlsafe(24)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TOKEN": token}
    env.update(RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
    args = [str(RASA_PYTHON), "-m", "rasa_addons.serve", "--enable-api", "--interface",
            "127.0.0.1", "--port", str(port), "--model", str(tmp_path / "none")]  # fmt: skip
    with (tmp_path / "rasa.log").open("wb") as log:
        process = subprocess.Popen(  # not in ROOT: no endpoints.yml, credentials.yml
            args, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=5):
                    break
            except OSError:
                assert process.poll() is None, (tmp_path / "rasa.log").read_text()
                assert time.monotonic() < deadline, "Rasa did not start"
                time.sleep(0.5)
        yield process, port, token
    finally:
        stop([process], timeout=30)


@pytest.mark.slow
def test_rasa_runs_with_the_token_but_its_command_line_holds_none(
    rasa_server: tuple[subprocess.Popen[bytes], int, str],
) -> None:
    process, port, token = rasa_server
    command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
    assert "rasa_addons.serve" in command_line
    assert token not in command_line
    assert _status(port) == 401  # the token is required ...
    assert _status(port, f"?token={token}") != 401  # ... and it is this one (409: no model)
