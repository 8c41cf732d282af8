"""Checks on the real NLU data files, so broken data fails here and not in a 20-minute training.

- the held-out set covers exactly the 29 intents with enough examples each;
- the training data has enough examples for every domain intent and has every control intent;
- no held-out example leaks into the training data (the evaluation would be flattering);
- the entity regexes match and reject what they should (a phone is not an account number);
- the intent names are the fixed set that dashboards and the data guide key on.

The YAML is read with PyYAML and the example blocks are parsed here (lines starting "- ",
annotations stripped), so the checks do not need the Rasa environment.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.nlu_project import thin_examples

ROOT = Path(__file__).resolve().parents[2]
HOLDOUT = ROOT / "tests" / "nlu" / "holdout.yml"
TRAINING_DIR = ROOT / "data" / "nlu"
ENTITIES = TRAINING_DIR / "entities.yml"
GUIDE = ROOT / "docs" / "nlu-data-guide.md"
AREAS = ROOT / "conf" / "areas.yml"
USERDICT = ROOT / "nlu" / "dict" / "userdict.txt"

DOMAIN_INTENTS = frozenset(
    {
        "report_fault",
        "report_safety_hazard",
        "query_bill",
        "query_outage_info",
        "track_repair",
        "track_application",
        "ask_tariff",
        "pay_bill",
        "ask_service_info",
        "meter_issue",
        "payment_reconnect",
        "bill_dispute",
        "apply_new_connection",
        "apply_capacity_change",
        "apply_name_transfer",
        "apply_other_change",
        "file_complaint",
        "report_violation",
        "give_suggestion",
        "give_praise",
        "request_human",
        "rate_service",
    }
)
CONTROL_INTENTS = frozenset(
    {"greet", "goodbye", "affirm", "deny", "thank", "inform", "out_of_scope"}
)
INTENTS = DOMAIN_INTENTS | CONTROL_INTENTS

MIN_HOLDOUT_PER_INTENT = 10
MIN_TRAINING_PER_DOMAIN_INTENT = 30

# [text](entity), [text](entity:value) and [text]{"entity": ..., "value": ...}
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def strip_annotations(text: str) -> str:
    """The customer's text without entity markup."""
    return _ANNOTATION.sub(r"\1", text)


def parse_examples(examples: object) -> list[str]:
    """Examples of one intent block: the `|` string of "- " lines, or a list of {text: ...}."""
    if isinstance(examples, str):
        lines = (line.strip() for line in examples.splitlines())
        return [strip_annotations(line[2:].strip()) for line in lines if line.startswith("- ")]
    if isinstance(examples, list):
        texts = (item.get("text") if isinstance(item, Mapping) else item for item in examples)
        return [strip_annotations(str(text).strip()) for text in texts if text]
    return []


def nlu_blocks(path: Path) -> list[Mapping[str, Any]]:
    """The items of the file's `nlu:` list."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    blocks = data.get("nlu") or []
    assert isinstance(blocks, list), f"{path}: `nlu:` must be a list"
    return blocks


def intent_examples(paths: Iterable[Path]) -> dict[str, list[tuple[Path, str]]]:
    """intent -> [(file, example)] over all given files."""
    found: dict[str, list[tuple[Path, str]]] = {}
    for path in paths:
        for block in nlu_blocks(path):
            if "intent" in block:
                examples = parse_examples(block.get("examples"))
                found.setdefault(str(block["intent"]), []).extend((path, e) for e in examples)
    return found


def normalise(text: str) -> str:
    """Compare texts the way a model sees them: full-width folded, no case/space/punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "PZSC")


def training_files() -> list[Path]:
    return sorted([*TRAINING_DIR.glob("*.yml"), *TRAINING_DIR.glob("*.yaml")])


@pytest.fixture(scope="module")
def holdout() -> dict[str, list[tuple[Path, str]]]:
    return intent_examples([HOLDOUT])


@pytest.fixture(scope="module")
def training() -> dict[str, list[tuple[Path, str]]]:
    found = intent_examples(training_files())
    names = [p.name for p in training_files()]
    assert found, f"no intent examples in {TRAINING_DIR} (files: {names})"
    return found


# (a) held-out set --------------------------------------------------------------------------


def test_holdout_has_only_intent_blocks() -> None:
    kinds = {next(iter(block)) for block in nlu_blocks(HOLDOUT)}
    assert kinds == {"intent"}, "the held-out set must not define regexes, lookups or synonyms"


def test_holdout_covers_exactly_the_29_intents(
    holdout: dict[str, list[tuple[Path, str]]],
) -> None:
    assert set(holdout) == INTENTS, (
        f"missing: {sorted(INTENTS - set(holdout))}, unknown: {sorted(set(holdout) - INTENTS)}"
    )
    too_few = {i: len(ex) for i, ex in holdout.items() if len(ex) < MIN_HOLDOUT_PER_INTENT}
    assert not too_few, f"fewer than {MIN_HOLDOUT_PER_INTENT} held-out examples: {too_few}"


def test_holdout_has_no_internal_duplicates(holdout: dict[str, list[tuple[Path, str]]]) -> None:
    counts = Counter(normalise(text) for examples in holdout.values() for _, text in examples)
    assert not [text for text, n in counts.items() if n > 1]


# (b) training data -------------------------------------------------------------------------


@pytest.mark.parametrize("intent", sorted(DOMAIN_INTENTS))
def test_training_has_enough_examples(
    training: dict[str, list[tuple[Path, str]]], intent: str
) -> None:
    count = len(training.get(intent, []))
    assert count >= MIN_TRAINING_PER_DOMAIN_INTENT, (
        f"{intent}: {count} training examples, need {MIN_TRAINING_PER_DOMAIN_INTENT}"
    )


@pytest.mark.parametrize("intent", sorted(CONTROL_INTENTS))
def test_training_has_control_intent(
    training: dict[str, list[tuple[Path, str]]], intent: str
) -> None:
    count = len(training.get(intent, []))  # a count, so a failure does not print the data
    assert count > 0, f"control intent {intent} has no training examples"


# (c) no leak -------------------------------------------------------------------------------


def test_no_holdout_example_in_training(
    holdout: dict[str, list[tuple[Path, str]]], training: dict[str, list[tuple[Path, str]]]
) -> None:
    trained = {
        normalise(text): (intent, path.name)
        for intent, examples in training.items()
        for path, text in examples
    }
    leaks = [
        f"{text!r} ({intent}) == training {trained[normalise(text)]}"
        for intent, examples in holdout.items()
        for _, text in examples
        if normalise(text) in trained
    ]
    assert not leaks, "held-out examples found in the training data:\n" + "\n".join(leaks)


# (d) entity regexes ------------------------------------------------------------------------


def entity_patterns() -> dict[str, list[re.Pattern[str]]]:
    """regex name -> compiled patterns, flags as Rasa uses them (case_sensitive: false)."""
    patterns: dict[str, list[re.Pattern[str]]] = {}
    for block in nlu_blocks(ENTITIES):
        if "regex" in block:
            examples = block["examples"]
            assert isinstance(examples, str)
            lines = (line.strip() for line in examples.splitlines())
            compiled = [re.compile(ln[2:].strip(), re.IGNORECASE) for ln in lines if ln[:2] == "- "]
            patterns.setdefault(str(block["regex"]), []).extend(compiled)
    return patterns


def regex_matches(name: str, text: str) -> list[str]:
    return [m.group() for p in entity_patterns()[name] for m in p.finditer(text)]


def test_entities_define_the_four_regexes() -> None:
    assert set(entity_patterns()) == {"account_no", "phone_number", "ticket_id", "application_id"}


REGEX_CASES = [
    # account_no: 10 digits, or 13 with a province prefix; nothing longer or shorter is cut
    ("account_no", "户号3301000001", ["3301000001"]),
    ("account_no", "3303301000001", ["3303301000001"]),
    ("account_no", "户号是３３０１０００００１", ["３３０１０００００１"]),
    ("account_no", "户号3301000001电话13905710001", ["3301000001"]),
    ("account_no", "13905710001", []),  # an 11-digit phone is not an account
    ("account_no", "8613905710001", []),  # neither is a phone with the 86 country code
    ("account_no", "330100000", []),
    ("account_no", "33010000012", []),
    ("account_no", "330330100000123", []),
    ("account_no", "1234567890123456789012", []),  # 22-digit meter barcode
    ("account_no", "T2611230007", []),  # the digits of a ticket id
    ("account_no", "a2611200003", []),  # the digits of an application id
    # phone_number: 1[3-9] + 9 digits
    ("phone_number", "13905710001", ["13905710001"]),
    ("phone_number", "我电话是15857120001谢谢", ["15857120001"]),
    ("phone_number", "电话１３９０５７１０００１", ["１３９０５７１０００１"]),
    ("phone_number", "+8613905710001", ["13905710001"]),
    ("phone_number", "８６１３９０５７１０００１", ["１３９０５７１０００１"]),
    ("phone_number", "58613905710001", []),  # 14 digits: not +86 and a phone
    ("phone_number", "12905710001", []),
    ("phone_number", "1390571000", []),
    ("phone_number", "139057100012", []),
    ("phone_number", "3303301000001", []),
    ("phone_number", "3301000001", []),
    # ticket_id: T + 10 digits, any case
    ("ticket_id", "工单T2611230007", ["T2611230007"]),
    ("ticket_id", "t2611230007进度", ["t2611230007"]),
    ("ticket_id", "Ｔ２６１１２３０００７", ["Ｔ２６１１２３０００７"]),
    ("ticket_id", "T261123000", []),
    ("ticket_id", "T26112300071", []),
    ("ticket_id", "2611230007", []),
    ("ticket_id", "A2611200003", []),
    # application_id: A + 10 digits, any case
    ("application_id", "申请编号A2611200017办到哪了", ["A2611200017"]),
    ("application_id", "a2611210088", ["a2611210088"]),
    ("application_id", "A261120000", []),
    ("application_id", "A26112000031", []),
    ("application_id", "T2611230007", []),
    ("application_id", "CA2611200003", []),
]


@pytest.mark.parametrize(("name", "text", "expected"), REGEX_CASES)
def test_entity_regex(name: str, text: str, expected: list[str]) -> None:
    assert regex_matches(name, text) == expected


def test_address_lookup_covers_conf_areas() -> None:
    areas = yaml.safe_load(AREAS.read_text(encoding="utf-8"))["areas"]
    wanted = {a["name"] for a in areas} | {alias for a in areas for alias in a.get("aliases", [])}
    lookups = [b for b in nlu_blocks(ENTITIES) if b.get("lookup") == "address"]
    assert len(lookups) == 1
    assert wanted <= set(parse_examples(lookups[0]["examples"]))


# (e) intent names --------------------------------------------------------------------------


def test_intent_set_is_the_fixed_29() -> None:
    assert len(INTENTS) == 29
    assert not DOMAIN_INTENTS & CONTROL_INTENTS


def test_guide_lists_the_same_intents() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## Intents", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # skip header
    listed = {name.strip() for row in rows for name in row.split("|")[2].split(",")}
    assert listed == INTENTS


def test_domain_declares_the_same_intents() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    declared = [str(i) if isinstance(i, str) else next(iter(i)) for i in domain["intents"]]
    assert sorted(declared) == sorted(INTENTS)


def test_training_uses_only_the_fixed_intents(
    training: dict[str, list[tuple[Path, str]]],
) -> None:
    assert set(training) <= INTENTS, f"unknown intents: {sorted(set(training) - INTENTS)}"


# Jieba dictionary: a malformed line is silently mis-read, so check the format -----------------


def test_userdict_format() -> None:
    lines = [ln for ln in USERDICT.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(lines) >= 150
    bad = [ln for ln in lines if not re.fullmatch(r"\S+ [1-9][0-9]* [a-z]+", ln)]
    assert not bad, f"lines not in `word freq tag` form: {bad}"
    words = [ln.split()[0] for ln in lines]
    assert not [w for w, n in Counter(words).items() if n > 1], "duplicate words"
    areas = yaml.safe_load(AREAS.read_text(encoding="utf-8"))["areas"]
    assert {a["name"] for a in areas} <= set(words)


def test_thinning_keeps_the_first_examples_of_each_intent_and_everything_else() -> None:
    """The retraining e2e trains on a thinned copy (tests/fakes/nlu_project.thin_examples):
    both indent styles of the data files, regexes and comments untouched, valid YAML."""
    flush = (
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: a\n"
        "  examples: |\n"
        "    - a1\n"
        "    - a2\n"
        "    - a3\n"
        "# a comment\n"
        "- regex: account_no\n"
        "  examples: |\n"
        "    - \\d{10}\n"
        "    - \\d{12}\n"
        "    - \\d{13}\n"
    )
    indented = (
        "nlu:\n"
        "  - intent: b\n"
        "    examples: |\n"
        "      - b1\n"
        "      - [b2](x)\n"
        "      - b3\n"
        "  - intent: c\n"
        "    examples: |\n"
        "      - c1\n"
    )
    thinned = thin_examples(flush, 2)
    data = yaml.safe_load(thinned)["nlu"]
    assert data[0] == {"intent": "a", "examples": "- a1\n- a2\n"}
    assert data[1]["examples"] == "- \\d{10}\n- \\d{12}\n- \\d{13}\n"
    assert yaml.safe_load(thin_examples(indented, 2))["nlu"] == [
        {"intent": "b", "examples": "- b1\n- [b2](x)\n"},
        {"intent": "c", "examples": "- c1\n"},
    ]
    assert "# a comment" in thinned


def test_thinning_the_shipped_data_leaves_every_intent_examples() -> None:
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        original = yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []
        thinned = yaml.safe_load(thin_examples(path.read_text(encoding="utf-8"), 20)).get("nlu")
        assert len(thinned or []) == len(original), path
        for before, after in zip(original, thinned or [], strict=True):
            if "intent" not in before:
                assert after == before
                continue
            lines = before["examples"].splitlines()
            assert after["examples"].splitlines() == lines[:20], (path, before["intent"])
