"""Operators' edits of the training data: data/nlu/*.yml, domain.yml and data/rules.yml.

Every edit is a ruamel.yaml round trip that keeps the files as people wrote them: comments, key
order, quotes, `examples: |` block literals and each file's own indentation (some files indent
their lists, some do not). Before an edit a file is loaded with the layouts ruamel.yaml can
write until one reproduces the file byte for byte; after the edit the new text must differ from
the old one only by added lines, or the edit is refused and nothing is written. The result is
read back to check that the change is there.

Operations (each refuses a bad edit with `DataEditError`, whose message says why):

- `add_example`: a labelled customer message joins an existing intent, in the file that already
  holds that intent's block (the largest block when several files hold one), with its entities
  in Rasa's inline syntax: `[东山村3组](address)`, or `[上月]{"entity": "billing_period",
  "value": "上个月"}` when the value differs from the text;
- `add_out_of_scope`: the same for the `out_of_scope` intent;
- `create_intent`: a new intent whose first example is the message: the examples go to
  data/nlu/operator.yml (created with a header comment), the intent to domain.yml's intents,
  a response `utter_<intent>` (the operator's Chinese text, an English variation selected by
  the `language` slot when given, like every other response) and a rule intent → response in
  data/rules.yml.

The quick checks here (duplicates, an example that belongs to another intent, the held-out set,
entity names and offsets, intent names, stub responses) run before anything is written; the
slow, complete check is `rasa data validate` (nlu.validate), which runs after the edit.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from nlu.settings import NluSettings
from store.ids import synthetic_numbers

OUT_OF_SCOPE = "out_of_scope"
OPERATOR_FILE = "operator.yml"
OPERATOR_HEADER = (
    "# Intents and examples operators added from real conversations (python -m nlu, the\n"
    "# console's NLU inbox). Written by nlu/datafile.py; fine to edit by hand like any other\n"
    "# file in data/nlu/ (docs/nlu-data-guide.md).\n"
)
#: Intent names Rasa reserves or the project's pipeline emits.
RESERVED_INTENTS = frozenset({"nlu_fallback", "restart", "back", "out_of_scope", "session_start"})
INTENT_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
MAX_INTENT_NAME = 64
#: Rasa's inline entity markup (rasa/shared/nlu/training_data/entities_parser.py ENTITY_REGEX).
ENTITY_MARKUP = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)
#: Words that mark a response text as a placeholder nobody filled in.
STUB_MARKERS = ("todo", "tbd", "fixme", "xxx", "待补充", "待填写", "待完善", "待定")
#: Layouts tried, in order: (mapping indent, sequence indent, sequence dash offset).
LAYOUTS: tuple[tuple[int, int, int], ...] = (
    (2, 2, 0),
    (2, 4, 2),
    (4, 4, 2),
    (2, 4, 0),
    (4, 6, 4),
    (4, 4, 0),
)


class DataEditError(ValueError):
    """An edit refused before (or instead of) being written; the message says why."""


# --- text helpers ----------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Compare texts the way the model sees them: full-width folded, case, spaces and
    punctuation ignored (as tests/unit/test_nlu_data.py compares training and held-out data)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "PZSC")


def plain_text(example: str) -> str:
    """An example line without its entity markup: `[东山村](address)停电了` → `东山村停电了`."""
    return ENTITY_MARKUP.sub(lambda m: m.group("entity_text"), example)


def prepare(text: str, entities: Sequence[EntitySpan] = ()) -> tuple[str, list[EntitySpan]]:
    """One line: a customer message's line breaks and tabs become spaces (one each, so the
    entities' offsets still hold), the ends are trimmed and the offsets moved along.

    Phone and account numbers become made-up ones of the same shape (`synthetic_numbers`):
    data/ is committed and shared, a customer's number must not end up there. An entity whose
    value was the number's normal form gets the new number's."""
    one_line = synthetic_numbers(re.sub(r"[\r\n\t\v\f]", " ", text))
    lead = len(one_line) - len(one_line.lstrip())
    moved = [
        replace(
            e,
            start=e.start - lead,
            end=e.end - lead,
            value=_synthetic_value(e, text, one_line),
        )
        for e in entities
    ]
    return one_line.strip(), moved


def _synthetic_value(span: EntitySpan, before: str, after: str) -> str | None:
    """The entity's value once the numbers in its text were replaced (see `prepare`)."""
    if span.value is None:
        return None
    old, new = before[span.start : span.end], after[span.start : span.end]
    if old != new and span.value == unicodedata.normalize("NFKC", old):
        return unicodedata.normalize("NFKC", new)
    return synthetic_numbers(span.value)


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)


@dataclass(frozen=True)
class EntitySpan:
    """An entity in an example: `text[start:end]` is what the customer wrote, `value` the
    canonical value when it differs (a synonym), e.g. 上月 → 上个月."""

    entity: str
    start: int
    end: int
    value: str | None = None

    def to_json(self, text: str) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "value": self.value if self.value is not None else text[self.start : self.end],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], text: str) -> EntitySpan:
        try:
            start, end, entity = int(raw["start"]), int(raw["end"]), str(raw["entity"])
        except (KeyError, TypeError, ValueError):
            raise DataEditError(f"entity {raw!r}: needs entity, start and end") from None
        value = raw.get("value")
        surface = text[start:end] if 0 <= start < end <= len(text) else None
        return cls(entity, start, end, None if value in (None, surface) else str(value))


def find_entity(text: str, entity: str, surface: str, value: str | None = None) -> EntitySpan:
    """The entity at the first occurrence of `surface` in `text` (the CLI's name=surface)."""
    start = text.find(surface) if surface else -1
    if start < 0:
        raise DataEditError(f"entity {entity}: {surface!r} does not occur in the text {text!r}")
    return EntitySpan(entity, start, start + len(surface), value)


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


# --- what the data holds now -----------------------------------------------------------------


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
            for block in _nlu_blocks(path):
                if "intent" not in block:
                    continue
                intent = str(block["intent"])
                examples = _example_lines(block.get("examples"))
                index.blocks.setdefault(intent, []).append((path, len(examples)))
                for line in examples:
                    key = normalise(plain_text(line))
                    index.examples.setdefault(key, Example(intent, path, plain_text(line)))
        domain = _safe_load(settings.domain_file)
        index.domain_intents = set(_names(domain.get("intents")))
        index.domain_entities = set(_names(domain.get("entities")))
        responses = domain.get("responses") or {}
        index.responses = set(responses) if isinstance(responses, dict) else set()
        index.actions = set(_names(domain.get("actions")))
        if rules_file(settings).exists():
            rules = _safe_load(rules_file(settings)).get("rules") or []
            index.rule_names = {str(r.get("rule")) for r in rules if isinstance(r, dict)}
        holdout = settings.training.holdout
        if holdout.exists():
            for block in _nlu_blocks(holdout):
                for line in _example_lines(block.get("examples")):
                    index.holdout[normalise(plain_text(line))] = str(block.get("intent"))
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
        if text.startswith(("#", "- ")) or not normalise(text):
            raise DataEditError(f"{text!r} is not a usable example (no words)")
        key = normalise(text)
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
        self._check_entities(text, entities)
        line = format_example(text, entities)
        if plain_text(line) != text:
            raise DataEditError(f"cannot write {text!r} in Rasa's inline entity syntax")
        return line

    def _check_entities(self, text: str, entities: Sequence[EntitySpan]) -> None:
        end = 0
        for span in sorted(entities, key=lambda e: e.start):
            if span.entity not in self.domain_entities:
                known = ", ".join(sorted(self.domain_entities))
                raise DataEditError(f"unknown entity {span.entity!r} (domain.yml has: {known})")
            if not 0 <= span.start < span.end <= len(text):
                raise DataEditError(
                    f"entity {span.entity}: offsets {span.start}-{span.end} are outside the text"
                    f" (length {len(text)})"
                )
            if span.start < end:
                raise DataEditError(f"entity {span.entity}: overlaps the entity before it")
            surface = text[span.start : span.end]
            if surface != surface.strip():
                raise DataEditError(
                    f"entity {span.entity}: {surface!r} starts or ends with a space"
                )
            if span.value is not None and (not span.value.strip() or "\n" in span.value):
                raise DataEditError(f"entity {span.entity}: the value is empty")
            end = span.end


def _safe_load(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:  # a YAML error names the file and the line
        raise DataEditError(f"cannot read {path.name}: {exc}") from exc
    return loaded if isinstance(loaded, dict) else {}


def _nlu_blocks(path: Path) -> list[dict[str, Any]]:
    blocks = _safe_load(path).get("nlu") or []
    return [b for b in blocks if isinstance(b, dict)]


def _example_lines(examples: object) -> list[str]:
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


# --- round-trip documents --------------------------------------------------------------------


def _null(representer: Any, _data: None) -> Any:
    """Write None as `null` (rules and stories say `active_loop: null`), not as nothing."""
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _yaml(layout: tuple[int, int, int]) -> YAML:
    handler = YAML()
    handler.preserve_quotes = True
    handler.width = 4096  # never fold long lines
    mapping, sequence, offset = layout
    handler.indent(mapping=mapping, sequence=sequence, offset=offset)
    handler.representer.add_representer(type(None), _null)
    return handler


def _dump(handler: YAML, data: Any) -> str:
    buffer = io.StringIO()
    handler.dump(data, buffer)
    return buffer.getvalue()


class Document:
    """A YAML file loaded for a round-trip edit in the layout that reproduces it exactly."""

    def __init__(self, path: Path, text: str, handler: YAML, data: Any, label: str) -> None:
        self.path, self.text, self.handler, self.data, self.label = path, text, handler, data, label

    @classmethod
    def load(cls, path: Path, label: str | None = None) -> Document:
        label = label or path.name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataEditError(f"cannot read {label}: {exc.strerror or exc}") from exc
        for layout in LAYOUTS:
            handler = _yaml(layout)
            try:
                data = handler.load(text)
            except YAMLError as exc:
                raise DataEditError(f"{label} is not valid YAML: {exc}") from exc
            if _dump(handler, data) == text:
                return cls(path, text, handler, data, label)
        raise DataEditError(
            f"{label} cannot be edited without reformatting it (ruamel.yaml does not reproduce"
            " its layout); edit it by hand"
        )

    def render(self, removed: str | None = None) -> str:
        """The edited text; refused unless the only change is added lines (or, with `removed`,
        that one example line taken out and nothing else)."""
        new = _dump(self.handler, self.data)
        old_lines = self.text.splitlines(keepends=True)
        matcher = difflib.SequenceMatcher(None, old_lines, new.splitlines(keepends=True), False)
        changed = [op for op in matcher.get_opcodes() if op[0] != "equal"]
        if removed is None:
            ok = all(op[0] == "insert" for op in changed)
        else:
            gone = [line for op in changed for line in old_lines[op[1] : op[2]]]
            ok = all(op[0] == "delete" for op in changed) and [g.strip() for g in gone] == [
                f"- {removed}"
            ]
        if not ok:
            what = "take out one example" if removed is not None else "add lines"
            raise DataEditError(
                f"editing {self.label} would change existing lines, not only {what};"
                " edit it by hand"
            )
        return new


def write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step (readers see the old or the new text, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _append(sequence: CommentedSeq, item: Any) -> None:
    """Append to a block sequence, moving a blank line or comment that followed the last
    item below the new one (so the new item joins the list instead of the next section)."""
    last = len(sequence) - 1
    trailing = sequence.ca.items.pop(last, None) if last >= 0 else None
    sequence.append(item)
    if trailing is not None:
        sequence.ca.items[last + 1] = trailing


def _literal_append(block: CommentedMap, line: str) -> None:
    examples = block.get("examples")
    if not isinstance(examples, str):
        intent = block.get("intent")
        raise DataEditError(f"intent {intent}: its examples are not an `examples: |` block")
    text = str(examples)
    if text and not text.endswith("\n"):
        text += "\n"
    block["examples"] = LiteralScalarString(f"{text}- {line}\n")


# --- edits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditResult:
    """What an edit wrote: the files (relative to the project) and the example line."""

    intent: str
    line: str
    files: tuple[str, ...]


def _write(docs: Iterable[Document], new_files: Mapping[Path, str] | None = None) -> None:
    """Render everything first (any refusal leaves all files untouched), then write."""
    rendered = [(doc.path, doc.render()) for doc in docs]
    for path, text in [*rendered, *(new_files or {}).items()]:
        write_atomically(path, text)


def _verify(check: Callable[[], bool], what: str) -> None:
    if not check():
        raise DataEditError(f"the edit did not read back as written ({what})")


def _new_block(intent: str, line: str) -> CommentedMap:
    return CommentedMap([("intent", intent), ("examples", LiteralScalarString(f"- {line}\n"))])


def _operator_file_text(intent: str, line: str) -> str:
    return (
        f'{OPERATOR_HEADER}version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n    - {line}\n'
    )


def _add_to_intent_file(
    settings: NluSettings, index: DataIndex, intent: str, line: str
) -> tuple[Document | None, dict[Path, str]]:
    """The document with the example appended to the intent's block (or the new operator.yml)."""
    target = index.target_file(intent)
    if not target.exists():
        return None, {target: _operator_file_text(intent, line)}
    doc = Document.load(target, relative(settings, target))
    blocks = doc.data.get("nlu") if isinstance(doc.data, dict) else None
    if not isinstance(blocks, CommentedSeq):
        raise DataEditError(f"{doc.label} has no `nlu:` list")
    matching = [b for b in blocks if isinstance(b, CommentedMap) and b.get("intent") == intent]
    if matching:
        _literal_append(max(matching, key=lambda b: len(_example_lines(b.get("examples")))), line)
    else:
        _append(blocks, _new_block(intent, line))
    return doc, {}


def _read_back_example(path: Path, intent: str, line: str) -> bool:
    return any(
        block.get("intent") == intent and line in _example_lines(block.get("examples"))
        for block in _nlu_blocks(path)
    )


def add_example(
    settings: NluSettings, intent: str, text: str, entities: Sequence[EntitySpan] = ()
) -> EditResult:
    """Add a labelled example to an existing intent (see the module docstring)."""
    text, entities = prepare(text, entities)
    index = DataIndex.load(settings)
    if intent not in index.domain_intents:
        raise DataEditError(
            f"unknown intent {intent!r}: domain.yml does not list it (create it as a new intent)"
        )
    line = index.check_example(intent, text, entities)
    doc, new_files = _add_to_intent_file(settings, index, intent, line)
    _write([doc] if doc else [], new_files)
    target = doc.path if doc else next(iter(new_files))
    _verify(lambda: _read_back_example(target, intent, line), relative(settings, target))
    return EditResult(intent, line, (relative(settings, target),))


def _shape(text: str) -> str:
    """A text compared with the example written for it: `normalise`d, every digit the same
    (the numbers in an example are made-up ones of the same shape, see `prepare`)."""
    return re.sub(r"\d", "0", normalise(text))


def remove_example(settings: NluSettings, intent: str, text: str) -> EditResult:
    """Take the example written for a customer message `text` out of `intent`'s block: the
    line whose text is `text` (its numbers may differ: they were made up when it was written;
    of several such lines, the last). The file keeps every other line as it was."""
    wanted = _shape(prepare(text)[0])
    found: tuple[Path, str] | None = None
    for path in nlu_files(settings):
        for block in _nlu_blocks(path):
            if block.get("intent") == intent:
                for line in _example_lines(block.get("examples")):
                    if _shape(plain_text(line)) == wanted:
                        found = (path, line)
    if found is None:
        raise DataEditError(
            f"{text!r} is not an example of {intent} in data/ any more (edited by hand?);"
            " change data/ by hand"
        )
    path, line = found
    doc = Document.load(path, relative(settings, path))
    blocks = [b for b in doc.data["nlu"] if isinstance(b, CommentedMap)]
    block = [
        b for b in blocks if b.get("intent") == intent and line in _example_lines(b.get("examples"))
    ][-1]
    kept = str(block["examples"]).splitlines(keepends=True)
    del kept[max(i for i, raw in enumerate(kept) if raw.strip() == f"- {line}")]
    block["examples"] = LiteralScalarString("".join(kept))
    write_atomically(path, doc.render(removed=line))
    _verify(lambda: not _read_back_example(path, intent, line), relative(settings, path))
    return EditResult(intent, line, (relative(settings, path),))


def relabel_example(
    settings: NluSettings,
    old_intent: str,
    intent: str,
    text: str,
    entities: Sequence[EntitySpan] = (),
) -> EditResult:
    """A message labelled `old_intent` becomes an example of `intent` (existing): its line is
    taken out of the old intent's block and written to the new one's, with the new entities."""
    if intent == old_intent:
        raise DataEditError(f"{text!r} is already an example of {intent}")
    if intent not in DataIndex.load(settings).domain_intents:
        raise DataEditError(
            f"unknown intent {intent!r}: domain.yml does not list it (create it as a new intent)"
        )
    removed = remove_example(settings, old_intent, text)
    added = add_example(settings, intent, text, entities)
    return EditResult(intent, added.line, tuple(dict.fromkeys(removed.files + added.files)))


def add_out_of_scope(settings: NluSettings, text: str) -> EditResult:
    """The message is something the station does not handle: an `out_of_scope` example."""
    return add_example(settings, OUT_OF_SCOPE, text)


def check_intent_name(index: DataIndex, name: str) -> None:
    if not INTENT_NAME.fullmatch(name) or len(name) > MAX_INTENT_NAME:
        raise DataEditError(
            f"{name!r} is not a valid intent name: lowercase snake_case such as ask_ev_charging"
            f" (letters, digits, single underscores, at most {MAX_INTENT_NAME} characters)"
        )
    if name in index.domain_intents or name in RESERVED_INTENTS:
        raise DataEditError(f"intent {name} already exists")
    if name in index.blocks:
        where = ", ".join(sorted({relative(index.settings, p) for p, _ in index.blocks[name]}))
        raise DataEditError(f"intent {name} already has training examples ({where})")
    response = f"utter_{name}"
    if response in index.responses or response in index.actions:
        raise DataEditError(f"domain.yml already has a response or action {response}")


def check_response_text(text: str | None, *, english: bool) -> str | None:
    """The response text to write (None for a missing optional English one)."""
    language = "English" if english else "Chinese"
    if text is None or not text.strip():
        if english:
            return None
        raise DataEditError("the new intent needs the reply customers get, written in Chinese")
    text = text.strip()
    folded = text.casefold()
    stub = next((m for m in STUB_MARKERS if m in folded), None)
    if stub is not None:
        raise DataEditError(
            f"the {language} reply is a stub ({stub!r}): write the real reply customers read"
        )
    if "{" in text or "}" in text:
        raise DataEditError(f"the {language} reply contains {{ or }} (slot placeholders)")
    if not english and not has_chinese(text):
        raise DataEditError("the reply must be written in Chinese (an English one is optional)")
    if english and not re.search(r"[A-Za-z]{2}", text):
        raise DataEditError("the English reply has no English words")
    if len(normalise(text)) < 2:
        raise DataEditError(f"the {language} reply is too short")
    return text


def _response(chinese: str, english: str | None) -> CommentedSeq:
    variations = CommentedSeq([CommentedMap([("text", DoubleQuotedScalarString(chinese))])])
    if english is not None:
        condition = CommentedSeq(
            [CommentedMap([("type", "slot"), ("name", "language"), ("value", "en")])]
        )
        variations.append(
            CommentedMap([("text", DoubleQuotedScalarString(english)), ("condition", condition)])
        )
    return variations


def rule_name(intent: str) -> str:
    return f"{intent} (operator intent)"


def create_intent(
    settings: NluSettings,
    name: str,
    text: str,
    response_zh: str | None,
    response_en: str | None = None,
    entities: Sequence[EntitySpan] = (),
) -> EditResult:
    """A new intent with its first example, its response and the rule that answers it."""
    text, entities = prepare(text, entities)
    index = DataIndex.load(settings)
    check_intent_name(index, name)
    chinese = check_response_text(response_zh, english=False)
    assert chinese is not None
    english = check_response_text(response_en, english=True)
    line = index.check_example(name, text, entities)
    response = f"utter_{name}"
    if rule_name(name) in index.rule_names:
        raise DataEditError(f"data/rules.yml already has a rule {rule_name(name)!r}")

    domain = Document.load(settings.domain_file, "domain.yml")
    intents = domain.data.get("intents")
    if not isinstance(intents, CommentedSeq):
        raise DataEditError("domain.yml has no `intents:` list")
    _append(intents, name)
    responses = domain.data.get("responses")
    if not isinstance(responses, dict):
        raise DataEditError("domain.yml has no `responses:` mapping")
    responses[response] = _response(chinese, english)

    rules = Document.load(rules_file(settings), relative(settings, rules_file(settings)))
    rule_list = rules.data.get("rules")
    if not isinstance(rule_list, CommentedSeq):
        raise DataEditError(f"{rules.label} has no `rules:` list")
    steps = CommentedSeq([CommentedMap([("intent", name)]), CommentedMap([("action", response)])])
    _append(rule_list, CommentedMap([("rule", rule_name(name)), ("steps", steps)]))

    nlu_doc, new_files = _add_to_intent_file(settings, index, name, line)
    _write([d for d in (domain, rules, nlu_doc) if d is not None], new_files)

    target = nlu_doc.path if nlu_doc else operator_file(settings)
    after = DataIndex.load(settings)
    _verify(lambda: name in after.domain_intents, "domain.yml intents")
    _verify(lambda: response in after.responses, "domain.yml responses")
    _verify(lambda: rule_name(name) in after.rule_names, relative(settings, rules_file(settings)))
    _verify(lambda: _read_back_example(target, name, line), relative(settings, target))
    touched = (relative(settings, target), "domain.yml", relative(settings, rules_file(settings)))
    return EditResult(name, line, touched)
