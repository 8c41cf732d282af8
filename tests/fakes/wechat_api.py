"""A fake of WeChat's server API (api.weixin.qq.com) on loopback, with WeChat's real shapes and
error codes, written from WeChat's documentation apart from the channel's code:

- GET /cgi-bin/token?grant_type=client_credential&appid&secret → {"access_token",
  "expires_in"}; a wrong AppID 40013, a wrong secret 40125, `whitelisted = False` 40164. A new
  token retires the previous ones after `overlap` seconds (WeChat: 5 minutes);
- POST /cgi-bin/message/custom/send?access_token (客服消息): text and msgmenu; the customer-service
  window (`window` seconds after the customer's last interaction, `interacted()`) 45015; more
  than `quota` messages since that interaction 45047; `custom_allowed = False` 48001; a text
  over 2048 bytes 45002;
- POST /cgi-bin/message/template/send (模板消息): an unknown template_id 40037; answers a msgid;
- POST /cgi-bin/menu/create: WeChat's menu limits (40016 buttons, 40018 name, 40019 key,
  40017 type);
- POST /cgi-bin/openapi/quota/get {"cgi_path"}: an interface's daily quota;
- every call: no token 41001, an unknown or revoked token 40001, an expired one 42001; JSON
  with "\\uXXXX" escapes 40033 (WeChat wants UTF-8 as it is), malformed JSON 47001;
  `fail_next` answers the next calls with the codes it lists (-1 "system busy", 43004 not a
  follower, 45009 / 45011 the account's daily / minute quota included).

`revoke_tokens()` and `expire_tokens()` make WeChat refuse the tokens handed out so far.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import free_port

MESSAGES = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40033: "invalid charset. please check your request, if include \\uxxxx will create fail!",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40164: "invalid ip, not in whitelist",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    45002: "content size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit must slower retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    48001: "api unauthorized",
}


def error(code: int) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": f"{MESSAGES.get(code, 'error')} rid: x"})


def ok(**extra: Any) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", **extra})


@dataclass
class Token:
    value: str
    expires: float
    retired_at: float | None = None
    revoked: bool = False


@dataclass
class FakeWeChat:
    app_id: str = "wx51fa4e0cd2b7a913"
    app_secret: str = "0f8e6c1b2a3d4e5f60718293a4b5c6d7"
    token_lifetime: int = 7200
    overlap: float = 300.0
    window: float = 48 * 3600
    quota: int = 5
    custom_allowed: bool = True
    whitelisted: bool = True
    templates: set[str] = field(default_factory=lambda: {"TPL_service_notice"})
    fail_next: list[int] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    sent: list[dict[str, Any]] = field(default_factory=list)
    """Customer-service messages WeChat accepted, as posted."""
    template_messages: list[dict[str, Any]] = field(default_factory=list)
    menus: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    refused: list[tuple[str, int]] = field(default_factory=list)
    """(path, errcode) of every call answered with an error."""
    _tokens: dict[str, Token] = field(default_factory=dict)
    _interactions: dict[str, float] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom)
        app.router.add_post("/cgi-bin/message/template/send", self._template)
        app.router.add_post("/cgi-bin/menu/create", self._menu)
        app.router.add_post("/cgi-bin/openapi/quota/get", self._quota)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what the tests do to it -------------------------------------------------------------

    def interacted(self, openid: str) -> None:
        """The customer wrote (or followed, or clicked): the window opens, the quota resets."""
        self._interactions[openid] = self.clock()
        self._counts[openid] = 0

    def revoke_tokens(self) -> None:
        for token in self._tokens.values():
            token.revoked = True

    def expire_tokens(self) -> None:
        for token in self._tokens.values():
            token.expires = self.clock() - 1

    def texts_to(self, openid: str) -> list[str]:
        return [m["text"]["content"] for m in self.sent if m["touser"] == openid and "text" in m]

    # --- the API -------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("grant_type") != "client_credential" or query.get("appid") != self.app_id:
            return error(40013)
        if query.get("secret") != self.app_secret:
            return error(40125)
        if not self.whitelisted:
            return error(40164)
        self.token_requests += 1
        now = self.clock()
        for token in self._tokens.values():
            if token.retired_at is None:
                token.retired_at = now
        value = secrets.token_urlsafe(96)  # WeChat's are 512-character-ish strings
        self._tokens[value] = Token(value, now + self.token_lifetime)
        return web.json_response({"access_token": value, "expires_in": self.token_lifetime})

    def _check_token(self, request: web.Request) -> int:
        value = request.query.get("access_token", "")
        if not value:
            return 41001
        token = self._tokens.get(value)
        now = self.clock()
        if token is None or token.revoked:
            return 40001
        if token.retired_at is not None and now - token.retired_at > self.overlap:
            return 40001
        if token.expires <= now:
            return 42001
        return 0

    async def _call(self, request: web.Request) -> tuple[int, dict[str, Any]]:
        """(errcode, JSON body) of an API call: its token, its encoding, injected failures."""
        code = self._check_token(request)
        raw = await request.read()
        if not code and b"\\u" in raw:
            code = 40033
        body: dict[str, Any] = {}
        if not code:
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                code = 47001
        if not code and self.fail_next:
            code = self.fail_next.pop(0)
        if code:
            self.refused.append((request.path, code))
        return code, body

    def _refuse(self, request: web.Request, code: int) -> web.Response:
        self.refused.append((request.path, code))
        return error(code)

    async def _custom(self, request: web.Request) -> web.Response:
        code, body = await self._call(request)
        if code:
            return error(code)
        openid = str(body.get("touser", ""))
        code = self._custom_refusal(openid, body)
        if code:
            return self._refuse(request, code)
        self._counts[openid] = self._counts.get(openid, 0) + 1
        self.sent.append(body)
        return ok()

    def _custom_refusal(self, openid: str, body: dict[str, Any]) -> int:
        if not self.custom_allowed:
            return 48001
        if not openid:
            return 40003
        last = self._interactions.get(openid)
        if last is None or self.clock() - last > self.window:
            return 45015
        if self._counts.get(openid, 0) >= self.quota:
            return 45047
        kind = body.get("msgtype")
        if kind == "text":
            content = body.get("text", {}).get("content", "")
            if not content or len(content.encode("utf-8")) > 2048:
                return 45002
        elif kind != "msgmenu":
            return 47001
        return 0

    async def _template(self, request: web.Request) -> web.Response:
        code, body = await self._call(request)
        if code:
            return error(code)
        if body.get("template_id") not in self.templates:
            return self._refuse(request, 40037)
        if not body.get("touser"):
            return self._refuse(request, 40003)
        self.template_messages.append(body)
        return ok(msgid=len(self.template_messages))

    async def _quota(self, request: web.Request) -> web.Response:
        code, body = await self._call(request)
        if code:
            return error(code)
        used = len(self.sent) if body.get("cgi_path") == "/cgi-bin/message/custom/send" else 0
        return ok(quota={"daily_limit": 500_000, "used": used, "remain": 500_000 - used})

    async def _menu(self, request: web.Request) -> web.Response:
        code, body = await self._call(request)
        if code:
            return error(code)
        code = _menu_refusal(body)
        if code:
            return self._refuse(request, code)
        self.menus.append(body)
        return ok()


def _bytes(button: dict[str, Any]) -> int:
    return len(str(button.get("name", "")).encode("utf-8"))


def _leaf_refusal(leaf: dict[str, Any]) -> int:
    kind = leaf.get("type")
    if kind == "click":
        return 0 if 0 < len(str(leaf.get("key", "")).encode("utf-8")) <= 128 else 40019
    return 0 if kind == "view" and leaf.get("url") else 40017


def _menu_refusal(body: dict[str, Any]) -> int:
    buttons = body.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return 40016
    for button in buttons:
        if not 0 < _bytes(button) <= 16:
            return 40018
        subs = button.get("sub_button")
        if subs is None:
            leaves = [button]
        elif isinstance(subs, list) and 1 <= len(subs) <= 5:
            leaves = subs
        else:
            return 40016
        for leaf in leaves:
            code = (
                40018 if leaf is not button and not 0 < _bytes(leaf) <= 60 else _leaf_refusal(leaf)
            )
            if code:
                return code
    return 0
