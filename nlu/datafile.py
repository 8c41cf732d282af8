"""Operators' edits of the training data: data/nlu/*.yml, domain.yml and data/rules.yml.

Every edit is a ruamel.yaml round trip that keeps the files as people wrote them (nlu.yamldoc:
the new text may differ from the old one only by added lines, or the edit is refused and
nothing is written). The result is read back to check that the change is there.

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

The quick checks (nlu.dataindex: duplicates, an example that belongs to another intent, the
held-out set, entity names and offsets; here: new intents' names and stub responses) run before
anything is written; the slow, complete check is `rasa data validate` (nlu.validate), which
runs after the edit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from nlu.dataindex import (
    DataIndex,
    example_lines,
    nlu_blocks,
    nlu_files,
    operator_file,
    plain_text,
    relative,
    rules_file,
)
from nlu.rules import (
    OUT_OF_SCOPE,
    RESERVED_INTENTS,
    DataEditError,
    EntitySpan,
    check_intent_name,
    normalise_example,
)
from nlu.settings import NluSettings
from nlu.yamldoc import Document, append_example_line, append_item, write_atomically
from store.ids import synthetic_numbers

OPERATOR_HEADER = (
    "# Intents and examples operators added from real conversations (python -m nlu, the\n"
    "# console's NLU inbox). Written by nlu/datafile.py; fine to edit by hand like any other\n"
    "# file in data/nlu/ (docs/nlu-data-guide.md).\n"
)
#: Words that mark a response text as a placeholder nobody filled in.
STUB_MARKERS = ("todo", "tbd", "fixme", "xxx", "待补充", "待填写", "待完善", "待定")


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


def find_entity(text: str, entity: str, surface: str, value: str | None = None) -> EntitySpan:
    """The entity at the first occurrence of `surface` in `text` (the CLI's name=surface)."""
    start = text.find(surface) if surface else -1
    if start < 0:
        raise DataEditError(f"entity {entity}: {surface!r} does not occur in the text {text!r}")
    return EntitySpan(entity, start, start + len(surface), value)


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
        append_example_line(
            max(matching, key=lambda b: len(example_lines(b.get("examples")))), line
        )
    else:
        append_item(blocks, _new_block(intent, line))
    return doc, {}


def _read_back_example(path: Path, intent: str, line: str) -> bool:
    return any(
        block.get("intent") == intent and line in example_lines(block.get("examples"))
        for block in nlu_blocks(path)
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
    """A text compared with the example written for it: `normalise_example`d, every digit the same
    (the numbers in an example are made-up ones of the same shape, see `prepare`)."""
    return re.sub(r"\d", "0", normalise_example(text))


def remove_example(settings: NluSettings, intent: str, text: str) -> EditResult:
    """Take the example written for a customer message `text` out of `intent`'s block: the
    line whose text is `text` (its numbers may differ: they were made up when it was written;
    of several such lines, the last). The file keeps every other line as it was."""
    wanted = _shape(prepare(text)[0])
    found: tuple[Path, str] | None = None
    for path in nlu_files(settings):
        for block in nlu_blocks(path):
            if block.get("intent") == intent:
                for line in example_lines(block.get("examples")):
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
        b for b in blocks if b.get("intent") == intent and line in example_lines(b.get("examples"))
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


def check_new_intent(index: DataIndex, name: str) -> None:
    """A valid name (nlu.rules) that no intent, response or action has yet."""
    check_intent_name(name)
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
    if len(normalise_example(text)) < 2:
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
    check_new_intent(index, name)
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
    append_item(intents, name)
    responses = domain.data.get("responses")
    if not isinstance(responses, dict):
        raise DataEditError("domain.yml has no `responses:` mapping")
    responses[response] = _response(chinese, english)

    rules = Document.load(rules_file(settings), relative(settings, rules_file(settings)))
    rule_list = rules.data.get("rules")
    if not isinstance(rule_list, CommentedSeq):
        raise DataEditError(f"{rules.label} has no `rules:` list")
    steps = CommentedSeq([CommentedMap([("intent", name)]), CommentedMap([("action", response)])])
    append_item(rule_list, CommentedMap([("rule", rule_name(name)), ("steps", steps)]))

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
