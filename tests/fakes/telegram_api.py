"""A fake Telegram Bot API server for tests: real HTTP on 127.0.0.1, as python-telegram-bot
speaks it, so the channel runs the real library end to end without the internet.

It answers `POST /bot<token>/<method>` (form-encoded, multipart or JSON bodies, as the Bot API
accepts) with `{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description"}`,
checks what Telegram checks where it matters to the channel (empty texts, 64-byte callback
data, unknown callback queries, getUpdates while a webhook is set), and records everything.

Like the Bot API (telegram-bot-api's `abort_long_poll`), a getUpdates that comes while another
one is still waiting ends the waiting one with 409 "Conflict: terminated by other getUpdates
request": two pollers of one bot keep cutting each other off. `overlaps` records each such
pair whose earlier client was still connected (a poller that went away, e.g. a killed
process, is not an overlap).

    async with FakeTelegram() as fake:
        settings = GatewaySettings(telegram_token=fake.token, telegram_api_base_url=fake.base_url)
        ...
        await fake.deliver(fake.text_update("停电了"))   # getUpdates, or POST to the webhook
        [sent] = await fake.wait_for_messages(1)

Supported methods: getMe, getUpdates (long polling with offset/limit/timeout/allowed_updates),
setWebhook, deleteWebhook, getWebhookInfo, sendMessage, sendPhoto, sendChatAction,
answerCallbackQuery, close, logOut. Anything else answers 404 like the real API, and so does
a token that is not shaped like one (an unknown one: 401).

`hold_sends()` holds sendMessage/sendPhoto back as a slow network on the way to Telegram would;
`release_sends(deliver=False)` then drops them (they never reached Telegram, e.g. the gateway
that sent them was killed meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import ClientSession, ClientTimeout, web

DEFAULT_TOKEN = "7012345678:AAFakeTokenForTestsOnly_abcdefghijk"
BOT_ID = 7012345678
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Update types Telegram sends when allowed_updates is not given (or empty).
DEFAULT_UPDATE_TYPES_EXCLUDED = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
# Form fields whose value is a plain string, never JSON (everything else is JSON-decoded).
_TEXT_FIELDS = frozenset(
    {
        "text",
        "caption",
        "url",
        "secret_token",
        "callback_query_id",
        "action",
        "photo",
        "parse_mode",
        "ip_address",
        "emoji",
    }
)


_SENDS = frozenset({"sendmessage", "sendphoto"})
_TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
"""A bot token's shape; the Bot API answers 404 to any other (401 to an unknown one)."""


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class LongPoll:
    """A getUpdates waiting for updates."""

    call: ApiCall
    request: web.Request
    ended: bool = False
    """A newer getUpdates came: this one is answered 409 Conflict."""

    @property
    def connected(self) -> bool:
        """Whether its client still waits for the answer (the connection is open)."""
        transport = self.request.transport
        return transport is not None and not transport.is_closing()


CONFLICT = (
    "Conflict: terminated by other getUpdates request;"
    " make sure that only one bot instance is running"
)


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    max_connections: int = 40


def _update_type(update: Mapping[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "")


class FakeTelegram:
    """The fake server and the test helpers around it."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "qingxi_power_bot",
        port: int = 0,
    ) -> None:
        self.token = token
        self.bot_user: dict[str, Any] = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "青溪供电所",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.port = port
        self.calls: list[ApiCall] = []
        self.sent: list[dict[str, Any]] = []
        """Messages the bot sent (sendMessage, sendPhoto), as Message objects."""
        self.chat_actions: list[tuple[int, str]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.webhook = Webhook()
        self.webhook_proxy: str | None = None
        """Deliver webhook POSTs to this base URL instead of the registered host (a reverse
        proxy): the registered URL's path is kept."""
        self.webhook_responses: list[int] = []
        self.pending: list[dict[str, Any]] = []
        self.overlaps: list[tuple[ApiCall, ApiCall]] = []
        """(waiting getUpdates, newer getUpdates that ended it) while the first one's client
        was still connected: two pollers at once."""
        self._long_poll: LongPoll | None = None
        self.chats: dict[int, dict[str, Any]] = {}
        """Chats seen in updates, so sent messages carry the right chat object."""
        self._allowed_updates: list[str] | None = None
        self._update_ids = itertools.count(100_001)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(9_000_001)
        self._open_queries: set[str] = set()
        self._failures: dict[str, list[ApiError]] = {}
        self._holding = False
        self._held: list[asyncio.Future[bool]] = []
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    # ------------------------------------------------------------------------ server life

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL would be for this server (no /bot suffix)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._file)
        self._closing = False
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])
        return self

    async def close(self) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()  # long polls return at once
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---------------------------------------------------------------------- HTTP protocol

    async def _file(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if not isinstance(value, str):
                    params[key] = value  # an uploaded file
                elif key in _TEXT_FIELDS:
                    params[key] = value
                else:
                    try:
                        params[key] = json.loads(value)
                    except ValueError:
                        params[key] = value
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if _TOKEN_SHAPE.fullmatch(request.match_info["token"]) is None:  # as Telegram does
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        try:
            params = await self._params(request)
        except ValueError:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: invalid body"},
                status=400,
            )
        handler = getattr(self, f"_m_{method.lower()}", None)
        call = ApiCall(method, params)
        self.calls.append(call)
        try:
            if method.lower() in _SENDS and self._holding:
                await self._held_back()
            failure = self._failures.get(method.lower())
            if failure:
                raise failure.pop(0)
            if method.lower() == "getupdates":
                result = await self._get_updates(params, LongPoll(call, request))
            elif handler is None:
                raise ApiError(404, "Not Found: method not found")
            else:
                result = await handler(params)
        except ApiError as error:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": error.code,
                "description": error.description,
            }
            if error.parameters:
                body["parameters"] = error.parameters
            return web.json_response(body, status=error.code)
        finally:
            await self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _held_back(self) -> None:
        """`hold_sends`: wait for `release_sends`; a dropped request never reached Telegram."""
        gate: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._held.append(gate)
        await self._notify()
        if not await gate:
            raise ApiError(502, "Bad Gateway: the request never reached Telegram")

    # ----------------------------------------------------------------------- API methods

    async def _m_getme(self, params: dict[str, Any]) -> Any:
        return self.bot_user

    async def _m_logout(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_close(self, params: dict[str, Any]) -> Any:
        return True

    async def _get_updates(self, params: dict[str, Any], poll: LongPoll) -> Any:
        if self.webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active;"
                " use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed_updates = list(allowed) if allowed else None
        if offset:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        earlier, self._long_poll = self._long_poll, poll
        if earlier is not None:  # the Bot API ends the waiting one: 409 to its client
            if earlier.connected:
                self.overlaps.append((earlier.call, poll.call))
            earlier.ended = True
            await self._notify()
        try:
            await self._wait_for_updates(poll, time.monotonic() + timeout)
        finally:
            if self._long_poll is poll:
                self._long_poll = None
        if poll.ended:
            raise ApiError(409, CONFLICT)
        return self.pending[:limit]

    async def _wait_for_updates(self, poll: LongPoll, deadline: float) -> None:
        """Until there are updates, the timeout, a newer getUpdates or the client gone."""
        async with self._changed:
            while True:
                self._drop_unwanted()
                if self.pending or self._closing or poll.ended or not poll.connected:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                # woken by news; every 50 ms at most to notice a client that went away
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))

    def _drop_unwanted(self) -> None:
        allowed = self._allowed_updates

        def wanted(update: dict[str, Any]) -> bool:
            kind = _update_type(update)
            if allowed:
                return kind in allowed
            return kind not in DEFAULT_UPDATE_TYPES_EXCLUDED

        self.pending = [u for u in self.pending if wanted(u)]

    async def _m_setwebhook(self, params: dict[str, Any]) -> Any:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and (
            not 1 <= len(str(secret)) <= 256
            or not all(c.isascii() and (c.isalnum() or c in "_-") for c in str(secret))
        ):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        allowed = params.get("allowed_updates")
        self.webhook = Webhook(
            url=url,
            secret_token=str(secret) if secret is not None else None,
            allowed_updates=list(allowed) if allowed is not None else None,
            max_connections=int(params.get("max_connections") or 40),
        )
        if params.get("drop_pending_updates"):
            self.pending.clear()
        return True

    async def _m_deletewebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = Webhook()
        if params.get("drop_pending_updates"):
            self.pending.clear()
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }
        if self.webhook.url:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates is not None:
                info["allowed_updates"] = self.webhook.allowed_updates
        return info

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            number = int(chat_id)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        return dict(self.chats.get(number) or {"id": number, "type": "private", "first_name": "?"})

    def _check_markup(self, markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")},
            "chat": self._chat(params.get("chat_id")),
            "date": int(time.time()),
            **content,
        }
        markup = self._check_markup(params.get("reply_markup"))
        if markup is not None:
            message["reply_markup"] = markup
        self.sent.append(message)
        return message

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return self._new_message(params, text=text)

    async def _m_sendphoto(self, params: dict[str, Any]) -> Any:
        photo = params.get("photo")
        if not photo:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        caption = params.get("caption")
        if caption is not None and len(str(caption)) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        content: dict[str, Any] = {
            "photo": [
                {
                    "file_id": "AgACAgFakePhoto",
                    "file_unique_id": "fakephoto",
                    "width": 800,
                    "height": 600,
                }
            ],
            "photo_url": str(photo),  # not in the Bot API: lets tests see what was sent
        }
        if caption:
            content["caption"] = str(caption)
        return self._new_message(params, **content)

    async def _m_sendchataction(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params.get("chat_id"))
        action = str(params.get("action") or "")
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((int(chat["id"]), action))
        return True

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        self.callback_answers.append(params)
        return True

    # ------------------------------------------------------------------------ test helpers

    def fail_next(self, method: str, code: int, description: str, **parameters: Any) -> None:
        """Make the next call of `method` fail, e.g. (sendMessage, 403, 'Forbidden: bot was
        blocked by the user')."""
        self._failures.setdefault(method.lower(), []).append(
            ApiError(code, description, parameters or None)
        )

    def hold_sends(self) -> None:
        """Hold sendMessage/sendPhoto requests back, as a slow network on the way to Telegram
        would: nothing is sent until `release_sends`."""
        self._holding = True

    @property
    def held(self) -> int:
        """Send requests waiting at `hold_sends`."""
        return len(self._held)

    def release_sends(self, *, deliver: bool = True) -> None:
        """Let the held requests through (`deliver=False`: they never reached Telegram, e.g.
        their sender was killed meanwhile: nothing is sent, the call fails) and stop
        holding."""
        self._holding = False
        held, self._held = self._held, []
        for gate in held:
            if not gate.done():
                gate.set_result(deliver)

    def calls_of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def _remember_chat(self, update: Mapping[str, Any]) -> None:
        for value in update.values():
            if isinstance(value, dict):
                chat = value.get("chat") or (value.get("message") or {}).get("chat")
                if isinstance(chat, dict) and "id" in chat:
                    self.chats[int(chat["id"])] = chat

    async def queue_update(self, update: dict[str, Any]) -> None:
        """Make an update available to getUpdates (long polling)."""
        self._remember_chat(update)
        self.pending.append(update)
        self.pending.sort(key=lambda u: u["update_id"])
        await self._notify()

    async def push_update(self, update: Any, *, secret: str | None = None) -> int:
        """POST an update to the registered webhook as Telegram does; returns the HTTP status.

        `secret` overrides the header (default: the registered secret token)."""
        if not self.webhook.url:
            raise AssertionError("no webhook is set")
        if isinstance(update, dict):
            self._remember_chat(update)
        url = self.webhook.url
        if self.webhook_proxy:
            parts = urlsplit(url)
            proxy = urlsplit(self.webhook_proxy)
            url = urlunsplit((proxy.scheme, proxy.netloc, parts.path, parts.query, ""))
        headers = {"Content-Type": "application/json"}
        token = self.webhook.secret_token if secret is None else secret
        if token:
            headers[SECRET_HEADER] = token
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=10))
        body = update if isinstance(update, str | bytes) else json.dumps(update)
        async with self._session.post(url, data=body, headers=headers) as response:
            await response.read()
            self.webhook_responses.append(response.status)
            return response.status

    async def deliver(self, update: dict[str, Any]) -> None:
        """Hand an update to the bot the way it is configured: webhook POST or getUpdates."""
        if self.webhook.url:
            status = await self.push_update(update)
            if status != 200:
                raise AssertionError(f"webhook answered {status}")
        else:
            await self.queue_update(update)

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait up to `within` seconds until `predicate()` holds (checked after every API call
        and update)."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), within)
            except TimeoutError:
                raise AssertionError(f"timed out after {within}s waiting for the fake") from None

    async def wait_for_messages(
        self, count: int, *, chat_id: int | None = None, within: float = 5.0
    ) -> list[dict[str, Any]]:
        """The first `count` messages the bot sent (to `chat_id`), once there are that many."""

        def matching() -> list[dict[str, Any]]:
            return [m for m in self.sent if chat_id is None or m["chat"]["id"] == chat_id]

        await self.wait_for(lambda: len(matching()) >= count, within)
        return matching()[:count]

    async def wait_for_calls(
        self, method: str, count: int = 1, within: float = 5.0
    ) -> list[ApiCall]:
        await self.wait_for(lambda: len(self.calls_of(method)) >= count, within)
        return self.calls_of(method)

    async def settle(self, seconds: float = 0.3) -> None:
        """Give the bot time to do something it should not do (then assert it did not)."""
        await asyncio.sleep(seconds)

    # -------------------------------------------------------------------- update builders

    def user(
        self,
        user_id: int = 424242,
        *,
        first_name: str = "建国",
        language_code: str | None = "zh-hans",
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        return user

    @staticmethod
    def private_chat(user: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}

    @staticmethod
    def group_chat(chat_id: int = -1001234567890, *, kind: str = "supergroup") -> dict[str, Any]:
        return {"id": chat_id, "type": kind, "title": "青溪镇东山村群"}

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def message_update(
        self,
        *,
        user: dict[str, Any] | None = None,
        chat: dict[str, Any] | None = None,
        kind: str = "message",
        update_id: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        """An update carrying a message; `content` holds the message's fields (text, voice...)."""
        user = user or self.user()
        chat = chat or self.private_chat(user)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        if isinstance(content.get("text"), str) and content["text"].startswith("/"):
            command = content["text"].split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if kind == "edited_message":
            message["edit_date"] = message["date"] + 5
        return {"update_id": update_id or self.next_update_id(), kind: message}

    def text_update(self, text: str, **kwargs: Any) -> dict[str, Any]:
        return self.message_update(text=text, **kwargs)

    def callback_update(
        self,
        message: Mapping[str, Any],
        data: str,
        *,
        user: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The customer pressing an inline button with `data` under a message the bot sent."""
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        user = user or self.user(int(message["chat"]["id"]))
        return {
            "update_id": self.next_update_id(),
            "callback_query": {
                "id": query_id,
                "from": user,
                "message": dict(message),
                "chat_instance": "-5812345678901234567",
                "data": data,
            },
        }

    @staticmethod
    def buttons_of(message: Mapping[str, Any]) -> list[dict[str, Any]]:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]
