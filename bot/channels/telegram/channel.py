"""The Telegram channel: updates in (→ `Router.handle`), replies out (`send`, `typing`).

Only private chats are served. Every update is handled here, whatever its type; anything the
channel cannot use is logged (its type and id, never its content) and dropped, with a polite
word to the customer when there is a private chat to answer in.

An update is confirmed to Telegram (the next getUpdates offset, bot/channels/telegram/
polling.py; a webhook's 200) only once it is settled (`expect`): its message committed by the
router, or nothing to store. The router sends the replies itself (`push`): in order per chat,
each marked once sent, so replies a crash cut off are sent after the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from telegram import Bot, CallbackQuery, Chat, ChatMemberUpdated, Message, Update
from telegram.constants import ChatAction, ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.base import Channel, MessageHandler, RecipientGone, SendLater
from bot.channels.telegram.config import TelegramConfig, pick
from bot.channels.telegram.keyboard import CallbackTokens, build_markup
from bot.channels.telegram.mapping import (
    attachment_of,
    language_hint,
    location_of,
    retry_seconds,
    routed_text,
    split_text,
    update_kind,
)
from bot.commands import DURABLE, screened
from bot.geo import nearest_place
from bot.messages import Attachment, Inbound, Reply

logger = logging.getLogger(__name__)

CHANNEL_NAME = "telegram"
MAX_REDELIVERIES = 5
"""Times an update whose message could not be stored is left for Telegram to deliver again;
then it is given up (confirmed, the customer told to try again): one bad update must not hold
back the ones behind it for ever."""
MAX_CAPTION = 1024
_GROUP_CHATS = (ChatType.GROUP, ChatType.SUPERGROUP)
DURABLE_PAYLOADS = DURABLE
"""Buttons that work after a restart and however old (keyboard.py, bot/commands.py): the
outage notices' buttons."""


def describe_error(error: BaseException) -> str:
    """The exception and its traceback as text, for a log message (so log masking applies)."""
    return "".join(traceback.format_exception(error)).rstrip()


class TelegramChannel(Channel):
    """Adapter between python-telegram-bot and the router."""

    name = CHANNEL_NAME

    def __init__(
        self, bot: Bot, config: TelegramConfig, router: MessageHandler | None = None
    ) -> None:
        self.bot = bot
        self.config = config
        self.router = router
        self.tokens = CallbackTokens(durable=DURABLE_PAYLOADS)
        self.connected = False
        """True while the bot is initialised (the application is running)."""
        self._declined_groups: OrderedDict[int, None] = OrderedDict()
        self._settling: dict[str, list[asyncio.Future[bool]]] = {}
        self._redeliveries: dict[str, int] = {}

    # ------------------------------------------------------- confirming updates to Telegram

    def expect(self, update_id: int) -> asyncio.Future[bool]:
        """What to tell Telegram about an update about to be handled, once known: True (it
        may be confirmed: its message is stored, or there was nothing to store) or False (it
        could not be stored: Telegram must deliver it again)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._settling.setdefault(str(update_id), []).append(future)
        return future

    def _settle(self, update_id: str, confirm: bool) -> None:
        for future in self._settling.pop(update_id, ()):
            if not future.done():
                future.set_result(confirm)

    def forget_updates(self) -> None:
        """Stopping: nobody waits for the updates still being handled any more."""
        for futures in self._settling.values():
            for future in futures:
                future.cancel()
        self._settling.clear()

    def _deliver_again(self, update_id: str) -> bool:
        """Whether an update whose message could not be stored is left for Telegram to
        deliver again (MAX_REDELIVERIES)."""
        count = self._redeliveries.get(update_id, 0) + 1
        if count >= MAX_REDELIVERIES:
            self._redeliveries.pop(update_id, None)
            return False
        self._redeliveries[update_id] = count
        while len(self._redeliveries) > 10_000:
            del self._redeliveries[next(iter(self._redeliveries))]
        return True

    # ----------------------------------------------------------------- outbound (Channel API)

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """Raises `SendLater` on a 429 (flood control), `RecipientGone` on a 403 (the customer
        blocked the bot), the library's error otherwise."""
        if not self.connected:
            raise ConnectionError("Telegram channel is not connected")
        target = int(chat_id)
        try:
            for reply in replies:
                await self._send_reply(target, reply)
        except RetryAfter as error:
            raise SendLater(str(error), retry_seconds(error)) from error
        except Forbidden as error:
            raise RecipientGone(str(error)) from error

    async def typing(self, chat_id: str) -> None:
        if self.connected:
            await self.bot.send_chat_action(chat_id=int(chat_id), action=ChatAction.TYPING)

    async def _send_reply(self, chat_id: int, reply: Reply) -> None:
        markup = build_markup(reply.buttons, self.tokens)
        text = reply.text.strip()
        if reply.image:
            caption_fits = len(text) <= MAX_CAPTION
            await self.bot.send_photo(
                chat_id=chat_id,
                photo=reply.image,
                caption=(text or None) if caption_fits else None,
                reply_markup=markup if caption_fits else None,
            )
            if caption_fits:
                return
        chunks = split_text(text) or ([self.config.buttons_only] if markup else [])
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            await self.bot.send_message(
                chat_id=chat_id, text=chunk, reply_markup=markup if last else None
            )

    async def _notice(self, chat_id: int, text: str) -> None:
        """A channel notice (not a conversation reply): best effort, failures only logged."""
        try:
            await self.bot.send_message(chat_id=chat_id, text=text)
        except TelegramError as error:
            logger.warning("Telegram notice to chat %s failed: %s", chat_id, error)

    # ------------------------------------------------------------------------------ inbound

    async def on_update(self, update: Update, _context: Any = None) -> None:
        """Entry point for every update (a python-telegram-bot handler callback). Settles the
        update (`expect`) when done, unless routing already did."""
        key = str(update.update_id)
        try:
            await self._dispatch(update)
        except asyncio.CancelledError:
            self._settle(key, False)  # stopping half-way: Telegram delivers it again
            raise
        finally:
            self._settle(key, True)

    async def _dispatch(self, update: Update) -> None:
        if update.callback_query is not None:
            await self._on_callback(update, update.callback_query)
        elif update.message is not None:
            await self._on_message(update, update.message)
        elif update.edited_message is not None:
            await self._on_edited(update, update.edited_message)
        elif update.my_chat_member is not None:
            await self._on_membership(update, update.my_chat_member)
        else:
            logger.info(
                "Telegram update %s (%s) is not handled: dropped",
                update.update_id,
                update_kind(update.to_dict()),
            )

    async def _on_message(self, update: Update, message: Message) -> None:
        chat = message.chat
        if not await self._private(update, chat):
            return
        user = message.from_user
        if user is None or user.is_bot:
            logger.info("Telegram update %s has no human sender: dropped", update.update_id)
            return
        language = language_hint(user)
        attachments: tuple[Attachment, ...] = ()
        located = location_of(message)
        if located is not None:
            lat, lon, data = located
            match = nearest_place(lat, lon, self.config.places, self.config.location_radius_km)
            if match is None:
                logger.info(
                    "Telegram update %s: location outside the service area", update.update_id
                )
                await self._notice(chat.id, pick(self.config.location_outside, language))
                return
            place = match.place
            data.update(
                area_code=place.code, area=place.name, distance_km=round(match.distance_km, 2)
            )
            text = place.name_en if language == "en" else place.name
            attachments = (Attachment("location", data),)
        elif message.text is not None:
            text = routed_text(message.text, self.config.commands, language)
            if not text:
                logger.info("Telegram update %s: empty command dropped", update.update_id)
                return
        else:
            attachment = attachment_of(message)
            if attachment is None:
                logger.info(
                    "Telegram update %s: service message in chat %s dropped",
                    update.update_id,
                    chat.id,
                )
                return
            text = (message.caption or "").strip()
            attachments = (attachment,)
        await self._route(
            Inbound(
                channel=CHANNEL_NAME,
                chat_id=str(chat.id),
                user_id=str(user.id),
                text=text,
                external_id=str(update.update_id),
                attachments=attachments,
                language=language,
                metadata={"telegram_message_id": message.message_id},
            )
        )

    async def _on_callback(self, update: Update, query: CallbackQuery) -> None:
        """A pressed inline button: always answered (Telegram shows a spinner until then), then
        its payload is routed as the customer's message."""
        language = language_hint(query.from_user)
        chat = query.message.chat if query.message is not None else None
        if chat is None or chat.type != ChatType.PRIVATE:
            await self._answer(query, None)
            if chat is not None and chat.type in _GROUP_CHATS:
                await self._decline_group(chat.id)
            else:
                logger.info("Telegram update %s: callback outside a private chat", update.update_id)
            return
        payload = self.tokens.decode(query.data)
        if payload is not None and not await self._offered(str(chat.id), payload):
            logger.warning("Telegram update %s: a button the bot never sent", update.update_id)
            payload = None
        if payload is None:
            logger.info("Telegram update %s: stale or unknown button", update.update_id)
            await self._answer(query, pick(self.config.stale_button, language))
            return
        await self._answer(query, None)
        await self._route(
            Inbound(
                channel=CHANNEL_NAME,
                chat_id=str(chat.id),
                user_id=str(query.from_user.id),
                text=payload,
                external_id=str(update.update_id),
                language=language,
                metadata={"telegram_callback": True},
            )
        )

    async def _offered(self, chat_id: str, payload: str) -> bool:
        """Whether a pressed button's payload may be routed: callback data is whatever the
        client sends, so a command (`/intent`) must be one the bot offered in this chat."""
        if self.router is None:
            return False
        return await screened(self.router, f"{CHANNEL_NAME}:{chat_id}", payload) == payload

    async def _answer(self, query: CallbackQuery, text: str | None) -> None:
        """Stop the button's spinner; a failure (e.g. a query too old) must not stop routing."""
        try:
            await self.bot.answer_callback_query(callback_query_id=query.id, text=text)
        except TelegramError as error:
            logger.info("Telegram callback query could not be answered: %s", error)

    async def _on_edited(self, update: Update, message: Message) -> None:
        if message.chat.type != ChatType.PRIVATE or location_of(message) is not None:
            # groups: declined already; live locations are re-sent as edits every few seconds
            logger.debug("Telegram update %s: edited message dropped", update.update_id)
            return
        await self._notice(
            message.chat.id, pick(self.config.edited_message, language_hint(message.from_user))
        )

    async def _on_membership(self, update: Update, change: ChatMemberUpdated) -> None:
        status = change.new_chat_member.status
        if change.chat.type in _GROUP_CHATS and status in (
            ChatMemberStatus.MEMBER,
            ChatMemberStatus.ADMINISTRATOR,
        ):
            await self._decline_group(change.chat.id)
        else:
            logger.info(
                "Telegram update %s: bot is now %s in a %s chat",
                update.update_id,
                status,
                change.chat.type,
            )

    async def _private(self, update: Update, chat: Chat) -> bool:
        if chat.type == ChatType.PRIVATE:
            return True
        if chat.type in _GROUP_CHATS:
            await self._decline_group(chat.id)
        else:
            logger.info("Telegram update %s from a %s chat dropped", update.update_id, chat.type)
        return False

    async def _decline_group(self, chat_id: int) -> None:
        """Tell a group, once, that the bot only serves private chats."""
        if chat_id in self._declined_groups:
            return
        self._declined_groups[chat_id] = None
        while len(self._declined_groups) > 10_000:
            self._declined_groups.popitem(last=False)
        logger.info("Telegram group chat %s declined", chat_id)
        try:
            await self.bot.send_message(chat_id=chat_id, text=self.config.group_declined)
        except Forbidden:
            logger.info("Telegram group chat %s: cannot post there", chat_id)
        except TelegramError as error:
            self._declined_groups.pop(chat_id, None)  # try again next time
            logger.warning("Telegram group chat %s: decline failed: %s", chat_id, error)

    # ------------------------------------------------------------------------------ routing

    async def _keep_typing(self, chat_id: str) -> None:
        while True:
            try:
                await self.typing(chat_id)
            except TelegramError as error:
                logger.debug("Telegram typing action for chat %s failed: %s", chat_id, error)
            await asyncio.sleep(self.config.typing_interval)

    async def _route(self, message: Inbound) -> None:
        """Hand the message to the router, which stores it (the update is settled then), keeps
        one chat's turns in order and sends the replies itself (`push`)."""
        if self.router is None:
            raise RuntimeError("Telegram channel has no router")
        key = message.external_id or ""
        stored = False

        def on_stored() -> None:
            nonlocal stored
            stored = True
            self._settle(key, True)

        typing = asyncio.create_task(self._keep_typing(message.chat_id))
        try:
            result = await self.router.handle(message, on_stored=on_stored, push=True)
        except Exception as error:
            if not stored and self._deliver_again(key):
                self._settle(key, False)
                logger.warning(
                    "Telegram update %s not stored (%s): delivered again later", key, error
                )
                return
            logger.error("Telegram update %s: the router failed: %s", key, describe_error(error))
            await self._notice(int(message.chat_id), pick(self.config.error, message.language))
            return
        finally:
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
        if result.duplicate:
            logger.info("Telegram update %s was delivered again: ignored", key)
        elif not result.delivered:  # a router that leaves the sending to the channel
            await self.send(message.chat_id, result.replies)

    # ------------------------------------------------------------------------------- errors

    async def on_error(self, update: object, context: Any) -> None:
        """python-telegram-bot's error handler: log, never re-raise, never log message content."""
        error = getattr(context, "error", None)
        update_id = update.update_id if isinstance(update, Update) else None
        if error is None:
            logger.error("Telegram update %s failed without an error", update_id)
        elif isinstance(error, NetworkError | Forbidden | BadRequest):
            logger.warning("Telegram update %s: %s: %s", update_id, type(error).__name__, error)
        else:
            logger.error("Telegram update %s failed: %s", update_id, describe_error(error))
