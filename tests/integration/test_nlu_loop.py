"""nlu.loop end to end without real training: inbox items are labelled into a copy of the
project, a fake `rasa` trains and evaluates, the registry and the jobs table follow, and a fake
Rasa server receives the deployed model. Runs on SQLite (and PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from bot.rasa_client import RasaClient
from bot.serving import ServingFollower
from nlu.dataindex import DataIndex
from nlu.deploy import RasaServer, current_fingerprint
from nlu.fingerprint import training_fingerprint
from nlu.jobs import JobState
from nlu.loop import LoopError, NluLoop
from nlu.plumbing import FileLock
from nlu.rules import normalise_example
from nlu.settings import NluSettings
from nlu.training import LogTail
from store.db import run_unit, unit_of_work
from store.models import NluInboxItem
from store.services import nlu_registry, rasa_serving
from tests.fakes.gateway import eventually
from tests.fakes.loopback import running
from tests.fakes.nlu_project import (
    ROOT,
    add_inbox_item,
    copy_project,
    make_fake_rasa,
    project_settings,
)
from tests.fakes.rasa import FakeRasa
from tests.fakes.rasa_cli import fake_model

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    async with running(FakeRasa.serving_models()) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NluSettings:
    monkeypatch.setenv("FAKE_RASA_LOG", str(tmp_path / "calls.jsonl"))
    project = copy_project(tmp_path / "project")
    found = project_settings(project, make_fake_rasa(tmp_path / "bin"))
    fake_model(found.current_model, b"the model make run trained")
    (found.models_dir / "current.fingerprint").write_text("f" * 64 + "\n")
    return found


@pytest.fixture
def loop(settings: NluSettings, session_factory: sessionmaker[Session], rasa: FakeRasa) -> NluLoop:
    return NluLoop(
        settings, session_factory, rasa=RasaServer(rasa.url, rasa.token), clock=lambda: NOW
    )


def add_item(loop: NluLoop, text: str, predicted: str = "greet") -> int:
    return run_unit(
        loop.session_factory, lambda s: add_inbox_item(s, loop.settings, text, predicted, NOW)
    )


def item(loop: NluLoop, item_id: int) -> NluInboxItem:
    found = run_unit(loop.session_factory, lambda s: s.get(NluInboxItem, item_id))
    assert found is not None
    return found


def reports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **by_model: Any) -> None:
    """FAKE_RASA_REPORTS: the intent report `rasa test nlu` writes for each model file."""
    path = tmp_path / "reports.json"
    path.write_text(json.dumps(by_model), encoding="utf-8")
    monkeypatch.setenv("FAKE_RASA_REPORTS", str(path))


def calls(loop: NluLoop) -> list[dict[str, Any]]:
    """The fake rasa's invocations so far."""
    log = loop.settings.project_dir.parent / "calls.jsonl"
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def report(recalls: dict[str, float], default: float = 0.9) -> dict[str, Any]:
    holdout = yaml.safe_load(Path("tests/nlu/holdout.yml").read_text(encoding="utf-8"))
    body: dict[str, Any] = {}
    for block in holdout["nlu"]:
        recall = recalls.get(block["intent"], default)
        body[block["intent"]] = {
            "precision": 0.9,
            "recall": recall,
            "f1-score": 2 * 0.9 * recall / (0.9 + recall),
            "support": 12,
            "confused_with": {"nlu_fallback": 1} if recall < 0.9 else {},
        }
    body["accuracy"] = 0.9
    return body


# --- annotating ------------------------------------------------------------------------------


def test_label_writes_the_example_and_records_the_label(loop: NluLoop) -> None:
    item_id = add_item(loop, "俺们东山村3组没电了")
    result = loop.label_item(
        item_id,
        "report_fault",
        [{"entity": "address", "start": 2, "end": 7}],
        actor="op",
    )
    assert result.line == "俺们[东山村3组](address)没电了"
    assert result.files == ("data/nlu/faults.yml",)
    labelled = item(loop, item_id)
    assert labelled.status == "labelled"
    assert labelled.label_intent == "report_fault"
    assert labelled.label_entities == [
        {"entity": "address", "value": "东山村3组", "start": 2, "end": 7}
    ]
    # a second label of the same item is refused (its example is in data/ already)
    with pytest.raises(LoopError, match="already labelled as report_fault") as refused:
        loop.label_item(item_id, "greet", actor="op")
    assert refused.value.kind == "conflict"


def test_a_refused_label_changes_nothing(loop: NluLoop) -> None:
    item_id = add_item(loop, "电费")
    faults = (loop.settings.data_dir / "nlu" / "billing.yml").read_text()
    with pytest.raises(LoopError, match="already belongs to intent query_bill") as refused:
        loop.label_item(item_id, "greet", actor="op")
    assert refused.value.kind == "invalid"
    assert item(loop, item_id).status == "open"
    assert (loop.settings.data_dir / "nlu" / "billing.yml").read_text() == faults


def validations(loop: NluLoop) -> int:
    log = loop.settings.project_dir.parent / "calls.jsonl"
    if not log.exists():
        return 0
    return sum(c["argv"][:2] == ["data", "validate"] for c in calls(loop))


def test_several_items_are_labelled_in_one_edit_and_one_validation(loop: NluLoop) -> None:
    texts = ("俺家电费咋这么贵", "这个月电费多少钱啊", "查下上月电费")
    ids = [add_item(loop, text) for text in texts]
    billing = loop.settings.data_dir / "nlu" / "billing.yml"
    before = validations(loop)
    result = loop.label_items([*ids, ids[0]], "query_bill", actor="op", actor_id=None)
    assert validations(loop) == before + 1
    assert result.files == ("data/nlu/billing.yml",)
    assert result.line.splitlines() == list(texts)
    written = billing.read_text(encoding="utf-8")
    assert all(f"    - {text}\n" in written for text in texts)
    for item_id in ids:
        labelled = item(loop, item_id)
        assert (labelled.status, labelled.label_intent) == ("labelled", "query_bill")


def test_a_batch_with_one_refused_item_changes_nothing(loop: NluLoop) -> None:
    fine, known, done = (add_item(loop, t) for t in ("电费能分期交不", "电费", "俺家电表转得飞快"))
    loop.label_item(done, "meter_issue", actor="op")
    files = {p: p.read_bytes() for p in (loop.settings.data_dir / "nlu").glob("*.yml")}
    with pytest.raises(LoopError, match=f"inbox item {known}: .*already belongs") as refused:
        loop.label_items([fine, known], "greet", actor="op")
    assert refused.value.kind == "invalid"
    with pytest.raises(LoopError, match=f"inbox item {done} is already labelled") as conflict:
        loop.label_items([fine, done], "query_bill", actor="op")
    assert conflict.value.kind == "conflict"
    with pytest.raises(LoopError, match="unknown intent") as unknown:
        loop.label_items([fine], "no_such_intent", actor="op")
    assert unknown.value.kind == "invalid"
    with pytest.raises(LoopError, match="no inbox items"):
        loop.label_items([], "greet", actor="op")
    assert {p: p.read_bytes() for p in files} == files
    assert (item(loop, fine).status, item(loop, known).status) == ("open", "open")


def test_several_items_are_ignored_at_once_or_not_at_all(loop: NluLoop) -> None:
    noise, more, done = (add_item(loop, t) for t in ("嗯嗯嗯", "哦哦哦哦", "电费能分期交不"))
    loop.label_item(done, "query_bill", actor="op")
    before = nlu_data(loop)
    with pytest.raises(LoopError, match=f"inbox item {done} is labelled, not open") as refused:
        loop.ignore_items([noise, done], actor="op")
    assert refused.value.kind == "conflict"
    with pytest.raises(LoopError, match="no inbox item 999") as missing:
        loop.ignore_items([noise, 999], actor="op")
    assert missing.value.kind == "not_found"
    assert item(loop, noise).status == "open"  # the refused batches changed nothing

    assert loop.ignore_items([noise, more, noise], actor="op", actor_id=None) == [noise, more]
    assert (item(loop, noise).status, item(loop, more).status) == ("ignored", "ignored")
    assert nlu_data(loop) == before  # nothing is written into data/


def nlu_data(loop: NluLoop) -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted((loop.settings.data_dir / "nlu").glob("*.yml"))
    }


def test_a_label_is_corrected_by_moving_its_example(loop: NluLoop) -> None:
    text = "俺家电表咋转得飞快 电话13912345678"
    item_id = add_item(loop, text)
    loop.label_item(item_id, "query_bill", actor="op")
    before = nlu_data(loop)
    (written,) = [
        line[6:]
        for line in before["billing.yml"].splitlines()
        if line.startswith("    - 俺家电表咋转得飞快")
    ]
    assert "13912345678" not in written  # a made-up number of the same shape was written
    validated = validations(loop)

    result = loop.relabel_item(
        item_id, "meter_issue", [{"entity": "phone_number", "start": 12, "end": 23}], actor="op"
    )
    assert validations(loop) == validated + 1
    assert result.files == ("data/nlu/billing.yml",)
    after = nlu_data(loop)
    old_lines, new_lines = before["billing.yml"].splitlines(), after["billing.yml"].splitlines()
    assert f"    - {written}" not in new_lines
    assert f"    - {result.line}" in new_lines
    assert result.line.startswith("俺家电表咋转得飞快 电话[")
    assert "](phone_number)" in result.line
    # one line left the query_bill block, one joined meter_issue's; nothing else changed
    assert sorted(set(old_lines) ^ set(new_lines)) == sorted(
        [f"    - {written}", f"    - {result.line}"]
    )
    assert len(new_lines) == len(old_lines)
    assert {k: v for k, v in after.items() if k != "billing.yml"} == {
        k: v for k, v in before.items() if k != "billing.yml"
    }
    relabelled = item(loop, item_id)
    assert (relabelled.status, relabelled.label_intent) == ("labelled", "meter_issue")
    assert relabelled.label_entities == [
        {"entity": "phone_number", "value": "13912345678", "start": 12, "end": 23}
    ]


def test_refused_corrections_change_nothing(loop: NluLoop) -> None:
    labelled, oos, new, still_open = (
        add_item(loop, t) for t in ("电费能分期交不", "帮我叫个外卖", "充电桩能装不", "在吗")
    )
    loop.label_item(labelled, "query_bill", actor="op")
    loop.mark_item(oos, "out_of_scope", actor="op")
    loop.create_intent(new, "ask_ev_charging", response_zh="请到营业厅申请安装充电桩。", actor="op")
    before = nlu_data(loop)
    refusals = [
        (labelled, "query_bill", "invalid", "already an example of query_bill"),
        (labelled, "no_such_intent", "invalid", "unknown intent"),
        (labelled, "out_of_scope", "invalid", "out_of_scope is not one"),
        (new, "greet", "conflict", "it created the intent ask_ev_charging"),
        (still_open, "greet", "conflict", "is open, not labelled: label it instead"),
        (999, "greet", "not_found", "no inbox item 999"),
    ]
    for item_id, intent, kind, reason in refusals:
        with pytest.raises(LoopError, match=reason) as refused:
            loop.relabel_item(item_id, intent, actor="op")
        assert refused.value.kind == kind
    assert nlu_data(loop) == before

    # out of scope after all: it becomes an example of an intent
    loop.relabel_item(oos, "greet", actor="op")
    assert (item(loop, oos).status, item(loop, oos).label_intent) == ("labelled", "greet")
    index = DataIndex.load(loop.settings)
    assert index.examples[normalise_example("帮我叫个外卖")].intent == "greet"
    assert sum(text.count("- 帮我叫个外卖\n") for text in nlu_data(loop).values()) == 1


def test_out_of_scope_ignore_and_new_intent(loop: NluLoop) -> None:
    oos, ignored, new = (add_item(loop, t) for t in ("帮我叫个外卖", "嗯嗯嗯", "充电桩能装不"))
    assert loop.mark_item(oos, "out_of_scope", actor="op") is not None
    assert item(loop, oos).status == "out_of_scope"
    assert loop.mark_item(ignored, "ignored", actor="op") is None
    assert item(loop, ignored).status == "ignored"
    result = loop.create_intent(
        new, "ask_ev_charging", response_zh="请到营业厅申请安装充电桩。", actor="op"
    )
    assert result.files == ("data/nlu/operator.yml", "domain.yml", "data/rules.yml")
    assert item(loop, new).status == "new_intent"
    assert item(loop, new).label_intent == "ask_ev_charging"
    with pytest.raises(LoopError, match="no inbox item 999") as missing:
        loop.mark_item(999, "ignored", actor="op")
    assert missing.value.kind == "not_found"


# --- training --------------------------------------------------------------------------------


async def test_a_training_job_registers_evaluates_and_compares(
    loop: NluLoop, settings: NluSettings
) -> None:
    item_id = add_item(loop, "俺家灯一闪一闪的咋回事")
    await asyncio.to_thread(loop.label_item, item_id, "report_fault", actor="op")
    seen: list[tuple[str, int]] = []
    result = await loop.train(actor="op", on_progress=lambda s, p: seen.append((s, p)))

    assert result.status == "succeeded", result.error
    assert result.guard_passed is True
    percents = [p for _, p in seen]
    assert percents == sorted(percents)
    assert percents[-1] >= 96
    assert any("epoch 5/5" in stage for stage, _ in seen)
    stages = [stage for stage, _ in seen]
    evaluating = stages.index("evaluating the candidate on the held-out set")
    assert stages.index("model saved") < evaluating < stages.index("evaluating the live model")
    assert seen[evaluating] == ("evaluating the candidate on the held-out set", 81)

    models = {m.status: m for m in loop.models()}
    baseline, candidate = models["live"], models["candidate"]
    assert baseline.file_name.startswith("baseline-")
    assert baseline.created_by_name == "make train"
    assert baseline.data_hash == "f" * 64
    assert baseline.metrics is not None  # evaluated the first time, for the comparison
    assert candidate.id == result.model_id
    assert candidate.parent_id == baseline.id
    assert candidate.data_hash == training_fingerprint(settings.project_dir)
    assert candidate.created_by_name == "op"
    assert candidate.metrics is not None
    assert candidate.metrics["macro_f1"] == pytest.approx(0.9)
    assert candidate.comparison is not None
    assert candidate.comparison["passed"] is True
    assert len(candidate.comparison["rows"]) == 29
    detail = loop.model(candidate.id)
    assert detail.file_exists
    assert detail.confusion_matrix is not None
    assert detail.report is not None
    assert detail.report.parent.name == candidate.file_name[:-7]
    assert item(loop, item_id).trained_model_id == candidate.id

    job = loop.job(result.job_id)
    assert (job.status, job.progress, job.stage, job.model_id) == (
        "succeeded",
        100,
        "done",
        candidate.id,
    )
    assert "Your Rasa model is trained" in job.log_tail

    train = next(c for c in calls(loop) if c["argv"][0] == "train")
    argv = train["argv"]
    assert argv[argv.index("--out") + 1] == str(settings.registry_dir)
    assert argv[-3:] == ["--augmentation", "0", "--skip-validation"]  # edits were validated
    # continued from the live model for conf/nlu.yml's fraction of the epochs
    assert argv[argv.index("--finetune") + 1] == str(settings.registry_dir / baseline.file_name)
    fraction = settings.training.finetune_epoch_fraction
    assert argv[argv.index("--epoch-fraction") + 1] == f"{fraction:g}"
    assert candidate.comparison["trained_as"] == "finetuned"
    assert train["env"]["RASA_CACHE_DIRECTORY"] == str(settings.project_dir / ".rasa" / "cache")
    # the candidate is evaluated by the process that trained it (rasa_addons.train_then_test,
    # which imports from the repository), the live model by a `rasa test nlu` of its own
    assert train["env"]["PYTHONPATH"] == str(ROOT)
    first = [c for c in calls(loop) if c["argv"][0] != "data"]  # not the label's validation
    assert [c["argv"][:2] for c in first] == [
        ["train", "--config"],
        ["test", "nlu"],
        ["test", "nlu"],
    ]
    tested = [c["argv"][c["argv"].index("--model") + 1] for c in first[1:]]
    assert tested == [str(detail.file), str(settings.registry_dir / baseline.file_name)]
    assert first[0]["pid"] == first[1]["pid"] != first[2]["pid"]

    # the second training compares with the stored metrics: the live model is not evaluated again
    before = len(calls(loop))
    second = await loop.train(actor="op")
    assert second.status == "succeeded"
    assert [c["argv"][:2] for c in calls(loop)[before:]] == [
        ["train", "--config"],
        ["test", "nlu"],
    ]


async def test_the_end_of_a_job_waits_for_a_progress_write_under_way(
    loop: NluLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A progress write that committed after the job's end put a succeeded job back to 96 %,
    'comparing with the live model' (seen once in CI on PostgreSQL): the end now waits for it."""
    job_id, lock = await asyncio.to_thread(loop.training_jobs._queue, "op", "train")
    lock.release()
    state = JobState(job_id, LogTail(), asyncio.Event(), None, asyncio.get_running_loop())
    real = nlu_registry.update_job_progress
    in_write, release = threading.Event(), threading.Event()

    def held(session: Session, job: int, **kwargs: Any) -> Any:
        if kwargs.get("progress") is not None:  # the periodic write, not the end's
            in_write.set()
            assert release.wait(10)
        return real(session, job, **kwargs)

    monkeypatch.setattr(nlu_registry, "update_job_progress", held)
    state("comparing with the live model", 96)
    write = asyncio.create_task(loop.training_jobs._flush(state))
    assert await asyncio.to_thread(in_write.wait, 10)
    end = asyncio.create_task(loop.training_jobs._end(state, "succeeded", None, stage="done"))
    await asyncio.sleep(0.2)
    assert not end.done()  # waiting for the write under way
    release.set()
    await write
    assert (await end).status == "succeeded"
    state("late output", 99)
    await loop.training_jobs._flush(state)  # nothing is written after the end
    job = loop.job(job_id)
    assert (job.status, job.progress, job.stage) == ("succeeded", 100, "done")


async def test_a_regression_is_refused_with_reasons(
    loop: NluLoop, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reports(
        monkeypatch,
        tmp_path,
        **{
            "*": report({}),
            "nlu-20261126-090000-job1.tar.gz": report({"report_safety_hazard": 0.5}),
        },
    )
    result = await loop.train(actor="op")
    assert result.status == "succeeded"
    assert result.guard_passed is False
    assert result.guard_reasons == (
        "recall on report_safety_hazard fell from 0.90 to 0.50, more than 0.30",
    )
    refused = loop.model(result.model_id or 0).model
    assert refused.status == "refused"
    assert refused.guard_reasons == list(result.guard_reasons)


async def test_a_finetuning_rasa_refuses_is_followed_by_a_training_from_scratch(
    loop: NluLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_FINETUNE", "refuse")
    result = await loop.train(actor="op")
    assert result.status == "succeeded", result.error
    trainings = [c["argv"] for c in calls(loop) if c["argv"][0] == "train"]
    assert ["--finetune" in argv for argv in trainings] == [True, False]
    model = loop.model(result.model_id or 0).model
    assert model.comparison is not None
    assert model.comparison["trained_as"] == "full"
    log = loop.job(result.job_id).log_tail
    assert "finetuning was not possible, training from scratch" in log
    assert "Cannot finetune" in log
    # the refused finetuning's process evaluated nothing; the training from scratch's did
    refused, full = [c for c in calls(loop) if c["argv"][0] == "train"]
    evaluated_by = {c["pid"] for c in calls(loop) if c["argv"][:2] == ["test", "nlu"]}
    assert refused["pid"] not in evaluated_by
    assert full["pid"] in evaluated_by


async def test_a_failed_evaluation_fails_the_job_without_training_again(
    loop: NluLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a failed training is followed by a training from scratch: a model that trained
    and could not be evaluated fails the job, as when the evaluation was a command of its own."""
    monkeypatch.setenv("FAKE_RASA_TEST", "fail")
    result = await loop.train(actor="op")
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("rasa test nlu (nlu-20261126-090000-job1.tar.gz) failed")
    assert "ValueError: the fake evaluation failed on purpose" in result.error
    trainings = [c["argv"] for c in calls(loop) if c["argv"][0] == "train"]
    assert ["--finetune" in argv for argv in trainings] == [True]
    assert "training from scratch" not in loop.job(result.job_id).log_tail
    assert loop.model(result.model_id or 0).model.status == "failed"


async def test_without_a_finetune_fraction_every_training_is_from_scratch(
    settings: NluSettings, session_factory: sessionmaker[Session], rasa: FakeRasa
) -> None:
    training = replace(settings.training, finetune_epoch_fraction=0.0)
    loop = NluLoop(
        replace(settings, training=training),
        session_factory,
        rasa=RasaServer(rasa.url, rasa.token),
        clock=lambda: NOW,
    )
    result = await loop.train(actor="op")
    assert result.status == "succeeded", result.error
    trainings = [c["argv"] for c in calls(loop) if c["argv"][0] == "train"]
    assert len(trainings) == 1
    assert "--finetune" not in trainings[0]


async def test_a_failed_training_fails_the_job_and_the_model(
    loop: NluLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_TRAIN", "fail")
    result = await loop.train(actor="op")
    assert result.status == "failed"
    assert result.error is not None
    assert "ValueError: the fake training failed on purpose" in result.error
    job = loop.job(result.job_id)
    assert job.status == "failed"
    assert "failed on purpose" in (job.error or "")
    assert loop.model(result.model_id or 0).model.status == "failed"
    assert not list(loop.settings.registry_dir.glob("nlu-*.tar.gz"))


async def test_a_running_job_can_be_cancelled_and_only_one_runs(
    loop: NluLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_TRAIN", "hang")
    job_id = await loop.start_training(actor="op")
    with pytest.raises(LoopError, match="already running") as busy:
        await loop.start_training(actor="other")
    assert busy.value.kind == "conflict"
    for _ in range(200):  # until the fake is in its first epoch
        job = loop.job(job_id)
        if "epoch 1/" in job.stage:
            break
        await asyncio.sleep(0.05)
    assert job.status == "running"
    await asyncio.to_thread(loop.cancel_job, job_id, actor="op")  # as the console calls it
    await asyncio.wait_for(loop.wait_for_jobs(), 30)
    job = loop.job(job_id)
    assert job.status == "cancelled"
    assert "cancelled by op" in job.log_tail
    assert loop.model(job.model_id or 0).model.status == "failed"


def test_recover_fails_orphaned_jobs_only(loop: NluLoop) -> None:
    def orphan(session: Session) -> int:
        job = nlu_registry.start_job(session, kind="train", requested_by_name="op", now=NOW)
        nlu_registry.update_job_progress(session, job.id, now=NOW, stage="training", progress=40)
        return job.id

    job_id = run_unit(loop.session_factory, orphan)
    held = FileLock.try_acquire(loop.settings.models_dir / ".nlu-training.lock")
    assert held is not None
    assert loop.recover() == 0  # its worker is alive (holds the lock)
    assert loop.job(job_id).status == "running"
    held.release()
    assert loop.recover() == 1
    assert loop.job(job_id).status == "failed"
    assert "ended before the job finished" in (loop.job(job_id).error or "")


# --- deploying -------------------------------------------------------------------------------


async def test_deploy_loads_installs_and_records(
    loop: NluLoop, settings: NluSettings, rasa: FakeRasa
) -> None:
    trained = await loop.train(actor="op")
    model_id = trained.model_id or 0
    deployed = await loop.deploy(model_id, actor="alice")
    assert deployed.status == "live"
    assert deployed.deployed_by_name == "alice"
    path = settings.registry_dir / deployed.file_name
    assert rasa.loads == [str(path)]  # an absolute path, as Rasa reads it
    assert settings.current_model.read_bytes() == path.read_bytes()
    assert current_fingerprint(settings) == deployed.data_hash
    assert current_fingerprint(settings) == training_fingerprint(settings.project_dir)
    statuses = {m.id: m.status for m in loop.models()}
    assert list(statuses.values()).count("live") == 1
    baseline = next(m for m in loop.models() if m.file_name.startswith("baseline-"))
    assert baseline.status == "retired"
    actions = [(e.action, e.actor_name) for e in loop.model(model_id).events]
    assert actions[-1] == ("deploy", "alice")

    # rollback: one action, a reason required
    with pytest.raises(LoopError, match="at least 10 characters"):
        await loop.rollback(baseline.id, actor="alice", reason="oops")
    back = await loop.rollback(baseline.id, actor="alice", reason="complaints about greetings")
    assert back.status == "live"
    assert rasa.model_file == baseline.file_name
    assert (
        settings.current_model.read_bytes()
        == (settings.registry_dir / baseline.file_name).read_bytes()
    )
    assert current_fingerprint(settings) == "f" * 64
    events = loop.model(baseline.id).events
    assert (events[-1].action, events[-1].reason) == ("rollback", "complaints about greetings")


async def test_a_refused_candidate_needs_a_written_override(
    loop: NluLoop, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reports(
        monkeypatch,
        tmp_path,
        **{"*": report({}), "nlu-20261126-090000-job1.tar.gz": report({}, 0.5)},
    )
    refused = await loop.train(actor="op")
    assert refused.guard_passed is False
    with pytest.raises(LoopError, match="at least 10 characters"):
        await loop.deploy(refused.model_id or 0, actor="bob")
    with pytest.raises(LoopError, match="at least 10 characters"):
        await loop.deploy(refused.model_id or 0, actor="bob", override_reason="because")
    live = await loop.deploy(
        refused.model_id or 0, actor="bob", override_reason="held-out set is outdated, see #12"
    )
    assert live.override_by_name == "bob"
    assert live.override_reason == "held-out set is outdated, see #12"
    assert [e.action for e in loop.model(live.id).events][-2:] == ["override", "deploy"]


async def test_nothing_changes_when_rasa_is_down(
    loop: NluLoop, settings: NluSettings, rasa: FakeRasa
) -> None:
    trained = await loop.train(actor="op")
    before = {m.id: m.status for m in loop.models()}
    current = settings.current_model.read_bytes()
    await rasa.down()
    with pytest.raises(LoopError, match="not reachable") as down:
        await loop.deploy(trained.model_id or 0, actor="alice")
    assert down.value.kind == "unavailable"
    assert {m.id: m.status for m in loop.models()} == before
    assert settings.current_model.read_bytes() == current
    assert current_fingerprint(settings) == "f" * 64


async def test_only_candidates_are_deployed(loop: NluLoop) -> None:
    trained = await loop.train(actor="op")
    live = next(m for m in loop.models() if m.status == "live")
    with pytest.raises(LoopError, match="already live"):
        await loop.deploy(live.id, actor="op")
    await loop.deploy(trained.model_id or 0, actor="op")
    with pytest.raises(LoopError, match="roll back to it"):
        await loop.deploy(live.id, actor="op")
    with pytest.raises(LoopError, match="no model 999"):
        await loop.deploy(999, actor="op")


async def test_cross_validation_on_demand(loop: NluLoop) -> None:
    result = await loop.train(actor="op", kind="cross_validation")
    assert result.status == "succeeded"
    assert result.model_id is None
    outcome = loop.cross_validation_result(result.job_id)
    assert outcome is not None
    assert outcome["folds"] == 3
    assert outcome["confusion_matrix"].endswith("intent_confusion_matrix.png")
    assert loop.job(result.job_id).kind == "cross_validation"


async def test_a_job_whose_task_is_cancelled_is_recorded_cancelled(
    loop: NluLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_TRAIN", "hang")
    task = asyncio.create_task(loop.train(actor="op"))
    for _ in range(200):
        jobs = loop.jobs()
        if jobs and "epoch 1/" in jobs[0].stage:
            break
        await asyncio.sleep(0.05)
    task.cancel()  # what Ctrl-C does to `python -m nlu train`
    with pytest.raises(asyncio.CancelledError):
        await task
    job = loop.jobs()[0]
    assert job.status == "cancelled"
    assert job.error == "the process was stopped"
    # the lock is free again: a new job can start
    monkeypatch.delenv("FAKE_RASA_TRAIN")
    assert (await loop.train(actor="op")).status == "succeeded"


async def test_blue_green_loads_into_the_standby_and_switches_customers(
    settings: NluSettings, session_factory: sessionmaker[Session], rasa: FakeRasa
) -> None:
    """With a standby server the model loads where no customer is (the serving server keeps
    answering, whatever the load takes), then customers are switched to it; a rollback to the
    model the other server still runs is a switch, not a load."""
    switched: list[str] = []
    async with running(FakeRasa.serving_models(load_seconds=0.5)) as standby:
        loop = NluLoop(
            settings,
            session_factory,
            rasa=RasaServer(rasa.url, rasa.token, standby_url=standby.url),
            clock=lambda: NOW,
            on_switch=switched.append,
        )
        standby.token = rasa.token
        trained = await loop.train(actor="op")
        deploying = asyncio.create_task(loop.deploy(trained.model_id or 0, actor="alice"))
        await asyncio.sleep(0.2)  # the standby is loading: the serving server is untouched
        assert not deploying.done()
        assert rasa.loads == []
        deployed = await deploying
        assert standby.loads == [str(settings.registry_dir / deployed.file_name)]
        assert switched == [standby.url]
        with unit_of_work(session_factory) as session:
            row = rasa_serving.serving(session)
            assert row is not None
            assert (row.url, row.model_file, row.switched_by) == (
                standby.url,
                deployed.file_name,
                "alice",
            )

        # the other server still runs the model the registry registered as the baseline
        baseline = next(m for m in loop.models() if m.file_name.startswith("baseline-"))
        rasa.model_file = baseline.file_name
        back = await loop.rollback(baseline.id, actor="alice", reason="back to the baseline")
        assert back.status == "live"
        assert rasa.loads == []  # no load: customers were switched back
        assert switched == [standby.url, rasa.url]
        with unit_of_work(session_factory) as session:
            assert rasa_serving.serving_url(session) == rasa.url


async def test_the_gateway_follows_the_serving_row(
    session_factory: sessionmaker[Session],
) -> None:
    """Another process deployed: this gateway's Rasa client moves within a poll; a row naming
    a server outside the pair is ignored."""
    blue, green = "http://127.0.0.1:5005", "http://127.0.0.1:5006"
    async with aiohttp.ClientSession() as http:
        client = RasaClient(http, blue, token=None, timeout=5)
        follower = ServingFollower(client, session_factory, (blue, green), interval=0.05)
        await follower.sync()
        assert client.base_url == blue  # no row yet
        follower.start()
        try:
            with unit_of_work(session_factory) as session:
                rasa_serving.switch(session, url=green, model_file="m.tar.gz", actor_name="op",
                                    now=NOW)  # fmt: skip
            await eventually(lambda: client.base_url == green)
            with unit_of_work(session_factory) as session:
                rasa_serving.switch(session, url="http://elsewhere:5005", model_file=None,
                                    actor_name="op", now=NOW)  # fmt: skip
            await asyncio.sleep(0.2)
            assert client.base_url == green
        finally:
            await follower.stop()
