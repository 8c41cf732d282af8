"""The back office's case work (conf/back_office.yml): repeat-complaint window, list sizes, the
clock rule of a send-back for documents, and the texts the customer gets for a send-back or a
rejection. Loaded on its own (the gateway's console reads it at start-up), validated once."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from store.configuration.yamlfile import ConfigError, Label, Node, read_yaml

FILE_NAME = "back_office.yml"
NOTICE_PLACEHOLDERS = frozenset({"number", "type", "documents", "note", "reason"})


class SendBackClock(StrEnum):
    """What the station's clock does while an application waits for missing documents."""

    PAUSED = "paused"
    """The working days spent waiting do not count: the deadline moves on by them."""
    RESTARTED = "restarted"
    """The whole end-to-end limit runs again from the day the documents are complete."""


@dataclass(frozen=True)
class BackOffice:
    repeat_lookback_days: int
    due_soon_hours: int
    feedback_list_limit: int
    send_back_clock: SendBackClock
    application_list_limit: int
    search_limit: int
    recent_bills: int
    history_limit: int
    send_back_notice: Label
    rejected_notice: Label


def _notice(node: Node) -> Label:
    label = node.as_label()
    for language, text in (("zh", label.zh), ("en", label.en)):
        try:
            text.format_map(dict.fromkeys(NOTICE_PLACEHOLDERS, ""))
        except (KeyError, ValueError, IndexError) as exc:
            offered = ", ".join("{" + p + "}" for p in sorted(NOTICE_PLACEHOLDERS))
            where = f"{node.path}: {node.key}.{language}"
            raise ConfigError(f"{where}: {exc!r} (offered: {offered})") from None
    return label


def load_back_office(root: Node) -> BackOffice:
    feedback, applications, customers = root["feedback"], root["applications"], root["customers"]
    notices = root["notices"]
    return BackOffice(
        repeat_lookback_days=feedback["repeat_lookback_days"].as_int(),
        due_soon_hours=feedback["due_soon_hours"].as_int(minimum=0),
        feedback_list_limit=feedback["list_limit"].as_int(),
        send_back_clock=SendBackClock(applications["send_back_clock"].choice(tuple(SendBackClock))),
        application_list_limit=applications["list_limit"].as_int(),
        search_limit=customers["search_limit"].as_int(),
        recent_bills=customers["recent_bills"].as_int(),
        history_limit=customers["history_limit"].as_int(),
        send_back_notice=_notice(notices["send_back"]),
        rejected_notice=_notice(notices["rejected"]),
    )


def read_back_office(conf_dir: Path) -> BackOffice:
    """conf/back_office.yml of `conf_dir`, validated (ConfigError on the first problem)."""
    return load_back_office(read_yaml(Path(conf_dir) / FILE_NAME))
