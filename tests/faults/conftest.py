"""The fault suite (`make test-faults`): the stack of tests/faults/stack.py, started once per
module, on PostgreSQL (TEST_DATABASE_URL) and Redis (TEST_REDIS_URL) with the trained model.
Without them it is skipped, except under CI=true, where it fails."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import partial

import pytest
import redis
from sqlalchemy import text

from store.db import make_engine
from tests.conftest import create_database, postgres_base_url, redis_base_url
from tests.faults.stack import MODEL, FaultStack, running_stack
from tests.processes import RASA_PYTHON, seed


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults" in str(item.fspath):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.e2e)  # the trained model and the real servers


def _model() -> None:
    missing = [str(p) for p in (MODEL, RASA_PYTHON) if not p.exists()]
    if not missing:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the fault suite needs {', '.join(missing)}: run `make train` first")
    pytest.skip(f"the fault suite needs {', '.join(missing)} (make setup, make train)")


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    _model()
    base, redis_url = postgres_base_url(), redis_base_url()
    work = tmp_path_factory.mktemp("faults")
    database_url, drop = create_database("postgres", work)
    tracker_schema = f"t_{uuid.uuid4().hex[:12]}_rasa"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {tracker_schema}"))
    try:
        with running_stack(
            work, database_url, tracker_schema, redis_url, prepare=partial(seed, database_url)
        ) as stack:
            yield stack
            locks = redis.Redis.from_url(redis_url)
            left = list(locks.scan_iter(match=f"{stack.lock_prefix}:*"))
            if left:
                locks.delete(*left)
            locks.close()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {tracker_schema} CASCADE"))
        admin.dispose()
        drop()
