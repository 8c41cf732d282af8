"""conf/gateway.yml: every text present in both languages, placeholders checked at start-up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.texts import REPLY_PLACEHOLDERS, load_texts, render
from store.config import PROJECT_ROOT, ConfigError, Label, load_settings

CONF = PROJECT_ROOT / "conf"


def test_the_shipped_texts_load() -> None:
    texts = load_texts(CONF)
    assert set(texts.replies) == set(REPLY_PLACEHOLDERS)
    assert "系统繁忙，您的消息已记录，稍后会自动回复您" in texts.reply(
        "busy", "zh", hotline="95598"
    )
    assert texts.reply("busy", "en", hotline="95598").startswith("The system is busy")
    assert "95598" in texts.reply("error", "zh", hotline="95598")
    assert "200" in texts.reply("too_long", "en", max_chars=200)
    assert {"dispatched", "accepted", "on_site", "restored", "closed"} <= set(texts.ticket_statuses)
    assert texts.application_stage("surveyed") == texts.application_default
    assert texts.application_stage("energized") != texts.application_default


def test_application_stage_texts_name_real_stages() -> None:
    settings = load_settings(CONF)
    texts = load_texts(CONF)
    assert set(texts.application_stages) <= set(settings.labels.application_stages)


def test_render_ignores_unused_values() -> None:
    label = Label("工单{number}", "ticket {number}")
    assert render(label, "en", {"number": "T1", "extra": 1}) == "ticket T1"
    assert render(label, None, {"number": "T1"}) == "工单T1"


def _conf_with(tmp_path: Path, change: dict[str, object]) -> Path:
    data = yaml.safe_load((CONF / "gateway.yml").read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    shutil.copytree(CONF, tmp_path / "conf")
    (tmp_path / "conf" / "gateway.yml").write_text(
        yaml.safe_dump(data, allow_unicode=True), encoding="utf-8"
    )
    return tmp_path / "conf"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"replies.busy.en": "busy {hotlin}"},
            r"replies\.busy\.en: unknown placeholder \{hotlin\}",
        ),
        ({"replies.empty_text.zh": "请{max_chars}"}, "offered here: none"),
        ({"replies.non_text": None}, r"replies\.non_text is missing"),
        ({"replies.busy.zh": "忙{"}, r"replies\.busy\.zh: .*"),
        (
            {"notifications.ticket.teleported": {"zh": "x", "en": "y"}},
            "no ticket has a status 'teleported'",
        ),
        ({"notifications.overdue.ticket.en": "late {numbr}"}, r"unknown placeholder \{numbr\}"),
        ({"notifications.application.default": None}, "default is missing"),
        # a crew and a step's time are a ticket's, not an application's or an overdue notice's
        ({"notifications.application.default.zh": "{crew}"}, r"unknown placeholder \{crew\}"),
        ({"notifications.overdue.ticket.zh": "{time}"}, r"unknown placeholder \{time\}"),
        ({"notifications.unnamed_crew.zh": "{number}"}, "offered here: none"),
    ],
)
def test_mistakes_stop_start_up_naming_file_and_key(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    conf = _conf_with(tmp_path, change)
    with pytest.raises(ConfigError, match=message) as failure:
        load_texts(conf)
    assert "gateway.yml" in str(failure.value)
