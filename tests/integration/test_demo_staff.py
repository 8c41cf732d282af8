"""`make run`'s demo staff: every user a password of its own, kept in an owner-only file
(`python -m store demo-users --env-file`, both backends, run in-process)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.cli import main
from store.db import unit_of_work
from store.demo_staff import DEMO_USERS, read_passwords
from store.services import staff
from tests.fakes.console import cheap_password_hashing

USERNAMES = [username for username, *_ in DEMO_USERS]
RUN_SH = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cheap_password_hashing(monkeypatch)
    monkeypatch.delenv("DEMO_AGENT_PASSWORD", raising=False)
    return tmp_path / "var" / "demo-staff.env"


def _logs_in(factory: sessionmaker[Session], username: str, password: str) -> bool:
    with unit_of_work(factory) as session:
        return staff.authenticate(session, username, password) is not None


def test_each_demo_user_gets_its_own_password_kept_owner_only(
    db_url: str,
    session_factory: sessionmaker[Session],
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--url", db_url, "demo-users", "--env-file", str(env_file)]) == 0
    passwords = read_passwords(env_file)
    assert sorted(passwords) == sorted(USERNAMES)
    assert len(set(passwords.values())) == len(USERNAMES)  # no two alike
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    out = capsys.readouterr().out
    assert f"agent1: created (agent), password in {env_file}" in out
    for username, password in passwords.items():
        assert password not in out  # the file (and make run's ready message) shows them
        assert _logs_in(session_factory, username, password)


def test_a_second_run_changes_nothing(
    db_url: str,
    session_factory: sessionmaker[Session],
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--url", db_url, "demo-users", "--env-file", str(env_file)]) == 0
    before = env_file.read_text(encoding="utf-8")
    assert main(["--url", db_url, "demo-users", "--env-file", str(env_file)]) == 0
    assert "supervisor: exists (password unchanged)" in capsys.readouterr().out
    assert env_file.read_text(encoding="utf-8") == before
    assert _logs_in(session_factory, "supervisor", read_passwords(env_file)["supervisor"])


def test_users_on_the_old_shared_password_get_their_own(
    db_url: str,
    session_factory: sessionmaker[Session],
    env_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An earlier `make run` gave all four one password (DEMO_AGENT_PASSWORD= in the file)."""
    monkeypatch.setenv("DEMO_AGENT_PASSWORD", "shared-demo-pw")
    assert main(["--url", db_url, "demo-users"]) == 0
    monkeypatch.delenv("DEMO_AGENT_PASSWORD")
    env_file.parent.mkdir(parents=True)
    env_file.write_text("DEMO_AGENT_PASSWORD=shared-demo-pw\n", encoding="utf-8")
    assert main(["--url", db_url, "demo-users", "--env-file", str(env_file)]) == 0
    passwords = read_passwords(env_file)
    assert sorted(passwords) == sorted(USERNAMES)  # the shared one is gone from the file
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    for username in USERNAMES:
        assert not _logs_in(session_factory, username, "shared-demo-pw")
        assert _logs_in(session_factory, username, passwords[username])


def test_demo_agent_password_still_sets_them_all(
    db_url: str,
    session_factory: sessionmaker[Session],
    env_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tests and scripted demos log in with one known password, and no file is written."""
    monkeypatch.setenv("DEMO_AGENT_PASSWORD", "tests-pw")
    assert main(["--url", db_url, "demo-users", "--env-file", str(env_file)]) == 0
    assert not env_file.exists()
    assert all(_logs_in(session_factory, username, "tests-pw") for username in USERNAMES)


def test_make_run_gives_no_shared_password() -> None:
    script = RUN_SH.read_text(encoding="utf-8")
    assert "demo-users --env-file" in script
    assert "DEMO_AGENT_PASSWORD=" not in script  # it never sets one for everybody
