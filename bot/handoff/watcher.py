"""The handoff watcher: a background pass every conf/handoff.yml watch_interval seconds that
abandons silent queued customers, sends the wait-limit and out-of-hours notices (with the
callback offer) and auto-assigns the queue to available agents."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.handoff.context import DeskContext
from bot.handoff.escalation import Escalation
from bot.handoff.views import Outcome
from store.services import handoffs
from store.statuses import HandoffState

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


class Watcher:
    def __init__(self, ctx: DeskContext, escalation: Escalation) -> None:
        self._ctx = ctx
        self._escalation = escalation

    async def watch_once(self) -> None:
        """One pass: abandon silent queued customers, the wait-limit and out-of-hours notices,
        auto-assignment of the queue."""
        now = self._ctx.clock()
        outcome = await self._ctx.run(lambda session: self._pass(session, now))
        await self._ctx.finish(outcome)

    def _pass(self, session: Session, now: datetime) -> Outcome:
        ctx = self._ctx
        config = ctx.config
        outcome = Outcome()
        changed = False
        for handoff in handoffs.open_handoffs(session):
            if handoff.state != HandoffState.QUEUED:
                continue
            conversation = handoff.conversation
            last = handoff.last_customer_at or handoff.queued_at
            if now - last >= config.abandon_after:
                handoffs.abandon(
                    session, handoff.id, actor="system", now=now, why="customer silent"
                )
                ctx.changed(outcome, handoff, HandoffState.QUEUED, actor="system", why="silent")

                changed = True
                continue
            notice: str | None = None
            if handoff.customer_notice is None:
                if not config.in_service_hours(now):
                    notice = "out_of_hours"
                elif now - handoff.queued_at >= config.wait_limit:
                    notice = "wait_limit"
            if notice and handoffs.mark_notice(session, handoff.id, notice, now=now):
                offer = ctx.callback_offer(notice, conversation.language)
                outcome.sends.append((conversation.conversation_id, (offer,)))
        if config.auto_assign and config.in_service_hours(now):
            for handoff in handoffs.queue(session):
                before = len(outcome.replies)
                if not self._escalation.auto_assign_one(session, handoff, outcome, now):
                    break
                cid = handoff.conversation.conversation_id
                outcome.sends.append((cid, tuple(outcome.replies[before:])))
                changed = True
        if changed:
            ctx.queue_changed(session, outcome)
        return outcome


class Periodic:
    """Runs `work` every `interval()` seconds in a task until stopped; a failing pass is
    logged and the next one runs all the same."""

    def __init__(
        self, name: str, work: Callable[[], Awaitable[None]], interval: Callable[[], float]
    ) -> None:
        self._name = name
        self._work = work
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        if self._interval() > 0 and self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._loop(), name=self._name)

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self._work()
            except Exception:
                log.exception("%s: a pass failed", self._name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval())

    async def stop(self, grace: float) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(task, grace)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
