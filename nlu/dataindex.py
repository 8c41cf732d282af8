"""What the training data holds now: data/nlu/*.yml, domain.yml, data/rules.yml and the
held-out set, read into a `DataIndex` (read-only), and the quick checks an example gets before
it is written (duplicates, an example that belongs to another intent, the held-out set, entity
names and offsets; nlu.rules holds the rules shared with the inbox and the console).

Examples are written in Rasa's inline entity syntax: `[东山村3组](address)`, or
`[上月]{"entity": "billing_period", "value": "上个月"}` when the value differs from the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlu.rules import DataEditError, EntitySpan, check_spans, normalise_example
from nlu.settings import NluSettings

OPERATOR_FILE = "operator.yml"
#: Rasa's inline entity markup (rasa/shared/nlu/training_data/entities_parser.py ENTITY_REGEX).
ENTITY_MARKUP = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)


def plain_text(example: str) -> str:
    """An example line without its entity markup: `[东山村](address)停电了` → `东山村停电了`."""
    return ENTITY_MARKUP.sub(lambda m: m.group("entity_text"), example)


def format_example(text: str, entities: Sequence[EntitySpan] = ()) -> str:
    """The example line in Rasa's inline syntax (offsets are checked by `check_example`)."""
    out: list[str] = []
    position = 0
    for span in sorted(entities, key=lambda e: e.start):
        surface = text[span.start : span.end]
        out.append(text[position : span.start])
        if span.value is None or span.value == surface:
            out.append(f"[{surface}]({span.entity})")
        else:
            markup = json.dumps({"entity": span.entity, "value": span.value}, ensure_ascii=False)
            out.append(f"[{surface}]{markup}")
        position = span.end
    out.append(text[position:])
    return "".join(out)


# --- the files ----------------------------------------------------------------------------


def nlu_dir(settings: NluSettings) -> Path:
    return settings.data_dir / "nlu"


def rules_file(settings: NluSettings) -> Path:
    return settings.data_dir / "rules.yml"


def operator_file(settings: NluSettings) -> Path:
    return nlu_dir(settings) / OPERATOR_FILE


def nlu_files(settings: NluSettings) -> list[Path]:
    folder = nlu_dir(settings)
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])


def editable_files(settings: NluSettings) -> list[Path]:
    """Every file an edit may touch (what an edit transaction snapshots)."""
    data = sorted(
        p for p in settings.data_dir.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()
    )
    return [settings.domain_file, *data, operator_file(settings)]


def relative(settings: NluSettings, path: Path) -> str:
    """The path as operators read it: relative to the project."""
    try:
        return str(path.relative_to(settings.project_dir))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Example:
    intent: str
    path: Path
    text: str
    """The plain text (markup removed)."""


@dataclass
class DataIndex:
    """A read-only snapshot of the training data, the domain and the held-out set."""

    settings: NluSettings
    examples: dict[str, Example] = field(default_factory=dict)
    """By normalised text."""
    blocks: dict[str, list[tuple[Path, int]]] = field(default_factory=dict)
    """intent → [(file, number of examples in its block there)]."""
    domain_intents: set[str] = field(default_factory=set)
    domain_entities: set[str] = field(default_factory=set)
    responses: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    rule_names: set[str] = field(default_factory=set)
    holdout: dict[str, str] = field(default_factory=dict)
    """Normalised text → intent of the held-out set."""

    @classmethod
    def load(cls, settings: NluSettings) -> DataIndex:
        index = cls(settings)
        for path in nlu_files(settings):
            for block in nlu_blocks(path):
                if "intent" not in block:
                    continue
                intent = str(block["intent"])
                examples = example_lines(block.get("examples"))
                index.blocks.setdefault(intent, []).append((path, len(examples)))
                for line in examples:
                    key = normalise_example(plain_text(line))
                    index.examples.setdefault(key, Example(intent, path, plain_text(line)))
        domain = safe_load(settings.domain_file)
        index.domain_intents = set(_names(domain.get("intents")))
        index.domain_entities = set(_names(domain.get("entities")))
        responses = domain.get("responses") or {}
        index.responses = set(responses) if isinstance(responses, dict) else set()
        index.actions = set(_names(domain.get("actions")))
        if rules_file(settings).exists():
            rules = safe_load(rules_file(settings)).get("rules") or []
            index.rule_names = {str(r.get("rule")) for r in rules if isinstance(r, dict)}
        holdout = settings.training.holdout
        if holdout.exists():
            for block in nlu_blocks(holdout):
                for line in example_lines(block.get("examples")):
                    index.holdout[normalise_example(plain_text(line))] = str(block.get("intent"))
        return index

    def target_file(self, intent: str) -> Path:
        """The file that holds the intent's largest block (data/nlu/operator.yml if none)."""
        blocks = self.blocks.get(intent)
        if not blocks:
            return operator_file(self.settings)
        return min(blocks, key=lambda block: (-block[1], block[0]))[0]

    def check_example(self, intent: str, text: str, entities: Sequence[EntitySpan] = ()) -> str:
        """The example line to write, or DataEditError saying why it is refused."""
        if not text:
            raise DataEditError("the example is empty")
        if "[" in text or "]" in text:
            raise DataEditError(
                "the text contains [ or ], which Rasa reads as entity markup; "
                "edit the text (e.g. 【】) first"
            )
        if text.startswith(("#", "- ")) or not normalise_example(text):
            raise DataEditError(f"{text!r} is not a usable example (no words)")
        key = normalise_example(text)
        if key in self.holdout:
            raise DataEditError(
                f"{text!r} is in the held-out test set"
                f" ({relative(self.settings, self.settings.training.holdout)},"
                f" intent {self.holdout[key]}), which is never trained on"
            )
        existing = self.examples.get(key)
        if existing is not None:
            where = relative(self.settings, existing.path)
            if existing.intent == intent:
                raise DataEditError(
                    f"{text!r} is already an example of {intent} ({where}: {existing.text!r})"
                )
            raise DataEditError(
                f"{text!r} already belongs to intent {existing.intent} ({where}:"
                f" {existing.text!r}); change it there first"
            )
        check_spans(text, entities, self.domain_entities)
        line = format_example(text, entities)
        if plain_text(line) != text:
            raise DataEditError(f"cannot write {text!r} in Rasa's inline entity syntax")
        return line


def safe_load(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:  # a YAML error names the file and the line
        raise DataEditError(f"cannot read {path.name}: {exc}") from exc
    return loaded if isinstance(loaded, dict) else {}


def nlu_blocks(path: Path) -> list[dict[str, Any]]:
    blocks = safe_load(path).get("nlu") or []
    return [b for b in blocks if isinstance(b, dict)]


def example_lines(examples: object) -> list[str]:
    if not isinstance(examples, str):
        return []
    lines = (line.strip() for line in examples.splitlines())
    return [line[2:].strip() for line in lines if line.startswith("- ")]


def _names(items: object) -> Iterator[str]:
    if not isinstance(items, list):
        return
    for item in items:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from (str(k) for k in item)
