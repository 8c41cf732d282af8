"""The account's secrets, from the environment only (GatewaySettings: WECHAT_APP_ID,
WECHAT_APP_SECRET, WECHAT_TOKEN, WECHAT_ENCODING_AES_KEY), checked at start-up against what
the 公众平台 hands out, with messages that name the variable to fix (never its value)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.channels.wechat.crypto import aes_key
from bot.settings import ConfigError, GatewaySettings
from store.configuration.yamlfile import ConfigError as ConfFileError

_APP_ID = re.compile(r"[A-Za-z0-9_-]{4,64}")
_TOKEN = re.compile(r"[A-Za-z0-9]{3,32}")
"""公众平台: 令牌(Token) is 3-32 letters and digits."""


class WeChatConfigError(ConfigError, ConfFileError):
    """A WeChat setting is wrong: both a settings and a configuration-file error, so that
    whichever of the two the entry point catches, it reports it instead of a traceback."""


@dataclass(frozen=True)
class WeChatSecrets:
    app_id: str
    app_secret: str
    token: str
    encoding_aes_key: str | None


def check_secrets(settings: GatewaySettings, security_mode: str) -> WeChatSecrets:
    """The secrets, or WeChatConfigError saying which variable is missing or malformed."""
    app_id = settings.wechat_app_id or ""
    if not _APP_ID.fullmatch(app_id):
        raise WeChatConfigError(
            "WECHAT_APP_ID must be the account's AppID (e.g. wx0123456789abcdef)"
        )
    if not settings.wechat_app_secret:
        raise WeChatConfigError("WECHAT_APP_SECRET is not set (公众平台 → 设置与开发 → 基本配置)")
    token = settings.wechat_token or ""
    if not _TOKEN.fullmatch(token):
        raise WeChatConfigError(
            "WECHAT_TOKEN must be the server configuration's Token (令牌): 3-32 letters and digits"
        )
    aes = settings.wechat_encoding_aes_key
    if security_mode != "plaintext":
        if not aes:
            raise WeChatConfigError(
                f"conf/wechat.yml security_mode is {security_mode}: set WECHAT_ENCODING_AES_KEY"
            )
        try:
            aes_key(aes)
        except ValueError as exc:
            raise WeChatConfigError(f"WECHAT_ENCODING_AES_KEY: {exc}") from None
    return WeChatSecrets(app_id, settings.wechat_app_secret, token, aes)
