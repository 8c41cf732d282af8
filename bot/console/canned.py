"""conf/canned_replies.yml: the station's ready-made answers for the console (the database's
`canned_replies` rows are listed after them). Read and checked at start-up: a malformed file
stops the gateway with the file and key named; a missing file means no such answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from store.configuration.yamlfile import read_yaml

FILE_NAME: Final = "canned_replies.yml"
MAX_TITLE: Final = 128


@dataclass(frozen=True)
class Canned:
    key: str
    title: str
    text_zh: str
    text_en: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.key,
            "title": self.title,
            "text_zh": self.text_zh,
            "text_en": self.text_en,
        }


def load_canned_replies(conf_dir: Path) -> tuple[Canned, ...]:
    path = conf_dir / FILE_NAME
    if not path.exists():
        return ()
    root = read_yaml(path)
    replies = []
    for index, node in enumerate(root["replies"].as_list(), start=1):
        title = node["title"].as_str()
        if len(title) > MAX_TITLE:
            node["title"].fail(f"at most {MAX_TITLE} characters")
        text = node["text"].as_label()
        replies.append(Canned(f"conf-{index}", title, text.zh, text.en))
    return tuple(replies)
