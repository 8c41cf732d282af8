"""The agent console's demo staff (`python -m store demo-users`): agent1, agent2, supervisor,
operator, clerk (the back office's complaints, applications and customer records), dispatch,
crew1, manager and foreman (who leads 抢修班, store/demodata/teams.py), each with a password of
their own.

One password shared by every demo user would let whoever learnt the agent's also act as the
supervisor; so each gets its own random password, kept in a file only its owner can read
(`make run`: var/demo-staff.env, one `username=password` line each, shown in its "Ready"
message). DEMO_AGENT_PASSWORD, when set, is every demo user's password instead: for tests and
scripted demos that must log in without reading a file. A file of an earlier version held one
shared password (`DEMO_AGENT_PASSWORD=...`); demo users still on it get a password of their own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session

from store.demodata.crews import join_demo_crew
from store.demodata.teams import join_demo_team
from store.services import staff

DEMO_PASSWORD_ENV: Final = "DEMO_AGENT_PASSWORD"
"""Environment variable: one password for every demo user (tests, scripted demos)."""
DEMO_USERS: Final = (
    ("agent1", "客服一号", "agent", 3),
    ("agent2", "客服二号", "agent", 3),
    ("supervisor", "值班长", "supervisor", 5),
    ("operator", "运维", "operator", 0),
    ("clerk", "营业员小周", "clerk", 0),
    ("dispatch", "调度员小林", "dispatcher", 0),
    ("crew1", "抢修员老陈", "crew", 0),  # in 东片抢修组 once the demo is seeded
    ("manager", "站长", "manager", 5),  # the service-quality dashboard (docs/manager.md)
    ("foreman", "抢修值班长", "supervisor", 0),  # leads 抢修班 (store/demodata/teams.py)
)
LOCKED: Final = "!locked"
"""The password hash of a demo user the demo's history created before `demo-users` ran (its
chats and ratings name them): no password matches it, and `ensure` gives the user one."""
_HEADER = "# Demo staff of the agent console (python -m store demo-users): username=password\n"


@dataclass(frozen=True)
class DemoUser:
    """What happened to one demo user: created, given a password of its own, or left alone."""

    username: str
    role: str
    outcome: str  # "created" | "own password" | "exists"
    password: str | None  # new and not fixed: to be kept or shown once


def new_password() -> str:
    return secrets.token_urlsafe(12)


def ensure(
    session: Session, *, fixed: str | None, kept: dict[str, str], now: datetime
) -> Iterator[DemoUser]:
    """Create the missing demo users (with `fixed` or a new password each; one the history
    made without a password, `LOCKED`, counts as missing), each new one in their demo team
    when the seed made it (store/demodata/teams.py); a user still on the old shared password
    (`kept[DEMO_PASSWORD_ENV]`) gets a new one. Others are left alone."""
    shared = kept.get(DEMO_PASSWORD_ENV)
    for username, name, role, max_chats in DEMO_USERS:
        user = staff.get_by_username(session, username)
        if user is None:
            password = fixed or new_password()
            created = staff.create_user(
                session,
                username=username,
                display_name=name,
                password=password,
                role=role,
                max_chats=max_chats,
                now=now,
            )
            if role == "crew":
                join_demo_crew(session, created)
            join_demo_team(session, created)
            yield DemoUser(username, role, "created", None if fixed else password)
        elif user.password_hash == LOCKED:  # made by the demo's history: its password now
            password = fixed or new_password()
            staff.set_password(session, user, password)
            join_demo_team(session, user)
            yield DemoUser(username, role, "created", None if fixed else password)
        elif not fixed and shared and staff.verify_password(session, user, shared):
            password = new_password()
            staff.set_password(session, user, password)
            yield DemoUser(username, role, "own password", password)
        else:
            yield DemoUser(username, role, "exists", None)


def read_passwords(path: Path) -> dict[str, str]:
    """`username=password` lines of the file ({} when there is none yet)."""
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            found[key.strip()] = value.strip()
    return found


def write_passwords(path: Path, passwords: dict[str, str]) -> None:
    """Replace the file by one holding `passwords`, readable by its owner only (0600) from the
    moment it exists (written beside it, then renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(_HEADER)
        out.writelines(f"{name}={password}\n" for name, password in passwords.items())
    os.replace(temporary, path)
