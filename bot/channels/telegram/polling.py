"""Long polling that confirms an update to Telegram only once its message is stored.

python-telegram-bot's Updater asks for the next updates, which confirms the previous ones to
Telegram, as soon as it has queued them: a gateway killed then loses every update fetched but
not stored yet. Here each batch is handed to the application and the next getUpdates (whose
offset confirms the batch) waits until every update of it is settled
(`TelegramChannel.expect`): its message committed by the router, or nothing to store. Storing
is quick (the router stores a message before it waits for an earlier one's turn), so Rasa does
not hold polling up. An update that could not be stored is asked for again after a pause; a
second delivery of one that was stored is recognised by the router (same update id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.channels.telegram.channel import TelegramChannel

logger = logging.getLogger(__name__)

TelegramApplication = Application[Any, Any, Any, Any, Any, Any]

PAUSES: tuple[float, ...] = (1, 2, 5, 10, 30, 60)
"""Seconds to wait after a failed poll or an update that could not be stored (the last one
repeats)."""


class Poller:
    """Polls the Bot API for updates and feeds them to the application, batch by batch."""

    def __init__(
        self,
        application: TelegramApplication,
        channel: TelegramChannel,
        *,
        timeout: int,
        allowed_updates: Sequence[str],
        pauses: Sequence[float] = PAUSES,
    ) -> None:
        self._application = application
        self._channel = channel
        self._timeout = timeout
        self._allowed = list(allowed_updates)
        self._pauses = tuple(pauses) or PAUSES
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop asking; what was fetched but not settled stays unconfirmed (Telegram delivers
        it again to the next start)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._channel.forget_updates()

    async def _run(self) -> None:
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self._application.bot.get_updates(
                    offset=offset, timeout=self._timeout, allowed_updates=self._allowed
                )
            except Exception as error:  # the Bot API unreachable, a conflict, ...: try again
                pause = self._pause(failures)
                failures += 1
                if isinstance(error, TelegramError):
                    logger.warning("Telegram polling failed (%s); again in %.0f s", error, pause)
                else:
                    logger.exception("Telegram polling failed; again in %.0f s", pause)
                await asyncio.sleep(pause)
                continue
            if not updates:
                failures = 0
                continue
            offset, complete = await self._settle(updates, offset)
            if complete:
                failures = 0
                continue
            pause = self._pause(failures)
            failures += 1
            logger.warning(
                "Telegram update %s not stored; asked for again in %.0f s", offset, pause
            )
            await asyncio.sleep(pause)

    async def _settle(
        self, updates: Sequence[Update], offset: int | None
    ) -> tuple[int | None, bool]:
        """Hand the batch over and wait until each update is settled: the next offset (up to
        the first update that could not be stored) and whether the whole batch may be
        confirmed."""
        waits = [self._channel.expect(update.update_id) for update in updates]
        for update in updates:
            await self._application.update_queue.put(update)
        outcomes = await asyncio.gather(*waits)
        for update, confirm in zip(updates, outcomes, strict=True):
            if not confirm:
                return update.update_id, False
            offset = update.update_id + 1
        return offset, True

    def _pause(self, failures: int) -> float:
        return self._pauses[min(failures, len(self._pauses) - 1)]
