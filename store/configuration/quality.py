"""Service-quality monitoring (conf/quality.yml): each figure's names, unit and target, the rules
some figures need (repeat windows, callback answers, fallback intents), the category words and
the refresh's batch sizes. Loaded on its own like conf/back_office.yml, validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from store.configuration.yamlfile import ConfigError, Label, Node, read_yaml

FILE_NAME = "quality.yml"
UNITS = ("rate", "minutes", "hours", "working_days", "count", "per_10k")
BETTER = ("higher", "lower")
COMMITMENT = "commitment"
"""A target that is the average commitment of the items measured (conf/commitments.yml)."""
CATEGORY_KINDS = ("fault", "hazard", "complaint", "suggestion", "praise")
OTHER = "other"
"""The category of a description no category's words match."""
SCORECARD_KINDS = ("agent", "crew")


@dataclass(frozen=True)
class FigureSpec:
    key: str
    label: Label
    unit: str
    better: str
    target: float | None
    """A number in the figure's unit; None when the figure has none or it is a commitment."""
    commitment: bool
    """The target is the average commitment of the items measured."""

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]


@dataclass(frozen=True)
class Category:
    code: str
    label: Label
    words: tuple[str, ...]


@dataclass(frozen=True)
class BottleneckRules:
    min_misses: int
    min_share: float
    per_figure: int
    sentence: Label
    misses: Mapping[str, Label]
    """What one miss of a figure is called ("到达超时")."""
    dimensions: Mapping[str, Label]


@dataclass(frozen=True)
class Quality:
    figures: tuple[FigureSpec, ...]
    scorecards: Mapping[str, tuple[FigureSpec, ...]]
    repair_types: tuple[str, ...]
    repeat_fault_days: int
    callback_done: frozenset[str]
    repeat_complaint_days: int
    per_10k_target_per_month: bool
    fallback_intents: tuple[str, ...]
    satisfied_from: int
    hour_bucket: int
    bottlenecks: BottleneckRules
    rescan_ids: int
    batch: int
    message_lag_seconds: int
    categories: Mapping[str, tuple[Category, ...]]
    unknown: Mapping[str, Label]
    """The label of a breakdown row without a crew, area, agent or channel."""
    other: Label
    """The label of the category of a text no category's words match."""
    channels: Mapping[str, Label]

    def spec(self, key: str) -> FigureSpec:
        """The figure or scorecard figure with this key; KeyError if none."""
        for spec in (*self.figures, *(s for f in self.scorecards.values() for s in f)):
            if spec.key == key:
                return spec
        raise KeyError(key)

    def category_label(self, kinds: tuple[str, ...], code: str) -> Label:
        """The label of a category code of the first of `kinds` that has it; "other" else."""
        for kind in kinds:
            for category in self.categories.get(kind, ()):
                if category.code == code:
                    return category.label
        return self.other


def _rate(node: Node) -> float:
    value = node.as_decimal()
    if not 0 <= value <= 1:
        node.fail("a number between 0 and 1")
    return float(value)


def _figure(key: str, node: Node) -> FigureSpec:
    if "." not in key:
        raise ConfigError(f"{node.path}: {node.key}: a key 'section.name' expected")
    unit = node["unit"].choice(UNITS)
    target = node.get("target")
    commitment = target is not None and target.value == COMMITMENT
    number: float | None = None
    if target is not None and not commitment:
        number = _rate(target) if unit == "rate" else float(target.as_decimal())
        if number < 0:
            target.fail("a number >= 0")
    return FigureSpec(
        key=key,
        label=node.as_label(),
        unit=unit,
        better=node["better"].choice(BETTER),
        target=number,
        commitment=commitment,
    )


def _figures(node: Node) -> tuple[FigureSpec, ...]:
    specs = tuple(_figure(key, value) for key, value in node.items())
    if not specs:
        node.fail("at least one figure")
    return specs


def _categories(node: Node) -> Mapping[str, tuple[Category, ...]]:
    found: dict[str, tuple[Category, ...]] = {}
    for kind in CATEGORY_KINDS:
        entries = []
        for entry in node[kind].as_list():
            code = entry["code"].as_str()
            if code == OTHER:
                entry["code"].fail(f"a code other than {OTHER!r} (kept for no match)")
            words = tuple(w.as_str().lower() for w in entry["words"].as_list())
            entries.append(Category(code, entry.as_label(), words))
        if len({c.code for c in entries}) != len(entries):
            raise ConfigError(f"{node.path}: categories.{kind}: codes must be unique")
        found[kind] = tuple(entries)
    return MappingProxyType(found)


def _rating(node: Node) -> int:
    value = node.as_int()
    if value > 5:
        node.fail("a rating from 1 to 5")
    return value


def _hour_bucket(node: Node) -> int:
    hours = node.as_int()
    if 24 % hours:
        node.fail("a divisor of 24 (1, 2, 3, 4, 6, 8, 12 or 24)")
    return hours


SENTENCE_PLACEHOLDERS = frozenset({"miss", "dimension", "label", "misses", "total", "share"})


def _sentence(node: Node) -> Label:
    label = node.as_label()
    for text in label:
        try:
            text.format_map(dict.fromkeys(SENTENCE_PLACEHOLDERS, ""))
        except (KeyError, ValueError, IndexError) as exc:
            raise ConfigError(f"{node.path}: {node.key}: {exc!r}") from None
    return label


def _rules(node: Node) -> BottleneckRules:
    return BottleneckRules(
        min_misses=node["min_misses"].as_int(),
        min_share=_rate(node["min_share"]),
        per_figure=node["per_figure"].as_int(),
        sentence=_sentence(node["sentence"]),
        misses=MappingProxyType({k: v.as_label() for k, v in node["misses"].items()}),
        dimensions=MappingProxyType({k: v.as_label() for k, v in node["dimensions"].items()}),
    )


def _check_misses(root: Node, figures: tuple[FigureSpec, ...], rules: BottleneckRules) -> None:
    """Every figure with a target names its misses (the bottleneck sentences say them)."""
    for spec in figures:
        if (spec.target is not None or spec.commitment) and spec.key not in rules.misses:
            raise ConfigError(f"{root.path}: bottlenecks.misses.{spec.key} is missing")


def load_quality(root: Node) -> Quality:
    figures, rules = _figures(root["figures"]), _rules(root["bottlenecks"])
    _check_misses(root, figures, rules)
    repairs, complaints, chats = root["repairs"], root["complaints"], root["conversations"]
    refresh = root["refresh"]
    cards = root["scorecards"]
    return Quality(
        figures=figures,
        scorecards=MappingProxyType({k: _figures(cards[k]) for k in SCORECARD_KINDS}),
        repair_types=tuple(t.as_str() for t in repairs["ticket_types"].as_list()),
        repeat_fault_days=repairs["repeat_days"].as_int(),
        callback_done=frozenset(r.as_str() for r in repairs["callback_done"].as_list()),
        repeat_complaint_days=complaints["repeat_days"].as_int(),
        per_10k_target_per_month=complaints["per_10k_target_per"].choice(("month", "period"))
        == "month",
        fallback_intents=tuple(i.as_str() for i in chats["fallback_intents"].as_list()),
        satisfied_from=_rating(chats["satisfied_from"]),
        hour_bucket=_hour_bucket(root["hour_bucket"]),
        bottlenecks=rules,
        rescan_ids=refresh["rescan_ids"].as_int(minimum=0),
        batch=refresh["batch"].as_int(),
        message_lag_seconds=refresh["message_lag_seconds"].as_int(minimum=0),
        categories=_categories(root["categories"]),
        unknown=MappingProxyType(
            {k: root["unknown"][k].as_label() for k in ("crew", "area", "agent", "channel")}
        ),
        other=root["categories"]["other"].as_label(),
        channels=MappingProxyType({k: v.as_label() for k, v in root["channels"].items()}),
    )


def read_quality(conf_dir: Path) -> Quality:
    """conf/quality.yml of `conf_dir`, validated (ConfigError on the first problem)."""
    return load_quality(read_yaml(Path(conf_dir) / FILE_NAME))
