"""Fixtures for driving actions against a real, seeded database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from actions.runtime import Runtime, set_runtime
from store.config import Settings
from tests.fakes.nlu_console import NluStack, running_nlu_console
from tests.fakes.rasa_tracker import Conversation


@pytest.fixture
def runtime(
    settings: Settings, session_factory: sessionmaker[Session], seeded: Any, now: datetime
) -> Iterator[Runtime]:
    """The action server's runtime on the seeded test database, with the clock frozen."""
    rt = Runtime(settings, session_factory, clock=lambda: now)
    set_runtime(rt)
    yield rt
    set_runtime(None)


@pytest.fixture
def convo(runtime: Runtime) -> Conversation:
    return Conversation(sender_id="tg-424242")


@pytest.fixture
async def nlu_stack(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    session_factory: sessionmaker[Session],
) -> AsyncIterator[NluStack]:
    """The gateway whose console's NLU loop works on a copy of the project with the fake
    `rasa` and deploys to a fake Rasa server (tests/fakes/nlu_console.py)."""
    async with running_nlu_console(tmp_path, monkeypatch, db_url, session_factory) as stack:
        yield stack
