"""Fixtures of the outage-notice tests: the configuration, a dispatcher's desk on the demo
station (SQLite and PostgreSQL) and the delivery tests' scene; helpers in support.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.configuration.outages import OutageConfig, load_outages
from store.db import unit_of_work
from store.outages.publishing import Desk
from tests.fakes.rasa import FakeRasa
from tests.integration.outages.support import Scene


@pytest.fixture(scope="session")
def outage_config(settings: Settings) -> OutageConfig:
    return load_outages(settings.conf_dir, [a.code for a in settings.areas])


@pytest.fixture
def desk(
    session_factory: sessionmaker[Session], settings: Settings, outage_config: OutageConfig
) -> Callable[[datetime], AbstractContextManager[Desk]]:
    """`with desk(now) as d:` a dispatcher's unit of work at `now`."""

    @contextmanager
    def open_desk(now: datetime) -> Iterator[Desk]:
        with unit_of_work(session_factory) as session:
            yield Desk(session, settings, outage_config, "dispatch", "dispatcher", now)

    return open_desk


@pytest.fixture
def scene(
    rasa: FakeRasa,
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    settings: Settings,
    outage_config: OutageConfig,
    now: datetime,
    desk: Callable[[datetime], AbstractContextManager[Desk]],
) -> Scene:
    return Scene(rasa, db_url, session_factory, settings, outage_config, now, desk)
