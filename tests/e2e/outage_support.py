"""Helpers of the outage-notice end-to-end tests (test_outage_notices.py, test_outage_restart.py):
the gateway's configuration for them, the dispatcher on the console's outage API, the customers'
chats on both channels, and the few database looks and set-ups a test cannot do as a customer
(a few hundred subscribers at once; ending what a failed test left behind)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.config import load_settings
from store.configuration.outages import load_outages
from store.db import make_engine, make_session_factory, unit_of_work
from store.models import OutageDelivery, OutageNotice, SubscriptionEnd
from store.outages import publishing, subscriptions
from store.outages.publishing import Desk
from store.services import areas
from tests.e2e.conftest import Stack, answered
from tests.e2e.test_dispatch import PASSWORD, Staff, WebChat
from tests.fakes.gateway import eventually
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import ROOT, server_env

SUBSCRIBE = "订阅停电通知"
UNSUBSCRIBE = "退订停电通知"
"""The buttons' titles (conf/outages.yml texts)."""
SUBSCRIBED = "已为您订阅"
UNSUBSCRIBED = "已退订"
"""What the confirmations start with (domain.yml utter_outage_subscribed / _unsubscribed)."""


def notice_conf(directory: Path) -> Path:
    """conf/ as it is, but no quiet hours and a quicker look for work: the notices go out
    whatever the hour the tests run (the quiet hours are tested in tests/integration/outages,
    at chosen hours). The gateway reads it from CONF_DIR."""
    conf = directory / "conf"
    shutil.copytree(ROOT / "conf", conf)
    path = conf / "outages.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["quiet_hours"] = {"start": "00:00", "end": "00:00"}  # equal: none
    data["delivery"]["poll_seconds"] = 0.5
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return conf


def gateway_env_for(directory: Path) -> dict[str, str]:
    return {"DEMO_AGENT_PASSWORD": PASSWORD, "CONF_DIR": str(notice_conf(directory))}


async def create_staff(stack: Stack) -> None:
    """The demo staff (a dispatcher among them), with the e2e tests' shared password."""
    created = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "store", "--url", stack.database_url, "demo-users",
        cwd=ROOT, env=server_env(DEMO_AGENT_PASSWORD=PASSWORD),
    )  # fmt: skip
    assert await created.wait() == 0


def at(delta: timedelta) -> str:
    """A moment from now, as the console's API takes it (ISO 8601 with its offset)."""
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat()


class OutageDesk(Staff):
    """A dispatcher on /api/v1/outages; remembers the outages they published."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        super().__init__(http, url)
        self.published: list[str] = []

    async def login(self, username: str = "dispatch") -> OutageDesk:
        await super().login(username)
        return self

    async def outages(self, path: str = "", body: Any = None, status: int = 200) -> Any:
        method = "GET" if body is None else "POST"
        url = f"{self.url}/api/v1/outages{path}"
        headers = {"X-CSRF-Token": self.csrf}
        async with self.http.request(method, url, json=body, headers=headers) as response:
            assert response.status == status, f"{method} {path}: {await response.text()}"
            return await response.json()

    async def publish(self, **body: Any) -> str:
        outcome = await self.outages("", body, status=201)
        number = str(outcome["outage"]["outage_no"])
        self.published.append(number)
        return number

    async def act(self, number: str, action: str, **body: Any) -> dict[str, Any]:
        return dict(await self.outages(f"/{number}/{action}", body))

    async def listed(self, number: str) -> dict[str, Any]:
        found = [o for o in (await self.outages())["outages"] if o["outage_no"] == number]
        assert len(found) == 1, number
        return dict(found[0])


# --- the customers' chats ---------------------------------------------------------------


@dataclass(frozen=True)
class Told:
    """A message as the customer sees it on either channel."""

    text: str
    buttons: tuple[str, ...]
    raw: Mapping[str, Any]


def told_on_telegram(message: Mapping[str, Any]) -> Told:
    titles = tuple(str(b["text"]) for b in FakeTelegram.buttons_of(message))
    return Told(str(message.get("text", "")), titles, message)


def told_on_web(event: Mapping[str, Any]) -> Told:
    return Told(str(event["text"]), tuple(str(b["title"]) for b in event["buttons"]), event)


async def press_on_telegram(
    telegram: FakeTelegram, message: Mapping[str, Any], title: str
) -> list[Told]:
    """Press the button titled `title` under a message the bot sent; what the bot answered."""
    [data] = [b["callback_data"] for b in telegram.buttons_of(message) if b["text"] == title]
    chat_id = int(message["chat"]["id"])
    sent = await answered(telegram, chat_id, telegram.callback_update(message, data))
    return [told_on_telegram(m) for m in sent]


async def press_on_web(web: WebChat, told: Told, title: str) -> str:
    """Press a button of a reply in the web chat (its payload is sent as the text)."""
    [payload] = [b["payload"] for b in told.raw["buttons"] if b["title"] == title]
    return await web.say(str(payload))


@dataclass
class Chats:
    """Several customers' chats (Telegram chat ids, web chats by name) and what each was told
    since the last step: a step is expected to tell each chat once, or not at all."""

    telegram: FakeTelegram
    on_telegram: dict[str, int]
    on_web: dict[str, WebChat]
    marks: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mark()

    def _all(self, name: str) -> list[Told]:
        if name in self.on_web:
            return [told_on_web(e) for e in self.on_web[name].replies]
        chat = self.on_telegram[name]
        return [told_on_telegram(m) for m in self.telegram.sent if m["chat"]["id"] == chat]

    def mark(self) -> None:
        self.marks = {name: len(self._all(name)) for name in (*self.on_telegram, *self.on_web)}

    def news(self, name: str) -> list[Told]:
        return self._all(name)[self.marks[name] :]

    async def step(
        self, opening: str, reaches: Iterable[str], settle: float = 2.0
    ) -> dict[str, Told]:
        """Each chat of `reaches` is told one message that begins with `opening`, the others
        nothing (`settle` seconds after the last arrived: several passes of the worker)."""
        wanted = set(reaches)
        await eventually(lambda: all(self.news(n) for n in wanted), within=30, interval=0.1)
        await asyncio.sleep(settle)
        news = {name: [t.text for t in self.news(name)] for name in self.marks}
        openings = {name: [t[: len(opening)] for t in texts] for name, texts in news.items()}
        assert openings == {n: [opening] if n in wanted else [] for n in self.marks}, news
        found = {name: self.news(name)[0] for name in wanted}
        self.mark()
        return found


# --- the database -----------------------------------------------------------------------


@contextmanager
def database(stack: Stack) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(stack.database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def subscribe_all(stack: Stack, conversation_ids: Iterable[str], area_name: str) -> None:
    """Subscriptions made straight in the database (as many as a test needs, at once)."""
    now = datetime.now(UTC)
    with database(stack) as factory, unit_of_work(factory) as session:
        area = areas.match_area(session, area_name)
        assert area is not None, area_name
        for conversation_id in conversation_ids:
            subscriptions.subscribe(
                session, conversation_id=conversation_id, area=area, group_no=None,
                account=None, now=now,
            )  # fmt: skip


def active_areas(stack: Stack, conversation_id: str) -> list[str]:
    """The areas the conversation is subscribed to now."""
    with database(stack) as factory, unit_of_work(factory) as session:
        return [s.area.name for s in subscriptions.active(session, conversation_id)]


def end_subscriptions(stack: Stack, conversation_ids: Iterable[str]) -> None:
    """What a test subscribed, ended: the session's later tests' outages are not told there."""
    now = datetime.now(UTC)
    with database(stack) as factory, unit_of_work(factory) as session:
        for conversation_id in conversation_ids:
            subscriptions.end_for_conversation(
                session, conversation_id, SubscriptionEnd.UNSUBSCRIBED, now=now
            )


def deliveries(stack: Stack, number: str) -> dict[str, Counter[str]]:
    """Per notice kind of the outage: its deliveries by state."""
    with database(stack) as factory, unit_of_work(factory) as session:
        outage = publishing.get(session, number)
        stmt = (
            select(OutageNotice.kind, OutageDelivery.state)
            .join(OutageDelivery, OutageDelivery.notice_id == OutageNotice.id)
            .where(OutageNotice.outage_id == outage.id)
        )
        found: dict[str, Counter[str]] = {}
        for kind, state in session.execute(stmt):
            found.setdefault(str(kind), Counter())[str(state)] += 1
        return found


def close_outages(stack: Stack, numbers: Iterable[str]) -> None:
    """End what a test published and left open (it failed half-way): the session's later tests
    must not meet a known outage. Its subscribers are ended first (nobody is told)."""
    settings = load_settings()
    config = load_outages(settings.conf_dir, [a.code for a in settings.areas])
    now = datetime.now(UTC)
    with database(stack) as factory, unit_of_work(factory) as session:
        desk = Desk(session, settings, config, "e2e", "dispatcher", now)
        for number in numbers:
            outage = publishing.get(session, number)
            if outage.cancelled_at is not None or outage.restored_at is not None:
                continue
            if outage.kind == "fault":
                publishing.restore(desk, outage)
            else:
                publishing.cancel(desk, outage, None)
