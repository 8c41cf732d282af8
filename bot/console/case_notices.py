"""Telling the customer exactly what a send-back asks for, or why an application was rejected.

The notifier (bot/notifier.py) announces every application event once, with the stage's
general text ("需要补充资料"). For these two events the customer must hear what staff wrote
(the missing documents, the reason), so the back office sends that text itself, as the
event's one notification: it claims the event in the notifier's own table
(`notification_deliveries`, unique per event) in the same transaction that writes the event,
then delivers it through the router once the transaction is committed. The notifier then finds
the event claimed and stays silent: the customer hears about it exactly once, with the details.

Without a router (a console-only app) or a conversation to tell (an application made at the
counter), nothing is claimed and the notifier's general text applies as for any event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.state import CONSOLE
from bot.keys import CORE_ROUTER
from bot.messages import Reply
from bot.texts import render
from bot.transcript import split_conversation_id
from store.config import Label, Settings
from store.services import notifications, transcripts
from store.statuses import NotificationSource, NotificationStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from store.services.notifications import Application, ApplicationEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    delivery_id: int
    conversation_id: str
    text: str


def can_tell(app: web.Application) -> bool:
    """Whether this gateway can deliver a notice now (it has a router)."""
    return app.get(CORE_ROUTER) is not None


def _documents(settings: Settings, application: Application, language: str) -> str:
    config = settings.applications.types[application.type]
    names = {d.code: (d.en if language == "en" else d.zh) for d in config.documents}
    codes = application.documents_requested or []
    return (", " if language == "en" else "、").join(names.get(c, c) for c in codes)


def claim(
    session: Session,
    settings: Settings,
    template: Label,
    event: ApplicationEvent,
    *,
    note: str | None,
    now: datetime,
) -> Notice | None:
    """Claim the event's notification and write its text; None when nobody can be told or the
    notifier claimed it first."""
    application = event.application
    sender = application.sender_id
    if not sender or not split_conversation_id(sender)[0]:
        return None
    language = transcripts.conversation_language(session, sender) or "zh"
    config = settings.applications.types[application.type]
    ending = ". " if language == "en" else "。"
    values = {
        "number": application.application_no,
        "type": config.name_en if language == "en" else config.name_zh,
        "documents": _documents(settings, application, language),
        "note": f"{note.strip().rstrip('。.')}{ending}" if note and note.strip() else "",
        "reason": (note or "").strip().rstrip("。."),
    }
    delivery_id = notifications.claim(
        session,
        source=NotificationSource.APPLICATION,
        event_id=event.id,
        conversation_id=sender,
        now=now,
    )
    if delivery_id is None:
        return None
    return Notice(delivery_id, sender, render(template, language, values))


async def deliver(app: web.Application, notice: Notice | None) -> str | None:
    """Send a claimed notice (after its transaction committed) and record how it ended."""
    if notice is None:
        return None
    router = app.get(CORE_ROUTER)
    status: str = NotificationStatus.FAILED
    if router is not None:
        try:
            status = await router.deliver(notice.conversation_id, [Reply(text=notice.text)])
        except Exception:
            log.exception("back office: notice %s failed", notice.delivery_id)
    console = app[CONSOLE]
    ended = console.clock()

    def finish(session: Session) -> None:
        notifications.finish(session, notice.delivery_id, status, now=ended)

    await console.db(finish)
    return status
