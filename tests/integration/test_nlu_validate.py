"""nlu.validate: Rasa's verdict on an edit, parsed into a reason, and the edit undone when
Rasa refuses it. The fake `rasa` keeps most of these fast; the two tests marked `slow` run the
real `rasa data validate` (Python 3.10 environment, several seconds each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlu import datafile, dataindex
from nlu.settings import NluSettings
from nlu.validate import (
    Snapshot,
    ValidationFailed,
    parse_validation,
    run_validation,
    validated_edit,
)
from tests.fakes.nlu_project import ROOT, copy_project, make_fake_rasa, project_settings

REAL_RASA = ROOT / ".venv-rasa" / "bin" / "rasa"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NluSettings:
    monkeypatch.setenv("FAKE_RASA_LOG", str(tmp_path / "calls.jsonl"))
    project = copy_project(tmp_path / "project")
    return project_settings(project, make_fake_rasa(tmp_path / "bin"))


def snapshot(settings: NluSettings) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in dataindex.editable_files(settings) if p.exists()}


def test_a_clean_run_has_no_problems_and_runs_rasa_like_lib_sh(
    fake: NluSettings, tmp_path: Path
) -> None:
    outcome = run_validation(fake)
    assert outcome.ok, outcome.problems
    call = json.loads((tmp_path / "calls.jsonl").read_text().splitlines()[0])
    assert call["argv"][:2] == ["data", "validate"]
    assert call["argv"][call["argv"].index("--data") + 1] == str(fake.data_dir)
    assert call["cwd"] == str(fake.project_dir)
    assert "PYTHONPATH" not in call["env"]
    assert call["env"]["RASA_TELEMETRY_ENABLED"] == "false"
    assert call["env"]["RASA_CACHE_DIRECTORY"] == str(fake.project_dir / ".rasa" / "cache")


def test_a_refused_edit_is_undone_with_rasas_reason(
    fake: NluSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(fake)
    monkeypatch.setenv("FAKE_RASA_VALIDATE", "fail")
    with pytest.raises(ValidationFailed, match="labeled with multiple different intents"):
        validated_edit(fake, lambda: datafile.add_example(fake, "greet", "俺们来问个好嘞"))
    assert snapshot(fake) == before
    # a new file (operator.yml) is removed again too
    with pytest.raises(ValidationFailed):
        validated_edit(
            fake,
            lambda: datafile.create_intent(fake, "ask_ev", "充电桩能装不", "请到营业厅办理。"),
        )
    assert snapshot(fake) == before
    assert not dataindex.operator_file(fake).exists()


def test_a_failing_database_step_undoes_the_edit(fake: NluSettings) -> None:
    before = snapshot(fake)

    def then(_result: datafile.EditResult) -> None:
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError, match="database is down"):
        validated_edit(
            fake, lambda: datafile.add_example(fake, "greet", "俺们来问个好嘞"), then=then
        )
    assert snapshot(fake) == before


def test_an_accepted_edit_stays(fake: NluSettings) -> None:
    result = validated_edit(fake, lambda: datafile.add_example(fake, "greet", "俺们来问个好嘞"))
    assert result.files == ("data/nlu/smalltalk_a.yml",)
    assert "俺们来问个好嘞" in (fake.data_dir / "nlu" / "smalltalk_a.yml").read_text()


def test_snapshot_restores_changed_and_deletes_new_files(tmp_path: Path) -> None:
    kept, new = tmp_path / "kept.yml", tmp_path / "new.yml"
    kept.write_text("a")
    snap = Snapshot.take([kept, new])
    kept.write_text("b")
    new.write_text("c")
    snap.restore()
    assert kept.read_text() == "a"
    assert not new.exists()


def test_parse_keeps_problems_and_drops_expected_warnings() -> None:
    output = (
        "2026-11-26 05:01:30 INFO     rasa.validator  - Validating intents...\n"
        "\x1b[93m/x/io.py:100: UserWarning: The intent 'greet' is not used in any story or rule.\n"
        "\x1b[0m\x1b[93m/x/io.py:100: UserWarning: There is a message in the training data"
        " labeled with intent 'foo'. This intent is not listed in your domain.\n"
        "  More info at https://rasa.com/docs/rasa/domain\n\x1b[0m"
        "2026-11-26 05:01:31 ERROR    rasa.validator  - The action 'utter_x' is used in the"
        " stories, but is not a valid utterance action.\n"
        "\x1b[91mProject validation completed with errors.\x1b[0m\n"
    )
    outcome = parse_validation(output, 1)
    assert not outcome.ok
    assert outcome.problems == (
        "There is a message in the training data labeled with intent 'foo'. This intent is not"
        " listed in your domain.",
        "The action 'utter_x' is used in the stories, but is not a valid utterance action.",
    )


def test_parse_reads_an_exception_over_its_lines() -> None:
    output = (
        "\x1b[91mYamlSyntaxException: Failed to read 'data/rules.yml'. while parsing a flow node\n"
        "expected the node content, but found '<stream end>'\n"
        '  in "data/rules.yml", line 520, column 1:\n\n'
        "You can use https://yamlchecker.com/ to validate the YAML syntax of your file.\x1b[0m\n"
    )
    outcome = parse_validation(output, 1)
    assert outcome.reason == (
        "YamlSyntaxException: Failed to read 'data/rules.yml'. while parsing a flow node"
        " expected the node content, but found '<stream end>'"
        ' in "data/rules.yml", line 520, column 1:'
    )


def test_parse_falls_back_to_the_last_lines_of_a_failed_run() -> None:
    outcome = parse_validation("starting\nsomething broke\n", 2)
    assert not outcome.ok
    assert outcome.reason == "starting / something broke"


@pytest.mark.slow
@pytest.mark.skipif(not REAL_RASA.exists(), reason="needs the Rasa environment (.venv-rasa)")
def test_real_rasa_accepts_an_operator_intent(tmp_path: Path) -> None:
    settings = project_settings(copy_project(tmp_path / "project"), REAL_RASA)
    validated_edit(
        settings,
        lambda: datafile.create_intent(
            settings,
            "ask_ev_charging",
            "电动车充电桩能装不",
            "可以申请安装充电桩，请到营业厅办理。",
        ),
    )
    assert dataindex.operator_file(settings).exists()


@pytest.mark.slow
@pytest.mark.skipif(not REAL_RASA.exists(), reason="needs the Rasa environment (.venv-rasa)")
def test_real_rasa_refuses_an_intent_missing_from_the_domain(tmp_path: Path) -> None:
    settings = project_settings(copy_project(tmp_path / "project"), REAL_RASA)
    before = snapshot(settings)
    billing = settings.data_dir / "nlu" / "billing.yml"

    def sneak_in() -> None:  # an edit the quick checks would refuse: write it by hand
        billing.write_text(billing.read_text() + "- intent: foo_bar\n  examples: |\n    - 哈哈\n")

    with pytest.raises(ValidationFailed, match=r"'foo_bar'.*not listed in your domain"):
        validated_edit(settings, sneak_in)
    assert snapshot(settings) == before
