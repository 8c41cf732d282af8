"""Application types (conf/applications.yml): documents, ordered stages, side stages, and the
"other change" business types. Stage labels come from labels.yml, limits from commitments.yml,
so each fact has one home."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from store.configuration.commitments import Commitments
from store.configuration.labels import Labels, require
from store.configuration.yamlfile import ConfigError, Node
from store.models.applications import ApplicationStage, Voltage
from store.models.base import values

VOLTAGES = values(Voltage)
APPLICATION_TYPES = ("new_connection", "capacity_change", "name_transfer", "other_change")
#: Entered from any unfinished stage; ends the application (withdrawn by the customer).
CANCELLED = ApplicationStage.CANCELLED


@dataclass(frozen=True)
class DocumentSpec:
    code: str
    zh: str
    en: str
    voltages: frozenset[str]


@dataclass(frozen=True)
class StageSpec:
    code: str
    zh: str
    en: str
    voltages: frozenset[str]
    optional: bool
    working_days: int | None
    """The station's limit for this stage; None when it has none of its own."""
    customer: bool
    """Waiting on the customer: the time spent here does not count against the limit."""


@dataclass(frozen=True)
class ApplicationType:
    code: str
    name_zh: str
    name_en: str
    documents: tuple[DocumentSpec, ...]
    stages: tuple[StageSpec, ...]
    side_stages: Mapping[str, frozenset[str]]
    """Side stage → the main stages it may be entered from."""
    limit_working_days: int
    """The headline limit (low-voltage residential for new connections)."""

    def documents_for(self, voltage: str) -> tuple[DocumentSpec, ...]:
        return tuple(d for d in self.documents if voltage in d.voltages)

    def stages_for(self, voltage: str) -> tuple[StageSpec, ...]:
        return tuple(s for s in self.stages if voltage in s.voltages)

    def stage(self, code: str) -> StageSpec | None:
        return next((s for s in self.stages if s.code == code), None)

    @property
    def final_stage(self) -> str:
        return self.stages[-1].code


@dataclass(frozen=True)
class BusinessType:
    code: str
    name_zh: str
    name_en: str
    match_words: tuple[str, ...]


@dataclass(frozen=True)
class Applications:
    types: Mapping[str, ApplicationType]
    business_types: tuple[BusinessType, ...]

    def business_type(self, code: str) -> BusinessType | None:
        return next((b for b in self.business_types if b.code == code), None)


def _option(node: Node, key: str) -> Node | None:
    return node.get(key) if isinstance(node.value, dict) else None


def _voltages(node: Node) -> frozenset[str]:
    option = _option(node, "voltage")
    return frozenset({option.choice(VOLTAGES)}) if option else frozenset(VOLTAGES)


def _code(node: Node) -> str:
    return node["code"].as_str() if isinstance(node.value, dict) else node.as_str()


class _Checker:
    """Fails naming labels.yml when a stage used here has no label there."""

    def __init__(self, root: Node, labels: Labels) -> None:
        self.path = root.path.parent / "labels.yml"
        self.labels = labels

    def stages(self, codes: Iterable[str]) -> None:
        require(self.path, "application_stages", self.labels.application_stages, codes)

    def next_steps(self, codes: Iterable[str]) -> None:
        require(self.path, "application_next_steps", self.labels.application_next_steps, codes)


def _stage(entry: Node, labels: Labels) -> StageSpec:
    code = _code(entry)
    label = labels.application_stage(code)
    optional, customer, days = (_option(entry, k) for k in ("optional", "customer", "working_days"))
    return StageSpec(
        code,
        label.zh,
        label.en,
        _voltages(entry),
        optional=optional.as_bool() if optional else False,
        working_days=days.as_int() if days else None,
        customer=customer.as_bool() if customer else False,
    )


def _type(
    code: str, node: Node, docs: Mapping[str, Node], check: _Checker, limit: int
) -> ApplicationType:
    documents = []
    for entry in node["documents"].as_list():
        doc = _code(entry)
        if doc not in docs:
            raise ConfigError(f"{entry.path}: {entry.key}: unknown document {doc!r}")
        label = docs[doc].as_label()
        documents.append(DocumentSpec(doc, label.zh, label.en, _voltages(entry)))
    entries = node["stages"].as_list()
    check.stages(_code(e) for e in entries)
    stages = tuple(_stage(e, check.labels) for e in entries)
    codes = {s.code for s in stages}
    side: dict[str, frozenset[str]] = {}
    side_node = node.get("side_stages")
    for name, sources in side_node.items() if side_node else []:
        check.stages([name])
        origins = frozenset(s.as_str() for s in sources.as_list())
        if not origins <= codes:
            sources.fail(f"stages of {code} ({', '.join(sorted(codes))})")
        side[name] = origins
    return ApplicationType(
        code=code,
        name_zh=node["zh"].as_str(),
        name_en=node["en"].as_str(),
        documents=tuple(documents),
        stages=stages,
        side_stages=MappingProxyType(side),
        limit_working_days=limit,
    )


def load_applications(root: Node, labels: Labels, commitments: Commitments) -> Applications:
    check = _Checker(root, labels)
    docs = dict(root["documents"].items())
    types_node = root["types"]
    types = {
        code: _type(code, types_node[code], docs, check, commitments.application_working_days(code))
        for code in APPLICATION_TYPES
    }
    used = {s.code for t in types.values() for s in t.stages}
    used |= {side for t in types.values() for side in t.side_stages} | {CANCELLED}
    check.stages(used)
    check.next_steps(used)
    business = tuple(
        BusinessType(
            code=n["code"].as_str(),
            name_zh=n["zh"].as_str(),
            name_en=n["en"].as_str(),
            match_words=tuple(w.as_str() for w in n["match_words"].as_list()),
        )
        for n in root["business_types"].as_list()
    )
    return Applications(MappingProxyType(types), business)
