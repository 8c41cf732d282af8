"""WeChat's server API as the channel uses it: the access token, customer-service messages
(客服消息), template messages (模板消息) and the account's menu.

Every answer carries `errcode` (0: done). Errors are raised, never swallowed, as one of:

- `WeChatUnreachable` (a `ConnectionError`: the router keeps the message and tries again
  later): no answer, HTTP trouble, or WeChat's "system busy" (-1);
- `WeChatRefused` with the code: the token (40001, 40014, 42001: fetched again and the call
  repeated once, `TokenKeeper`), the customer-service window (45015), too many messages
  (45047), the account's quotas (45009 a day, 45011 a minute), no permission for the
  interface (48001), not a follower (43004) and others.

The JSON is sent as UTF-8 as it is: WeChat takes "\\uXXXX" escapes literally (40033 on some
interfaces, escapes shown to the customer on others).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import aiohttp

log = logging.getLogger(__name__)

DEFAULT_ROOT: Final = "https://api.weixin.qq.com"
SYSTEM_BUSY: Final = -1
TOKEN_REFUSED: Final = frozenset({40001, 40014, 42001})
NOT_FOLLOWING: Final = 43004
DAILY_QUOTA: Final = 45009
MINUTE_QUOTA: Final = 45011
WINDOW_CLOSED: Final = 45015
TOO_MANY: Final = 45047
NO_PERMISSION: Final = 48001
TOKEN_HINTS: Final[Mapping[int, str]] = {
    40001: "the AppSecret is wrong (reset it in 基本配置, set WECHAT_APP_SECRET)",
    40125: "the AppSecret is wrong (set WECHAT_APP_SECRET to the one shown in 基本配置)",
    40013: "the AppID is wrong (WECHAT_APP_ID)",
    40164: "this server's address is not on the account's IP whitelist (基本配置 → IP白名单)",
    40243: "the AppSecret was frozen: unfreeze or reset it in 基本配置",
}


class WeChatUnreachable(ConnectionError):
    """No usable answer from WeChat now: try again later."""


class WeChatRefused(RuntimeError):
    """WeChat answered with an error code."""

    def __init__(self, code: int, message: str, call: str) -> None:
        super().__init__(f"{call}: WeChat error {code}: {message}")
        self.code = code
        self.wechat_message = message


@dataclass(frozen=True)
class Credentials:
    app_id: str
    app_secret: str


def api_root(configured: str | None) -> str:
    return (configured or "").strip().rstrip("/") or DEFAULT_ROOT


async def _answer(response: aiohttp.ClientResponse, call: str) -> dict[str, Any]:
    if response.status >= 500 or response.status == 429:
        raise WeChatUnreachable(f"{call}: HTTP {response.status}")
    try:
        data = json.loads(await response.read())
    except ValueError:
        raise WeChatUnreachable(f"{call}: HTTP {response.status}, not JSON") from None
    if not isinstance(data, dict):
        raise WeChatUnreachable(f"{call}: HTTP {response.status}, not a JSON object")
    code = data.get("errcode", 0)
    if code == SYSTEM_BUSY:
        raise WeChatUnreachable(f"{call}: WeChat is busy (-1)")
    if isinstance(code, int) and code != 0:
        raise WeChatRefused(code, str(data.get("errmsg", ""))[:200], call)
    return data


async def fetch_token(
    session: aiohttp.ClientSession, root: str, credentials: Credentials, seconds: float
) -> tuple[str, int]:
    """A new access token and its lifetime in seconds (GET /cgi-bin/token). The AppSecret is a
    query parameter there: the URL is never logged."""
    params = {
        "grant_type": "client_credential",
        "appid": credentials.app_id,
        "secret": credentials.app_secret,
    }
    try:
        async with session.get(
            f"{root}/cgi-bin/token", params=params, timeout=aiohttp.ClientTimeout(total=seconds)
        ) as response:
            data = await _answer(response, "token")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise WeChatUnreachable(f"token: {type(exc).__name__}") from None
    token, lifetime = data.get("access_token"), data.get("expires_in")
    if not isinstance(token, str) or not token or not isinstance(lifetime, int):
        raise WeChatUnreachable("token: the answer has no access_token")
    return token, lifetime


class TokenSource(Protocol):
    """What the API needs of the token keeper (bot/channels/wechat/token.py)."""

    async def get(self) -> str: ...

    async def refused(self, token: str) -> None: ...


class WeChatApi:
    """The calls of one account; each with the shared token, fetched again once if refused."""

    def __init__(
        self, session: aiohttp.ClientSession, root: str, tokens: TokenSource, timeout: float
    ) -> None:
        self._session = session
        self._root = root
        self._tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST the payload (UTF-8 JSON, no escapes) with the token; once more with a fresh
        token when WeChat refused the token."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        for attempt in (1, 2):
            token = await self._tokens.get()
            try:
                return await self._post(path, body, token)
            except WeChatRefused as refused:
                if refused.code not in TOKEN_REFUSED or attempt == 2:
                    raise
                log.info("WeChat refused the access token (%s): fetching a new one", refused.code)
                await self._tokens.refused(token)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, path: str, body: bytes, token: str) -> dict[str, Any]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        try:
            async with self._session.post(
                f"{self._root}{path}",
                params={"access_token": token},
                data=body,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                return await _answer(response, path)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WeChatUnreachable(f"{path}: {type(exc).__name__}") from None

    async def send_custom(self, openid: str, message: Mapping[str, Any]) -> None:
        """A customer-service message (`message`: msgtype and its part)."""
        await self.call("/cgi-bin/message/custom/send", {"touser": openid, **message})

    async def send_text(self, openid: str, text: str) -> None:
        await self.send_custom(openid, {"msgtype": "text", "text": {"content": text}})

    async def send_template(
        self, openid: str, template_id: str, data: Mapping[str, str], url: str = ""
    ) -> None:
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {name: {"value": value} for name, value in data.items()},
        }
        if url:
            payload["url"] = url
        await self.call("/cgi-bin/message/template/send", payload)

    async def create_menu(self, menu: Mapping[str, Any]) -> None:
        await self.call("/cgi-bin/menu/create", menu)

    async def quota(self, path: str) -> dict[str, Any]:
        """An interface's daily quota (daily_limit, used, remain): a call that proves the
        token works (the operators' check command)."""
        answer = await self.call("/cgi-bin/openapi/quota/get", {"cgi_path": path})
        quota = answer.get("quota")
        return quota if isinstance(quota, dict) else {}
