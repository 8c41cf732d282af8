"""The gateway's own customer texts (conf/gateway.yml), validated once at start-up.

Texts live in configuration, never in Python, so the station can reword them; a typo in a
placeholder must stop start-up rather than show "{numbr}" to a customer, hence the check of
every template against the placeholders its key offers.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from store.configuration.yamlfile import ConfigError, Label, Node, read_yaml
from store.workflow import all_statuses

FILE_NAME = "gateway.yml"

REPLY_PLACEHOLDERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "empty_text": frozenset(),
        "non_text": frozenset(),
        "too_long": frozenset({"max_chars"}),
        "busy": frozenset({"hotline"}),
        "error": frozenset({"hotline"}),
        "location": frozenset({"latitude", "longitude"}),
        "account_data_hidden": frozenset(),
        "rate_limited": frozenset({"seconds"}),
    }
)
NOTIFICATION_PLACEHOLDERS = frozenset({"number", "type", "status", "stage", "next_step", "due"})
TICKET_PLACEHOLDERS = NOTIFICATION_PLACEHOLDERS | {"crew", "time"}
"""A ticket's step also names the crew that took it and when (station time)."""


@dataclass(frozen=True)
class GatewayTexts:
    replies: Mapping[str, Label]
    ticket_statuses: Mapping[str, Label]
    """Ticket statuses that are announced, with their text."""
    application_default: Label
    application_stages: Mapping[str, Label]
    overdue_ticket: Label
    overdue_application: Label
    unnamed_crew: Label
    """{crew} of a ticket no crew was assigned to (a step recorded without one)."""

    def reply(self, key: str, language: str | None, **values: Any) -> str:
        """A reply of the `replies` section in the customer's language, filled in."""
        return render(self.replies[key], language, values)

    def application_stage(self, stage: str) -> Label:
        return self.application_stages.get(stage, self.application_default)


def render(label: Label, language: str | None, values: Mapping[str, Any]) -> str:
    """The English or Chinese text with its placeholders filled (unused values are ignored)."""
    template = label.en if language == "en" else label.zh
    return template.format_map(dict(values)).strip()


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _label(node: Node, allowed: Iterable[str]) -> Label:
    label = node.as_label()
    allowed = frozenset(allowed)
    for language, template in (("zh", label.zh), ("en", label.en)):
        try:
            used = _placeholders(template)
        except ValueError as exc:
            raise ConfigError(f"{node.path}: {node.key}.{language}: {exc}") from exc
        unknown = sorted(used - allowed)
        if unknown:
            offered = ", ".join("{" + p + "}" for p in sorted(allowed)) or "none"
            raise ConfigError(
                f"{node.path}: {node.key}.{language}: unknown placeholder {{{unknown[0]}}}"
                f" (offered here: {offered})"
            )
    return label


def load_texts(conf_dir: Path) -> GatewayTexts:
    """Read and check conf/gateway.yml; ConfigError names the file and key of any problem."""
    root = read_yaml(Path(conf_dir) / FILE_NAME)
    replies_node = root["replies"]
    replies = {
        key: _label(replies_node[key], allowed) for key, allowed in REPLY_PLACEHOLDERS.items()
    }
    notes = root["notifications"]
    statuses = all_statuses()
    tickets: dict[str, Label] = {}
    for status, node in notes["ticket"].items():
        if status not in statuses:
            raise ConfigError(f"{node.path}: {node.key}: no ticket has a status {status!r}")
        tickets[status] = _label(node, TICKET_PLACEHOLDERS)
    application = notes["application"]
    stages_node = application.get("stages")
    stages = {
        stage: _label(node, NOTIFICATION_PLACEHOLDERS)
        for stage, node in (stages_node.items() if stages_node is not None else [])
    }
    overdue = notes["overdue"]
    return GatewayTexts(
        replies=MappingProxyType(replies),
        ticket_statuses=MappingProxyType(tickets),
        application_default=_label(application["default"], NOTIFICATION_PLACEHOLDERS),
        application_stages=MappingProxyType(stages),
        overdue_ticket=_label(overdue["ticket"], NOTIFICATION_PLACEHOLDERS),
        overdue_application=_label(overdue["application"], NOTIFICATION_PLACEHOLDERS),
        unnamed_crew=_label(notes["unnamed_crew"], ()),
    )
