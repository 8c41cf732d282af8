"""Replies the router sends itself, tracked until the channel took them: nothing a crash cuts
off between storing a reply and sending it is lost.

A reply pushed through a channel without a history of its own (Telegram) is stored 'pending'
(outbound), claimed ('received') just before it is sent, and marked 'processed' once the
channel took it ('failed' when the channel refuses it: a customer who blocked the bot is not
asked again). Whatever a killed gateway left 'pending' or claimed is sent after the restart
(`Router.recover`, the retry worker's sweep). The claim is one UPDATE in the database, so two
gateways never send the same reply; the one window left is a reply the channel took just
before the crash, before it was marked: it is sent again (at least once, never lost).

Replies to the web chat are not tracked: its history shows the stored replies after every
reconnect, so sending them again would show them twice (`Channel.shows_history`); the JSON API
has no channel, its replies wait in the transcript.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.channels.base import Channel
from bot.messages import Reply
from bot.transcript import Transcript, split_conversation_id

log = logging.getLogger(__name__)

TRACKED = "pending"
"""The status of a reply stored to be sent by the router (not yet handed to the channel)."""
UNTRACKED = "processed"


class Outbox:
    """The router's tracked deliveries. Calls for one conversation must not overlap (the
    router holds the conversation's lock)."""

    def __init__(
        self, transcript: Transcript, channels: Mapping[str, Channel], wake: asyncio.Event
    ) -> None:
        self._transcript = transcript
        self._channels = channels
        self._wake = wake
        """Set when replies must wait for their channel: the retry worker comes back."""
        self._sending: set[int] = set()
        """Replies this process has claimed and is sending (`release` leaves them alone)."""

    def status(self, conversation_id: str, push: bool) -> str:
        """How replies are stored: TRACKED when the router pushes them through a channel that
        keeps no history of its own (Telegram); UNTRACKED when they are returned to the caller
        or go to a web chat."""
        if not push:
            return UNTRACKED
        channel = self._channels.get(split_conversation_id(conversation_id)[0])
        return TRACKED if channel is not None and not channel.shows_history else UNTRACKED

    async def flush(self, conversation_id: str) -> bool:
        """Send the conversation's tracked replies not sent yet (this turn's, or ones a crash
        cut off), oldest first. False when the channel cannot take them now (not registered or
        not connected yet): they wait for the retry worker."""
        rows = await self._transcript.claim_undelivered(conversation_id)
        if not rows:
            return True
        ids = [row_id for row_id, _ in rows]
        self._sending.update(ids)
        try:
            left = await self._send(conversation_id, rows)
            if left:
                await self._transcript.set_status(left, TRACKED, expected="received")
                self._wake.set()
            return not left
        finally:
            self._sending.difference_update(ids)

    async def release(self, stored_before: datetime) -> int:
        """Replies a dead process had claimed but not marked, stored before `stored_before`:
        to be sent again. How many."""
        return await self._transcript.release_unsent(stored_before, sorted(self._sending))

    async def _send(self, conversation_id: str, rows: Sequence[tuple[int, Reply]]) -> list[int]:
        """Claimed replies sent one by one, each marked once sent ('failed' when the channel
        refuses it); the ids the channel cannot take now."""
        name, chat_id = split_conversation_id(conversation_id)
        channel = self._channels.get(name)
        if channel is None:
            return [row_id for row_id, _ in rows]
        if channel.shows_history:  # nothing to send: its history shows them
            ids = [row_id for row_id, _ in rows]
            await self._transcript.set_status(ids, "processed", expected="received")
            return []
        for n, (row_id, reply) in enumerate(rows):
            try:
                await channel.send(chat_id, (reply,))
            except ConnectionError as exc:
                log.info("%s: %s cannot deliver yet (%s)", conversation_id, name, exc)
                return [later for later, _ in rows[n:]]
            except Exception:
                log.exception("%s: delivery through %s failed", conversation_id, name)
                await self._transcript.set_status([row_id], "failed", expected="received")
                continue
            await self._transcript.set_status([row_id], "processed", expected="received")
        return []
