"""Where the Bot API is, and why it refused the bot at start-up, in words that point at the
setting to fix.

TELEGRAM_API_BASE_URL is the Bot API server's root (https://api.telegram.org unless you run your
own). python-telegram-bot's own `base_url` has a `/bot` suffix, so that form is accepted too:
the suffix is removed (and logged). The Bot API answers getMe with 401 when the token is wrong or
revoked, and with 404 when the URL does not lead to a bot: a malformed token, or a base URL that
is not a Bot API server's root. Python-telegram-bot raises the same InvalidToken for both, so at
start-up the gateway asks getMe once more itself and says which it was, the token masked.
"""

from __future__ import annotations

import logging
import re

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_ROOT = "https://api.telegram.org"
PROBE_SECONDS = 10.0
_TOKEN_SHAPE = re.compile(r"[0-9]{5,}:[A-Za-z0-9_-]{30,}")
"""What @BotFather hands out: the bot's id, a colon, a 35-character secret."""


def api_root(configured: str | None) -> str | None:
    """TELEGRAM_API_BASE_URL as the server's root, without python-telegram-bot's /bot suffix
    (None: Telegram's own server)."""
    root = (configured or "").strip().rstrip("/")
    if root.endswith("/bot"):
        root = root[: -len("/bot")].rstrip("/")
    return root or None


def log_api_root(configured: str | None) -> str | None:
    """`api_root`, saying so when the /bot suffix was removed."""
    root = api_root(configured)
    if root and (configured or "").strip().rstrip("/") != root:
        logger.info(
            "TELEGRAM_API_BASE_URL ends in /bot (python-telegram-bot's base_url form): using"
            " %s, the Bot API server's root",
            root,
        )
    return root


def masked(token: str) -> str:
    """The token as a log may show it: the bot's id, never the secret after the colon."""
    bot_id, colon, _ = token.partition(":")
    return f"{bot_id}:***" if colon and bot_id.isdigit() else "***"


def get_me_url(root: str | None, token: str) -> str:
    return f"{root or DEFAULT_ROOT}/bot{token}/getMe"


async def get_me_status(root: str | None, token: str) -> int | None:
    """The HTTP status of getMe (None: no answer within PROBE_SECONDS)."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PROBE_SECONDS)) as session,
            session.get(get_me_url(root, token)) as answer,
        ):
            return answer.status
    except (aiohttp.ClientError, TimeoutError):
        return None


def refusal(status: int | None, root: str | None, token: str) -> str:
    """What to fix, for getMe's `status`."""
    url = get_me_url(root, masked(token))
    if status == 401:
        return (
            f"TELEGRAM_BOT_TOKEN was rejected by the Bot API (401 Unauthorized at {url}): the"
            " token is wrong or was revoked; copy it again from @BotFather"
        )
    if status == 404:
        if not _TOKEN_SHAPE.fullmatch(token):
            hint = "; the token does not look like one, so check it first"
        elif root:
            hint = "; the token looks like one, so check the base URL first"
        else:
            hint = ""
        return (
            f"the Bot API answered 404 Not Found at {url}: the base URL or the token is wrong."
            f" TELEGRAM_API_BASE_URL ({root or 'unset: ' + DEFAULT_ROOT}) must be the root of a"
            f" Bot API server, e.g. {DEFAULT_ROOT}, with nothing after it; TELEGRAM_BOT_TOKEN"
            f" must be the token @BotFather gave (<bot id>:<35 characters>){hint}"
        )
    answer = f"HTTP {status}" if status is not None else "no answer on a second try"
    return f"TELEGRAM_BOT_TOKEN was rejected by the Bot API at {url} ({answer})"
