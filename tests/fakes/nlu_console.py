"""Helpers for the console's NLU page tests: a throw-away copy of the project with the fake
`rasa` (tests/fakes/rasa_cli.py trains, evaluates and validates in a blink), a fake Rasa server
for deployments, the loop wired into the gateway before it starts, and inbox items captured
from a real stored conversation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from bot.console.nlu_api import NLU_CONSOLE
from nlu import inbox
from nlu.deploy import RasaServer
from nlu.loop import NluLoop
from nlu.settings import NluSettings
from store.db import unit_of_work
from store.services import transcripts
from store.services.transcripts import OutboundText
from tests.fakes.console import Console, cheap_password_hashing, running_console
from tests.fakes.loopback import running
from tests.fakes.nlu_project import copy_project, make_fake_rasa, project_settings
from tests.fakes.rasa import FakeRasa, fake_rasa_server
from tests.fakes.rasa_cli import default_report, intents_of

API = "/api/v1/nlu"


def nlu_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NluSettings:
    """Settings of a copy of the project (data/, domain.yml, the held-out set, conf/nlu.yml)
    whose `rasa` is the fake; its calls are logged to tmp_path/rasa-calls.jsonl."""
    monkeypatch.setenv("FAKE_RASA_LOG", str(tmp_path / "rasa-calls.jsonl"))
    project = copy_project(tmp_path / "project")
    return project_settings(project, make_fake_rasa(tmp_path / "bin"))


def with_loop(
    settings: NluSettings, factory: sessionmaker[Session], models: FakeRasa
) -> Callable[[web.Application], None]:
    """`running_console(prepare=...)`: the app's NLU loop on the copy, deploying to `models`."""

    def prepare(app: web.Application) -> None:
        app[NLU_CONSOLE].loop = NluLoop(
            settings, factory, rasa=RasaServer(models.url, models.token)
        )

    return prepare


@dataclass
class NluStack:
    console: Console
    settings: NluSettings
    models: FakeRasa
    """The Rasa server deployments load models into."""

    @property
    def loop(self) -> NluLoop:
        app = self.console.client.app
        assert app is not None
        loop = app[NLU_CONSOLE].loop
        assert loop is not None
        return loop


@asynccontextmanager
async def running_nlu_console(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    factory: sessionmaker[Session],
) -> AsyncIterator[NluStack]:
    """The gateway (fake Rasa for chats) whose NLU loop works on a copy of the project and
    deploys to a fake Rasa model server. Trainings still running at the end are cancelled by
    the gateway's shutdown."""
    cheap_password_hashing(monkeypatch)
    settings = nlu_project(tmp_path, monkeypatch)
    async with (
        running(FakeRasa.serving_models()) as models,
        fake_rasa_server() as rasa,
        running_console(
            rasa, db_url, factory, prepare=with_loop(settings, factory, models)
        ) as console,
    ):
        yield NluStack(console, settings, models)


def capture(
    factory: sessionmaker[Session],
    settings: NluSettings,
    texts: Sequence[str],
    *,
    chat: str = "42",
    reason: str = "low_confidence",
    predicted: str = "query_bill",
    confidence: float = 0.42,
) -> list[int]:
    """A Telegram conversation in which the bot answered each text, every text captured in the
    NLU inbox (the item ids, in order; near-duplicates share one)."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ids = []
    with unit_of_work(factory) as session:
        conversation = transcripts.touch_conversation(
            session, conversation_id=f"telegram:{chat}", channel="telegram", chat_id=chat, now=now
        )
        for number, text in enumerate(texts):
            at = now + timedelta(seconds=number)
            inbound = transcripts.record_inbound(
                session, conversation, text=text, now=at, status="processed"
            )  # answered: the gateway's retry worker leaves it alone
            transcripts.set_intent(session, inbound.id, predicted, confidence)
            transcripts.record_outbound(
                session, conversation, [OutboundText(f"答：{text}")], now=at, in_reply_to=inbound.id
            )
            item = inbox.add_hit(
                session,
                message_id=inbound.id,
                conversation_id=conversation.conversation_id,
                text=text,
                reason=reason,
                predicted_intent=predicted,
                confidence=confidence,
                settings=settings.inbox,
                now=at,
            )
            assert item is not None
            ids.append(item.id)
    return ids


def worse_report(settings: NluSettings, intent: str, recall: float) -> Path:
    """A FAKE_RASA_REPORTS file: every evaluation scores 0.9, but `intent` has `recall`."""
    report: dict[str, Any] = default_report(intents_of(settings.training.holdout))
    report[intent] = {**report[intent], "recall": recall, "f1-score": recall}
    path = settings.project_dir / "worse-report.json"
    path.write_text(json.dumps({"*": report}), encoding="utf-8")
    return path
