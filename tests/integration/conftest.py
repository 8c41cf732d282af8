"""Fixtures for driving actions against a real, seeded database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from actions.runtime import Runtime, set_runtime
from store.config import Settings
from tests.integration.rasa_fakes import Conversation


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
