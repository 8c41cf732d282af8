"""Which replies the router tracks until sent (bot/outbox.py): those it pushes through a channel
that keeps no history of its own. The web chat's history shows every stored reply after a
reconnect: sending one again after a crash would show it twice."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

from bot.channels.base import Channel
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.webchat import WebChatChannel
from bot.messages import Reply
from bot.outbox import TRACKED, UNTRACKED, Outbox
from bot.transcript import Transcript


class Plain(Channel):
    name = "telegram"

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """Never called here."""


def test_replies_are_tracked_only_when_pushed_through_a_channel_without_a_history() -> None:
    channels: dict[str, Channel] = {"telegram": Plain(), "web": WebChatChannel()}
    outbox = Outbox(cast(Transcript, None), channels, asyncio.Event())
    assert outbox.status("telegram:42", push=True) == TRACKED
    assert outbox.status("telegram:42", push=False) == UNTRACKED  # returned to the caller
    assert outbox.status("web:6f1c2d3e", push=True) == UNTRACKED
    assert outbox.status("api:crm-1", push=True) == UNTRACKED  # no channel: the transcript


def test_the_channels_say_whether_they_show_a_history() -> None:
    assert WebChatChannel.shows_history
    assert not TelegramChannel.shows_history
