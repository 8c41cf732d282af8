"""Proactive notifications: customers hear when staff move their ticket or application on.

Every `notify_interval` seconds a pass reads the ticket and application events added since its
cursor, plus open tickets and applications whose deadline has just passed, and tells each
customer on the conversation (and so the channel) that opened the ticket, exactly once:

- each notification is claimed first (a `notification_deliveries` row, unique per event), in
  its own committed transaction, and only the claimer sends it; a second pass, or a second
  gateway process, finds the claim and stays silent;
- the cursors start at the newest event when the gateway first runs, so events from before
  that (the demo's history, a station's back catalogue) are never announced;
- each pass re-reads a few events below its cursor, because with concurrent writers an event
  with a smaller id can commit after a larger one was seen; the claims make that harmless;
- what the assistant itself did in the conversation (the ticket being opened, a repeated
  complaint escalated) is not announced again.

Texts are in conf/gateway.yml (notifications), labels of statuses and stages in labels.yml.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from bot.messages import Reply
from bot.router import Router
from bot.texts import GatewayTexts, render
from bot.transcript import split_conversation_id
from store.config import Label, Settings
from store.db import in_thread
from store.services import notifications, transcripts
from store.services.application_views import describe as describe_application
from store.services.ticket_intake import ASSISTANT
from store.services.ticket_views import current_deadline
from store.statuses import (
    DELIVERED_STATUSES,
    ApplicationStage,
    NotificationSource,
    NotificationStatus,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from store.services.notifications import Application, ApplicationEvent, TicketEvent

log = logging.getLogger(__name__)

OVERDUE = "overdue"
"""The cursor whose `since` bounds overdue notices (deadlines passing after the first start)."""


@dataclass(frozen=True)
class Notice:
    source: str
    event_id: int
    conversation_id: str
    text: str


class _Event(Protocol):
    @property
    def id(self) -> int: ...


_E = TypeVar("_E", bound=_Event)


@dataclass(frozen=True)
class _Plan:
    notices: list[Notice]
    cursor_moves: dict[str, int]


def _pick(label: Label, language: str) -> str:
    return label.en if language == "en" else label.zh


def _local(value: datetime, settings: Settings) -> str:
    return value.astimezone(settings.tz).strftime("%m-%d %H:%M")


def _step_time(value: datetime, now: datetime, settings: Settings) -> str:
    """When a step was taken, as the customer reads it: the clock time, with the date only
    when it was not today (a crew that was offline records its arrival afterwards)."""
    local = value.astimezone(settings.tz)
    same_day = local.date() == now.astimezone(settings.tz).date()
    return local.strftime("%H:%M") if same_day else local.strftime("%m-%d %H:%M")


def _notifiable_sender(sender_id: str | None) -> str | None:
    """The conversation to tell: only ids the gateway made (`<channel>:<chat_id>`)."""
    if not sender_id:
        return None
    channel, _ = split_conversation_id(sender_id)
    return sender_id if channel else None


class Notifier:
    #: Events below the cursor re-read each pass (late commits of concurrent transactions).
    overlap = 50
    batch = 200

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        router: Router,
        texts: GatewayTexts,
        settings: Settings,
        interval: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._factory = factory
        self._router = router
        self._texts = texts
        self._settings = settings
        self._interval = interval
        self._clock = clock
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Create the cursors at the newest events (first start only): history stays quiet."""
        now = self._clock()

        def work(session: Session) -> None:
            for source in (NotificationSource.TICKET, NotificationSource.APPLICATION, OVERDUE):
                notifications.ensure_cursor(session, source, now=now)

        await in_thread(self._factory, work)

    def start(self) -> None:
        if self._interval > 0:
            self._stop.clear()  # started again after a stop (another replica had it meanwhile)
            self._task = asyncio.create_task(self._run(), name="gateway-notifier")

    async def stop(self, grace: float) -> None:
        self._stop.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait([self._task], timeout=grace)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("notifier pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)

    # --- one pass -------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One pass: claim and send what is new; the number of notifications sent or stored."""
        now = self._clock()
        plan = await in_thread(self._factory, lambda session: self._plan(session, now))
        delivered = 0
        for notice in plan.notices:
            if self._stop.is_set() and self._task is not None:
                break
            delivered += await self._deliver(notice, now)
        if plan.cursor_moves:

            def move(session: Session) -> None:
                for source, event_id in plan.cursor_moves.items():
                    notifications.advance_cursor(session, source, event_id)

            await in_thread(self._factory, move)
        return delivered

    async def _deliver(self, notice: Notice, now: datetime) -> int:
        def claim(session: Session) -> int | None:
            return notifications.claim(
                session,
                source=notice.source,
                event_id=notice.event_id,
                conversation_id=notice.conversation_id,
                now=now,
            )

        delivery_id = await in_thread(self._factory, claim)
        if delivery_id is None:
            return 0  # an earlier pass or another process has it
        try:
            status = await self._router.deliver(notice.conversation_id, [Reply(text=notice.text)])
        except Exception:
            log.exception("%s: notification failed", notice.conversation_id)
            status = NotificationStatus.FAILED

        def finish(session: Session) -> None:
            notifications.finish(session, delivery_id, status, now=self._clock())

        await in_thread(self._factory, finish)
        return 1 if status in DELIVERED_STATUSES else 0

    def _plan(self, session: Session, now: datetime) -> _Plan:
        plan = _Plan([], {})
        languages = _LanguageCache(session)
        self._new_events(
            session,
            plan,
            now,
            NotificationSource.TICKET,
            notifications.ticket_events_after,
            lambda event: self._ticket_notice(event, languages, now),
        )
        self._new_events(
            session,
            plan,
            now,
            NotificationSource.APPLICATION,
            notifications.application_events_after,
            lambda event: self._application_notice(event, languages),
        )
        since = notifications.ensure_cursor(session, OVERDUE, now=now).since
        plan.notices.extend(self._overdue(session, since, now, languages))
        return plan

    def _new_events(
        self,
        session: Session,
        plan: _Plan,
        now: datetime,
        source: str,
        read: Callable[[Session, int, int], Sequence[_E]],
        notice: Callable[[_E], Notice | None],
    ) -> None:
        """The source's events since its cursor (and a few below it), each not yet claimed
        told as `notice` says; the cursor's move."""
        cursor = notifications.ensure_cursor(session, source, now=now)
        lower = max(cursor.baseline_event_id, cursor.last_event_id - self.overlap)
        events = read(session, lower, self.batch)
        if not events:
            return
        plan.cursor_moves[source] = max(e.id for e in events)
        claimed = notifications.already_claimed(session, source, [e.id for e in events])
        for event in events:
            if event.id not in claimed and (found := notice(event)) is not None:
                plan.notices.append(found)

    def _ticket_notice(
        self, event: TicketEvent, languages: _LanguageCache, now: datetime
    ) -> Notice | None:
        ticket = event.ticket
        conversation_id = _notifiable_sender(ticket.sender_id)
        template = self._texts.ticket_statuses.get(event.status)
        if conversation_id is None or template is None or event.actor == ASSISTANT:
            return None
        earlier = [e for e in ticket.events if e.id < event.id]
        if earlier and earlier[-1].status == event.status:
            return None  # a note, not a change
        language = languages.get(conversation_id)
        labels = self._settings.labels
        values = {
            "number": ticket.ticket_no,
            "type": _pick(labels.ticket_type(ticket.type), language),
            "status": _pick(labels.ticket_status(event.status), language),
            "next_step": _pick(labels.ticket_next_step(ticket.type, event.status), language),
            "crew": ticket.crew.name if ticket.crew else _pick(self._texts.unnamed_crew, language),
            "time": _step_time(event.at, now, self._settings),
        }
        text = render(template, language, values)
        return Notice(NotificationSource.TICKET, event.id, conversation_id, text)

    def _application_notice(
        self, event: ApplicationEvent, languages: _LanguageCache
    ) -> Notice | None:
        app = event.application
        conversation_id = _notifiable_sender(app.sender_id)
        first = event.stage == ApplicationStage.RECEIVED
        if conversation_id is None or first or event.actor == ASSISTANT:
            return None
        language = languages.get(conversation_id)
        labels = self._settings.labels
        config = self._settings.applications.types[app.type]
        values = {
            "number": app.application_no,
            "type": config.name_en if language == "en" else config.name_zh,
            "stage": _pick(labels.application_stage(event.stage), language),
            "next_step": _pick(labels.application_next_step(event.stage), language),
        }
        text = render(self._texts.application_stage(event.stage), language, values)
        return Notice(NotificationSource.APPLICATION, event.id, conversation_id, text)

    def _overdue(
        self, session: Session, since: datetime, now: datetime, languages: _LanguageCache
    ) -> list[Notice]:
        """Open tickets and applications whose current deadline passed since the first start."""
        labels = self._settings.labels
        notices: list[Notice] = []
        tickets = notifications.open_tickets_with_sender(session)
        late_tickets = [
            (t, due) for t in tickets if (due := current_deadline(t)) and since < due <= now
        ]
        claimed = notifications.already_claimed(
            session, NotificationSource.TICKET_OVERDUE, [t.id for t, _ in late_tickets]
        )
        for ticket, due in late_tickets:
            conversation_id = _notifiable_sender(ticket.sender_id)
            if conversation_id is None or ticket.id in claimed:
                continue
            language = languages.get(conversation_id)
            values = {
                "number": ticket.ticket_no,
                "type": _pick(labels.ticket_type(ticket.type), language),
                "due": _local(due, self._settings),
            }
            text = render(self._texts.overdue_ticket, language, values)
            notices.append(
                Notice(NotificationSource.TICKET_OVERDUE, ticket.id, conversation_id, text)
            )
        apps = notifications.open_applications_with_sender(session)
        late_apps: list[tuple[Application, datetime]] = []
        for app in apps:
            view = describe_application(session, self._settings, app, now)
            if view.due_at is not None and since < view.due_at <= now:
                late_apps.append((app, view.due_at))
        claimed = notifications.already_claimed(
            session, NotificationSource.APPLICATION_OVERDUE, [a.id for a, _ in late_apps]
        )
        for app, due in late_apps:
            conversation_id = _notifiable_sender(app.sender_id)
            if conversation_id is None or app.id in claimed:
                continue
            language = languages.get(conversation_id)
            config = self._settings.applications.types[app.type]
            values = {
                "number": app.application_no,
                "type": config.name_en if language == "en" else config.name_zh,
                "due": _local(due, self._settings),
            }
            text = render(self._texts.overdue_application, language, values)
            notices.append(
                Notice(NotificationSource.APPLICATION_OVERDUE, app.id, conversation_id, text)
            )

        return notices


class _LanguageCache:
    """The language each conversation last used (Chinese when the gateway has not seen it)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._known: dict[str, str] = {}

    def get(self, conversation_id: str) -> str:
        if conversation_id not in self._known:
            language = transcripts.conversation_language(self._session, conversation_id)
            self._known[conversation_id] = language or "zh"
        return self._known[conversation_id]
