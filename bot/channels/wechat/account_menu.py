"""The account's menu (自定义菜单) from conf/wechat.yml: checked against WeChat's limits when
the configuration is read, sent to WeChat as its menu/create JSON, and its clicks mapped back
to what they mean (`MenuEntry.send`).

WeChat's limits: at most 3 top-level buttons, at most 5 under each; a top-level name of at
most 16 bytes (4 Chinese characters), a sub-button's at most 60 bytes (WeChat's client shows
about 8 characters); a click key at most 128 bytes. The limits are WeChat's, not ours, hence
constants here rather than configuration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store.configuration.yamlfile import ConfigError, Node

MAX_TOP = 3
MAX_SUB = 5
MAX_TOP_NAME_BYTES = 16
MAX_SUB_NAME_BYTES = 60
MAX_KEY_BYTES = 128
_KEY = re.compile(r"[A-Za-z0-9_.:-]+")


@dataclass(frozen=True)
class MenuEntry:
    name: str
    key: str = ""
    """A click button's key (`send` says what it means), or "" for a link or a sub-menu."""
    send: str = ""
    url: str = ""
    sub: tuple[MenuEntry, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The button as WeChat's menu/create takes it."""
        if self.sub:
            return {"name": self.name, "sub_button": [entry.as_json() for entry in self.sub]}
        if self.url:
            return {"type": "view", "name": self.name, "url": self.url}
        return {"type": "click", "name": self.name, "key": self.key}


@dataclass(frozen=True)
class AccountMenu:
    entries: tuple[MenuEntry, ...]

    def as_json(self) -> dict[str, Any]:
        return {"button": [entry.as_json() for entry in self.entries]}

    @property
    def clicks(self) -> Mapping[str, str]:
        """Click key → what the click means (`send`)."""
        found: dict[str, str] = {}
        for entry in self.entries:
            for leaf in entry.sub or (entry,):
                if leaf.key:
                    found[leaf.key] = leaf.send
        return found


def _name(node: Node, limit: int) -> str:
    name = node["name"].as_str()
    if len(name.encode("utf-8")) > limit:
        node["name"].fail(f"a name of at most {limit} bytes (WeChat's limit)")
    return name


def _leaf(node: Node, limit: int, keys: set[str]) -> MenuEntry:
    name = _name(node, limit)
    url = node.get("url")
    if url is not None:
        link = url.as_str()
        if not link.startswith(("https://", "http://")):
            url.fail("an http(s):// address")
        return MenuEntry(name=name, url=link)
    key = node["key"].as_str()
    if not _KEY.fullmatch(key) or len(key) > MAX_KEY_BYTES:
        node["key"].fail(f"a key of 1-{MAX_KEY_BYTES} characters A-Z a-z 0-9 _ . : -")
    if key in keys:
        node["key"].fail("a key no other button has")
    keys.add(key)
    return MenuEntry(name=name, key=key, send=node["send"].as_str())


def load_menu(node: Node) -> AccountMenu:
    """conf/wechat.yml `menu`: ConfigError naming the key when WeChat would refuse it."""
    tops = node.as_list()
    if not 1 <= len(tops) <= MAX_TOP:
        raise ConfigError(f"{node.path}: {node.key}: 1 to {MAX_TOP} buttons (WeChat's limit)")
    keys: set[str] = set()
    entries: list[MenuEntry] = []
    for top in tops:
        sub = top.get("sub")
        if sub is None:
            entries.append(_leaf(top, MAX_TOP_NAME_BYTES, keys))
            continue
        children = sub.as_list()
        if not 1 <= len(children) <= MAX_SUB:
            sub.fail(f"1 to {MAX_SUB} buttons (WeChat's limit)")
        leaves = tuple(_leaf(child, MAX_SUB_NAME_BYTES, keys) for child in children)
        entries.append(MenuEntry(name=_name(top, MAX_TOP_NAME_BYTES), sub=leaves))
    return AccountMenu(tuple(entries))
