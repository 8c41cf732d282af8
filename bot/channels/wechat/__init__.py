"""The WeChat Official Account (公众号) channel (docs/wechat.md).

`setup(app)` adds it to the gateway when WECHAT_APP_ID is set: the server configuration's URL
(conf/wechat.yml `path`, default /wechat) for WeChat's verification GET and its message POSTs,
and the channel the router sends through (passive replies, customer-service messages, template
messages). Call it after `app[SETTINGS]` is set and before the app starts; `app[ROUTER]` is
read when the app starts. `python -m bot.channels.wechat menu` creates the account's menu.

| module | what |
|---|---|
| `webhook.py` | the URL: signatures, the body opened, the message routed, the passive reply |
| `envelope.py`, `crypto.py` | WeChat's XML, plaintext and safe (AES) mode, signatures |
| `mapping.py` | messages and events → the gateway's `Inbound` (or a notice, or nothing) |
| `buttons.py` | reply buttons as a numbered list; a digit (or a msgmenu tap) back to its payload |
| `passive.py` | replies that go into the waiting request (WeChat's 5 seconds) |
| `channel.py` | `Channel.send`: passive, customer-service message, template; notes to staff |
| `limits.py` | quotas as `SendLater`, one follower's limits as `NotNow`, remembered |
| `api.py`, `token.py` | WeChat's API; the access token shared by every replica (database) |
| `followers.py` | following and unfollowing recorded |
| `account_menu.py`, `cli.py` | the account's menu from configuration, and the command |
| `config.py`, `credentials.py` | conf/wechat.yml; the secrets from the environment |
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.channels.wechat.config import WeChatConfig, load_wechat_config
from bot.channels.wechat.service import WeChatService
from bot.keys import SETTINGS

__all__ = ["WECHAT", "WeChatConfig", "WeChatService", "setup"]

logger = logging.getLogger(__name__)

WECHAT: web.AppKey[WeChatService] = web.AppKey("wechat", WeChatService)
"""The running WeChat service (present only when the channel is enabled)."""


def setup(app: web.Application, config: WeChatConfig | None = None) -> None:
    """Enable the WeChat channel on `app` (a no-op without WECHAT_APP_ID).

    `config` defaults to wechat.yml (and the areas' coordinates) in the settings' configuration
    directory. Raises a ConfigError on invalid secrets or configuration.
    """
    settings = app[SETTINGS]
    if not settings.wechat_app_id:
        logger.info("WeChat channel off: WECHAT_APP_ID is not set")
        return
    service = WeChatService(settings, config or load_wechat_config(settings.conf_dir))
    app[WECHAT] = service
    service.add_routes(app)
    app.cleanup_ctx.append(service.lifecycle)
