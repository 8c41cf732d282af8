"""nlu.datafile: operators' edits of data/ and domain.yml keep the files as written (the only
difference is the added lines), and bad edits are refused with the reason, touching nothing."""

from __future__ import annotations

import difflib
import re
import unicodedata
from pathlib import Path

import pytest
import yaml
from ruamel.yaml.scalarstring import LiteralScalarString

from nlu.datafile import add_example, add_out_of_scope, create_intent, find_entity, remove_example
from nlu.dataindex import editable_files, format_example, nlu_dir, operator_file, relative
from nlu.rules import DataEditError, EntitySpan
from nlu.settings import NluSettings
from nlu.yamldoc import Document
from store.ids import normalise_account_no, normalise_phone, synthetic_numbers
from tests.fakes.nlu_project import copy_project, project_settings


@pytest.fixture
def project(tmp_path: Path) -> NluSettings:
    return project_settings(copy_project(tmp_path / "project"))


def snapshot(settings: NluSettings) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in editable_files(settings) if p.exists()}


def added_lines(before: str, after: str) -> list[str]:
    """The lines `after` adds to `before`; fails when anything else changed."""
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), False)
    added: list[str] = []
    for op, _i1, _i2, j1, j2 in matcher.get_opcodes():
        assert op in ("equal", "insert"), f"existing lines changed ({op})"
        if op == "insert":
            added += after.splitlines()[j1:j2]
    return added


def changed_files(settings: NluSettings, before: dict[Path, str]) -> dict[str, list[str]]:
    after = snapshot(settings)
    changes = {}
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path, ""), after.get(path)
        if new is None:
            changes[relative(settings, path)] = ["<deleted>"]
        elif old != new:
            changes[relative(settings, path)] = added_lines(old, new)
    return changes


def examples_of(path: Path, intent: str) -> list[str]:
    blocks = yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]
    found: list[str] = []
    for block in blocks:
        if block.get("intent") == intent:
            found += [line[2:] for line in block["examples"].splitlines() if line.strip()]
    return found


def test_an_example_joins_the_file_of_its_intent_with_entities(project: NluSettings) -> None:
    before = snapshot(project)
    text = "俺们东山村3组上月电费咋这么多"
    entities = [
        find_entity(text, "address", "东山村3组"),
        find_entity(text, "billing_period", "上月", value="上个月"),
    ]
    result = add_example(project, "bill_dispute", text, entities)
    synonym = '{"entity": "billing_period", "value": "上个月"}'
    line = f"俺们[东山村3组](address)[上月]{synonym}电费咋这么多"
    assert result.line == line
    assert result.files == ("data/nlu/billing.yml",)
    # the only change: one line at the end of bill_dispute's block, indented like its neighbours
    assert changed_files(project, before) == {"data/nlu/billing.yml": [f"    - {line}"]}
    assert examples_of(nlu_dir(project) / "billing.yml", "bill_dispute")[-1] == line


def test_indented_lists_keep_their_indentation(project: NluSettings) -> None:
    # dialogue.yml indents its list (`  - intent:`), billing.yml does not
    before = snapshot(project)
    add_out_of_scope(project, "帮我叫个外卖")
    assert changed_files(project, before) == {"data/nlu/dialogue.yml": ["      - 帮我叫个外卖"]}


def test_the_largest_block_gets_the_example(project: NluSettings) -> None:
    # report_fault has a block in faults.yml (large) and one in variants.yml (small)
    result = add_example(project, "report_fault", "俺家的灯全灭了咋整嘞")
    assert result.files == ("data/nlu/faults.yml",)


def test_a_new_intent_touches_four_files_and_only_adds_lines(project: NluSettings) -> None:
    before = snapshot(project)
    result = create_intent(
        project,
        "ask_ev_charging",
        "电动车充电桩能装不",
        response_zh="可以申请安装充电桩，请带身份证到营业厅办理。",
        response_en="You can apply for an EV charger at the service hall.",
    )
    assert result.intent == "ask_ev_charging"
    changes = changed_files(project, before)
    assert changes["domain.yml"] == [
        "  - ask_ev_charging",
        "  utter_ask_ev_charging:",
        '    - text: "可以申请安装充电桩，请带身份证到营业厅办理。"',
        '    - text: "You can apply for an EV charger at the service hall."',
        "      condition:",
        "        - type: slot",
        "          name: language",
        "          value: en",
    ]
    assert changes["data/rules.yml"] == [
        "  - rule: ask_ev_charging (operator intent)",
        "    steps:",
        "      - intent: ask_ev_charging",
        "      - action: utter_ask_ev_charging",
    ]
    operator = operator_file(project).read_text(encoding="utf-8")
    assert operator.startswith("# ")
    assert examples_of(operator_file(project), "ask_ev_charging") == ["电动车充电桩能装不"]
    domain = yaml.safe_load(project.domain_file.read_text(encoding="utf-8"))
    # the new intent joins the list, not the blank line before `entities:`
    assert domain["intents"][-1] == "ask_ev_charging"
    assert "\n  - rate_service\n  - ask_ev_charging\n\nentities:" in project.domain_file.read_text(
        encoding="utf-8"
    )

    # the second example of the new intent goes to operator.yml as well; English is optional
    add_example(project, "ask_ev_charging", "充电桩咋申请")
    assert examples_of(operator_file(project), "ask_ev_charging") == [
        "电动车充电桩能装不",
        "充电桩咋申请",
    ]
    before = snapshot(project)
    create_intent(project, "ask_solar", "屋顶光伏能并网不", response_zh="可以，请到营业厅咨询。")
    changes = changed_files(project, before)
    assert changes["data/nlu/operator.yml"] == [
        "- intent: ask_solar",
        "  examples: |",
        "    - 屋顶光伏能并网不",
    ]
    assert changes["domain.yml"][-2:] == [
        "  utter_ask_solar:",
        '    - text: "可以，请到营业厅咨询。"',
    ]


@pytest.mark.parametrize(
    ("intent", "text", "message"),
    [
        ("query_bill", "电费", r"already an example of query_bill \(data/nlu/billing.yml"),
        ("query_bill", " 電費多少 ", "already an example of query_bill"),
        ("greet", "查一下电费", "already belongs to intent query_bill"),
        ("no_such", "随便说说", "unknown intent 'no_such'"),
        ("query_bill", "   ", "empty"),
        ("query_bill", "俺家[户号](account_no)", r"contains \[ or \]"),
        ("query_bill", "！！！", "not a usable example"),
    ],
)
def test_bad_examples_are_refused_and_nothing_changes(
    project: NluSettings, intent: str, text: str, message: str
) -> None:
    before = snapshot(project)
    with pytest.raises(DataEditError, match=message):
        add_example(project, intent, text)
    assert snapshot(project) == before


def test_held_out_examples_are_refused(project: NluSettings) -> None:
    holdout = yaml.safe_load(project.training.holdout.read_text(encoding="utf-8"))
    line = holdout["nlu"][0]["examples"].splitlines()[1][2:]  # plain, no entities
    with pytest.raises(DataEditError, match="held-out test set"):
        add_example(project, "report_fault", line)


@pytest.mark.parametrize(
    ("entities", "message"),
    [
        ([EntitySpan("village", 0, 3)], "unknown entity 'village'"),
        ([EntitySpan("address", 0, 99)], "outside the text"),
        ([EntitySpan("address", 0, 3), EntitySpan("address", 2, 5)], "overlaps"),
        ([EntitySpan("address", 3, 7)], "starts or ends with a space"),
    ],
)
def test_bad_entities_are_refused(
    project: NluSettings, entities: list[EntitySpan], message: str
) -> None:
    with pytest.raises(DataEditError, match=message):
        add_example(project, "report_fault", "东山村 3组停电了", entities)


def test_an_entity_must_occur_in_the_text() -> None:
    with pytest.raises(DataEditError, match="does not occur"):
        find_entity("东山村停电了", "address", "西河村")


@pytest.mark.parametrize(
    ("name", "zh", "en", "message"),
    [
        ("Ask-EV", "请到营业厅办理", None, "not a valid intent name"),
        ("ask__ev", "请到营业厅办理", None, "not a valid intent name"),
        ("query_bill", "请到营业厅办理", None, "already exists"),
        ("nlu_fallback", "请到营业厅办理", None, "already exists"),
        ("ask_ev", "TODO", None, "stub"),
        ("ask_ev", "待补充", None, "stub"),
        ("ask_ev", "", None, "written in Chinese"),
        ("ask_ev", "Please come to the hall", None, "must be written in Chinese"),
        ("ask_ev", "请到营业厅办理", "todo: translate", "English reply is a stub"),
        ("ask_ev", "您好{name}", None, "placeholders"),
    ],
)
def test_bad_new_intents_are_refused(
    project: NluSettings, name: str, zh: str, en: str | None, message: str
) -> None:
    before = snapshot(project)
    with pytest.raises(DataEditError, match=message):
        create_intent(project, name, "充电桩能装不", response_zh=zh, response_en=en)
    assert snapshot(project) == before


def test_a_file_ruamel_cannot_reproduce_is_not_rewritten(project: NluSettings) -> None:
    odd = nlu_dir(project) / "billing.yml"
    # a flow sequence split over lines: ruamel.yaml would join it, so the edit is refused
    odd.write_text(
        odd.read_text(encoding="utf-8") + "- synonym: 上个月\n  examples: [\n    上月]\n",
        encoding="utf-8",
    )
    before = snapshot(project)
    with pytest.raises(DataEditError, match="without reformatting"):
        add_example(project, "query_bill", "俺想查查电费咋弄")
    assert snapshot(project) == before


def test_an_example_is_taken_out_and_nothing_else_changes(project: NluSettings) -> None:
    add_example(project, "query_bill", "俺想查查电费咋弄")
    written = snapshot(project)
    before = written[nlu_dir(project) / "billing.yml"]
    result = remove_example(project, "query_bill", "俺想查查电费咋弄")
    after = (nlu_dir(project) / "billing.yml").read_text(encoding="utf-8")
    assert result.files == ("data/nlu/billing.yml",)
    assert added_lines(after, before) == ["    - 俺想查查电费咋弄"]  # the only difference
    unchanged = snapshot(project)
    del unchanged[nlu_dir(project) / "billing.yml"], written[nlu_dir(project) / "billing.yml"]
    assert unchanged == written

    before = snapshot(project)
    with pytest.raises(DataEditError, match="is not an example of query_bill"):
        remove_example(project, "query_bill", "俺想查查电费咋弄")
    with pytest.raises(DataEditError, match="is not an example of greet"):
        remove_example(project, "greet", "电费")  # an example, but of another intent
    assert snapshot(project) == before


def test_a_removal_that_would_change_another_line_is_refused(project: NluSettings) -> None:
    path = nlu_dir(project) / "billing.yml"
    doc = Document.load(path)
    block = next(b for b in doc.data["nlu"] if b.get("intent") == "query_bill")
    lines = str(block["examples"]).splitlines(keepends=True)
    first, second = lines[0].strip()[2:], lines[1]
    block["examples"] = LiteralScalarString("".join([second.replace("电费", "电钱"), *lines[2:]]))
    with pytest.raises(DataEditError, match="not only take out one example"):
        doc.render(removed=first)
    block["examples"] = LiteralScalarString("".join(lines[1:]))
    restored = added_lines(doc.render(removed=first), doc.text)
    assert [line.strip() for line in restored] == [f"- {first}"]


def test_format_example_writes_synonyms_as_json() -> None:
    text = "上月电费"
    assert format_example(text, [EntitySpan("billing_period", 0, 2, "上个月")]) == (
        '[上月]{"entity": "billing_period", "value": "上个月"}电费'
    )
    plain = format_example(text, [EntitySpan("billing_period", 0, 2)])
    assert plain == "[上月](billing_period)电费"


def test_line_breaks_and_outer_spaces_are_cleaned_and_offsets_follow(
    project: NluSettings,
) -> None:
    text = "  东山村\n停电了\t快来 "
    result = add_example(project, "report_fault", text, [EntitySpan("address", 2, 5)])
    assert result.line == "[东山村](address) 停电了 快来"


def test_customers_numbers_never_reach_the_training_data(project: NluSettings) -> None:
    """A phone or account number in a labelled message is written as a made-up number of the
    same shape (data/ is committed and shared); the entities still cover it."""
    text = "户号３３０１０００００１ 电话13905717777 查电费"
    account = find_entity(text, "account_no", "３３０１０００００１", value="3301000001")
    phone = find_entity(text, "phone_number", "13905717777")
    before = snapshot(project)
    result = add_example(project, "query_bill", text, [account, phone])
    written = "\n".join(line for lines in changed_files(project, before).values() for line in lines)
    for real in ("3301000001", "３３０１０００００１", "13905717777", "05717777"):
        assert real not in written
    match = re.fullmatch(
        r'户号\[(３３[０-９]{8})\]\{"entity": "account_no", "value": "(33\d{8})"\} '
        r"电话\[(1[3-9]\d{9})\]\(phone_number\) 查电费",
        result.line,
    )
    assert match, result.line
    assert unicodedata.normalize("NFKC", match.group(1)) == match.group(2)
    assert result.line in "\n".join(written.splitlines())


def test_synthetic_numbers_keep_the_shape() -> None:
    text = "电话１３９０５７１７７７７，户号3301000001，单号T2611230001，1234"
    made_up = synthetic_numbers(text)
    assert len(made_up) == len(text)
    assert normalise_phone(made_up[2:13]) is not None
    assert made_up[2:4] == "１３"
    assert made_up[2:13] != text[2:13]
    assert normalise_account_no(made_up[16:26]) is not None
    assert made_up[16:26] != "3301000001"
    assert made_up[27:] == text[27:]  # a ticket number and short numbers are nobody's
    assert synthetic_numbers("no numbers here") == "no numbers here"
