"""Customer-facing names of codes (conf/labels.yml), checked against the state machines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from store.configuration.yamlfile import ConfigError, Label, Node
from store.workflow import AREA_KINDS, TICKET_TYPES, TRANSITIONS, all_statuses


@dataclass(frozen=True)
class Labels:
    area_kinds: Mapping[str, Label]
    ticket_types: Mapping[str, Label]
    ticket_statuses: Mapping[str, Label]
    application_stages: Mapping[str, Label]
    ticket_next_steps: Mapping[str, Mapping[str, Label]]
    """Per ticket type ('default' for all), per status."""
    application_next_steps: Mapping[str, Label]

    def area_kind(self, kind: str) -> Label:
        return self.area_kinds[kind]

    def ticket_type(self, ticket_type: str) -> Label:
        return self.ticket_types[ticket_type]

    def ticket_status(self, status: str) -> Label:
        return self.ticket_statuses[status]

    def application_stage(self, stage: str) -> Label:
        return self.application_stages[stage]

    def ticket_next_step(self, ticket_type: str, status: str) -> Label:
        own = self.ticket_next_steps.get(ticket_type, {})
        return own.get(status) or self.ticket_next_steps["default"][status]

    def application_next_step(self, stage: str) -> Label:
        return self.application_next_steps[stage]


def _labels(node: Node) -> Mapping[str, Label]:
    return MappingProxyType({code: value.as_label() for code, value in node.items()})


def require(path: object, section: str, labels: Mapping[str, object], codes: Iterable[str]) -> None:
    """Fail naming the first code that has no entry in `section`."""
    for code in sorted(codes):
        if code not in labels:
            raise ConfigError(f"{path}: {section}.{code} is missing")


def load_labels(root: Node) -> Labels:
    steps = {name: _labels(node) for name, node in root["ticket_next_steps"].items()}
    if "default" not in steps:
        raise ConfigError(f"{root.path}: ticket_next_steps.default is missing")
    labels = Labels(
        area_kinds=_labels(root["area_kinds"]),
        ticket_types=_labels(root["ticket_types"]),
        ticket_statuses=_labels(root["ticket_statuses"]),
        application_stages=_labels(root["application_stages"]),
        ticket_next_steps=MappingProxyType(steps),
        application_next_steps=_labels(root["application_next_steps"]),
    )
    require(root.path, "area_kinds", labels.area_kinds, AREA_KINDS)
    require(root.path, "ticket_types", labels.ticket_types, TICKET_TYPES)
    require(root.path, "ticket_statuses", labels.ticket_statuses, all_statuses())
    for ticket_type, table in TRANSITIONS.items():
        for status in table:
            if status not in steps.get(ticket_type, {}) and status not in steps["default"]:
                raise ConfigError(
                    f"{root.path}: ticket_next_steps.default.{status} is missing "
                    f"(needed by {ticket_type} tickets)"
                )
    return labels
