"""The browser tier: pages of the gateway (web chat, agent console, NLU page) in a real headless
Chromium driven by Playwright.

Chromium is Debian's (`apt-get install chromium`, /usr/bin/chromium; scripts/setup.sh installs it
when run as root), never one from `playwright install`. Without it (or without Playwright) every
test here is skipped with the reason, except under CI=true, where they fail: CI must never
silently skip them. Every test here carries the `browser` marker (`pytest -m browser`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.harness import chromium_executable

if TYPE_CHECKING:
    from playwright.sync_api import Browser

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


# Module scope, not session: while Playwright's sync driver is open it keeps an asyncio loop
# running in this thread, and pytest-asyncio's tests in later modules could not start theirs.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()  # skip (or fail under CI) before starting anything
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def backend() -> str:
    """The browser stories run on SQLite only (the API tests cover PostgreSQL)."""
    return "sqlite"
