"""`python -m store create-user / demo-users` (both backends; run in-process)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from store.cli import main
from store.db import unit_of_work
from store.services import staff


def test_demo_users_are_created_once(
    db_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DEMO_AGENT_PASSWORD", "demo-pass-1")
    assert main(["--url", db_url, "demo-users"]) == 0
    out = capsys.readouterr().out
    assert "agent1: created (agent)" in out
    assert "demo-pass-1" not in out  # never echoed
    assert main(["--url", db_url, "demo-users"]) == 0
    assert "agent1: exists" in capsys.readouterr().out
    with unit_of_work(session_factory) as session:
        users = {u.username: u.role for u in staff.all_users(session)}
        assert users == {
            "agent1": "agent",
            "agent2": "agent",
            "supervisor": "supervisor",
            "foreman": "supervisor",  # the repair crews' team leader (store/demodata/teams.py)
            "operator": "operator",
            "clerk": "clerk",
            "dispatch": "dispatcher",
            "crew1": "crew",
            "manager": "manager",
        }
        assert staff.authenticate(session, "supervisor", "demo-pass-1") is not None


def test_demo_users_random_passwords_are_printed(
    db_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DEMO_AGENT_PASSWORD", raising=False)
    assert main(["--url", db_url, "demo-users"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("agent2:"))
    password = line.rsplit("password ", 1)[1]
    with unit_of_work(session_factory) as session:
        assert staff.authenticate(session, "agent2", password) is not None


def test_create_user(
    db_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pw\n"))
    args = ["--url", db_url, "create-user", "li", "--display-name", "李工"]
    assert main([*args, "--role", "supervisor", "--max-chats", "4", "--password-stdin"]) == 0
    assert "Created supervisor li" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("other\n"))
    assert main([*args, "--password-stdin"]) == 1  # taken
    assert "taken" in capsys.readouterr().err
    with unit_of_work(session_factory) as session:
        user = staff.authenticate(session, "li", "s3cret-pw")
        assert user is not None
        assert (user.display_name, user.role, user.max_chats) == ("李工", "supervisor", 4)
