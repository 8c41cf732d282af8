"""Operators' commands for the Official Account (docs/wechat.md):

    python -m bot.channels.wechat menu [--dry-run]   # the account's menu from conf/wechat.yml
    python -m bot.channels.wechat check              # AppID, AppSecret, IP whitelist, quota

Both read the secrets from the environment (WECHAT_APP_ID, WECHAT_APP_SECRET) and share the
access token with the running gateways through DATABASE_URL, as the gateway does: a command
that fetched its own token would retire theirs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from bot.channels.wechat.api import Credentials, WeChatRefused, WeChatUnreachable
from bot.channels.wechat.config import WeChatConfig, load_wechat_config
from bot.channels.wechat.service import connect
from bot.settings import ConfigError, GatewaySettings
from store.configuration.yamlfile import ConfigError as ConfFileError

CUSTOM_SEND = "/cgi-bin/message/custom/send"
MENU_HINTS = {
    40033: "a name contains characters WeChat does not accept",
    40016: "too many or too few buttons",
    40018: "a button name is too long",
    40019: "a button key is too long",
    48001: "the account may not set a menu through the API (an unverified subscription"
    " account: set it in 公众平台 → 自定义菜单 instead)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.channels.wechat", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    menu = commands.add_parser("menu", help="create the account's menu from conf/wechat.yml")
    menu.add_argument("--dry-run", action="store_true", help="print the menu, send nothing")
    commands.add_parser("check", help="fetch (or reuse) the access token")
    return parser


def _credentials(settings: GatewaySettings) -> Credentials:
    if not settings.wechat_app_id or not settings.wechat_app_secret:
        raise ConfigError("set WECHAT_APP_ID and WECHAT_APP_SECRET (docs/wechat.md)")
    return Credentials(settings.wechat_app_id, settings.wechat_app_secret)


async def _menu(settings: GatewaySettings, config: WeChatConfig) -> str:
    async with connect(settings, config, _credentials(settings)) as (api, _, _):
        await api.create_menu(config.menu.as_json())
    return "菜单已创建：WeChat 会在几分钟内把新菜单推给关注者 (menu created)"


async def _check(settings: GatewaySettings, config: WeChatConfig) -> str:
    async with connect(settings, config, _credentials(settings)) as (api, _, _):
        quota = await api.quota(CUSTOM_SEND)
    left = f"{quota.get('remain', '?')}/{quota.get('daily_limit', '?')}"
    return (
        f"AppID、AppSecret 和 IP 白名单都正确，客服消息接口今日剩余 {left} (the access token works)"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = GatewaySettings.from_env(dict(os.environ))
        config = load_wechat_config(settings.conf_dir)
        if args.command == "menu" and args.dry_run:
            print(json.dumps(config.menu.as_json(), ensure_ascii=False, indent=2))
            return 0
        work = _menu if args.command == "menu" else _check
        print(asyncio.run(work(settings, config)))
    except (ConfigError, ConfFileError) as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 3
    except WeChatRefused as exc:
        hint = MENU_HINTS.get(exc.code, "")
        print(f"WeChat refused: {exc}{'; ' + hint if hint else ''}", file=sys.stderr)
        return 1
    except WeChatUnreachable as exc:
        print(f"WeChat could not be reached or gave no token: {exc}", file=sys.stderr)
        return 1
    return 0
