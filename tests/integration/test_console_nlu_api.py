"""The operators' NLU API inside the real gateway (SQLite, and PostgreSQL when configured): the
inbox (grouped, filtered, paged, with the conversation around each message), annotations
written into a copy of the project's data/ (never the repository's), refusals with the reason
(422), training in the background with the fake `rasa` (202, one at a time: 409), the registry
with its per-intent comparison and confusion matrix, deployment refused by the guard (409) then
accepted with a written reason, and rollback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nlu import dataindex, training
from store.db import unit_of_work
from store.models import AccessAudit
from store.services import nlu_registry
from tests.fakes.console import StaffClient
from tests.fakes.nlu_console import (
    API,
    NluStack,
    capture,
    running_nlu_console,
    worse_report,
)
from tests.fakes.nlu_project import ROOT

METER = "俺家电表咋一直跳字呢"
TAKEAWAY = "能不能帮我订个外卖"
EV = "你们那儿能给电动车装充电桩不"


@pytest.fixture
async def ops(nlu_stack: NluStack) -> StaffClient:
    return await nlu_stack.console.browser("ops")


def data_text(stack: NluStack) -> str:
    """Every data/ file of the copy and its domain.yml, concatenated."""
    files = sorted(p for p in stack.settings.data_dir.rglob("*.yml"))
    return "".join(p.read_text(encoding="utf-8") for p in [stack.settings.domain_file, *files])


def repository_data() -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in [ROOT / "domain.yml", *(ROOT / "data").rglob("*.yml")]}


async def refused(
    ops: StaffClient, method: str, path: str, status: int, code: str, body: Any = None
) -> str:
    """The request fails with `status` and error `code`; the error's message."""
    got, answer = await ops.json(method, path, body)
    assert (got, answer["error"]["code"]) == (status, code), (path, body, answer)
    return str(answer["error"]["message"])


async def wait_for_job(ops: StaffClient, job_id: int, within: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        status, body = await ops.json("GET", f"{API}/jobs/{job_id}")
        assert status == 200, body
        if not body["job"]["active"]:
            return dict(body)
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)


# --- the inbox ----------------------------------------------------------------------------


async def test_the_inbox_lists_grouped_items_filtered_and_paged(
    nlu_stack: NluStack, ops: StaffClient
) -> None:
    factory = nlu_stack.console.factory
    meter, again, _ = capture(factory, nlu_stack.settings, [METER, METER + "？", "电表跳字"])
    (flagged,) = capture(
        factory, nlu_stack.settings, [TAKEAWAY], chat="7", reason="flagged", predicted="greet"
    )
    assert meter == again  # near-duplicates: one item, counted twice

    status, body = await ops.json("GET", f"{API}/inbox")
    assert status == 200
    assert body["total"] == 3
    first = body["items"][0]
    assert (first["id"], first["count"], first["text"]) == (meter, 2, METER)
    assert (first["predicted_intent"], first["confidence"]) == ("query_bill", 0.42)
    assert first["reasons"] == ["low_confidence"]
    assert first["status"] == "open"

    status, body = await ops.json("GET", f"{API}/inbox?reason=flagged")
    assert [i["id"] for i in body["items"]] == [flagged]
    status, body = await ops.json("GET", f"{API}/inbox?intent=greet")
    assert [i["id"] for i in body["items"]] == [flagged]
    status, body = await ops.json("GET", f"{API}/inbox?limit=1&offset=1")
    assert (body["total"], len(body["items"]), body["offset"]) == (3, 1, 1)
    status, body = await ops.json("GET", f"{API}/inbox?status=labelled")
    assert (status, body["items"]) == (200, [])
    for bad in ("status=finished", "reason=bored", "limit=-1", "limit=9999", "limit=%C2%B2"):
        await refused(ops, "GET", f"{API}/inbox?{bad}", 422, "invalid")


async def test_an_item_shows_the_conversation_around_each_message(
    nlu_stack: NluStack, ops: StaffClient
) -> None:
    before, item_id, after = capture(
        nlu_stack.console.factory, nlu_stack.settings, ["你好", METER, "在吗在吗在吗"]
    )
    assert len({before, item_id, after}) == 3
    status, body = await ops.json("GET", f"{API}/inbox/{item_id}")
    assert status == 200
    item = body["item"]
    assert item["text"] == METER
    (hit,) = item["hits"]
    assert hit["conversation_label"] == "telegram:…"  # masked, like everywhere in the console
    assert "conversation_id" not in hit
    with unit_of_work(nlu_stack.console.factory) as session:  # the context is recorded as read
        (opened,) = session.scalars(select(AccessAudit)).all()
        assert (opened.username, opened.kind, opened.allowed) == ("ops", "inbox_context", True)
    assert hit["reason"] == "low_confidence"
    texts = [(m["sender"], m["text"], m["is_hit"]) for m in hit["messages"]]
    # conf/nlu.yml context_messages = 4 before and after
    assert ("customer", METER, True) in texts
    assert ("bot", f"答：{METER}", False) in texts
    assert ("customer", "你好", False) in texts
    assert ("bot", "答：在吗在吗在吗", False) in texts
    assert [m["id"] for m in hit["messages"]] == sorted(m["id"] for m in hit["messages"])

    for missing in ("999999", "abc", "1%2F..%2F2", "%C2%B2"):
        await refused(ops, "GET", f"{API}/inbox/{missing}", 404, "not_found")


# --- annotating ---------------------------------------------------------------------------


async def test_a_label_is_written_into_the_copy_and_leaves_the_open_list(
    nlu_stack: NluStack, ops: StaffClient
) -> None:
    repository = repository_data()
    (item_id,) = capture(nlu_stack.console.factory, nlu_stack.settings, [METER])
    status, body = await ops.json(
        "POST",
        f"{API}/inbox/{item_id}/label",
        {"intent": "meter_issue", "entities": [{"entity": "fault_type", "start": 7, "end": 9}]},
    )
    assert status == 200, body
    assert body["item"]["status"] == "labelled"
    assert body["item"]["label_intent"] == "meter_issue"
    assert body["item"]["label_entities"] == [
        {"entity": "fault_type", "value": "跳字", "start": 7, "end": 9}
    ]
    assert body["edit"]["line"] == "俺家电表咋一直[跳字](fault_type)呢"
    assert "- 俺家电表咋一直[跳字](fault_type)呢" in data_text(nlu_stack)
    assert repository_data() == repository  # only the copy was edited

    _, listing = await ops.json("GET", f"{API}/inbox")
    assert item_id not in [i["id"] for i in listing["items"]]
    _, labelled = await ops.json("GET", f"{API}/inbox?status=labelled")
    assert [i["id"] for i in labelled["items"]] == [item_id]

    url = f"{API}/inbox/{item_id}/label"
    message = await refused(ops, "POST", url, 409, "conflict", {"intent": "greet"})
    assert "already labelled" in message


async def test_bad_labels_are_refused_with_the_reason(
    nlu_stack: NluStack, ops: StaffClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    (item_id,) = capture(nlu_stack.console.factory, nlu_stack.settings, [METER])
    url = f"{API}/inbox/{item_id}/label"
    before = data_text(nlu_stack)
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"intent": "no_such_intent"}, "unknown intent"),
        (
            {"intent": "meter_issue", "entities": [{"entity": "colour", "start": 0, "end": 2}]},
            "unknown entity",
        ),
        (
            {"intent": "meter_issue", "entities": [{"entity": "address", "start": 5, "end": 40}]},
            "outside the text",
        ),
        ({"intent": "meter_issue", "entities": "跳字"}, "entities must be a list"),
        ({"intent": "meter_issue", "entities": [{"entity": "address"}]}, "are integers"),
        ({"entities": []}, "intent must be a non-empty string"),
    ]
    for body, reason in refusals:
        code = "invalid"
        assert reason in await refused(ops, "POST", url, 422, code, body), reason

    # Rasa's own check refuses it: its reason comes back, nothing is written
    monkeypatch.setenv("FAKE_RASA_VALIDATE", "fail")
    body = {"intent": "meter_issue"}
    message = await refused(ops, "POST", url, 422, "validation_failed", body)
    assert "labeled with multiple different intents" in message
    assert data_text(nlu_stack) == before
    _, item = await ops.json("GET", f"{API}/inbox/{item_id}")
    assert item["item"]["status"] == "open"

    response = await ops.http.post(
        ops.url(url), data="intent=greet", headers={"X-CSRF-Token": ops.csrf}
    )
    assert response.status == 415
    await refused(ops, "POST", f"{API}/inbox/424242/label", 404, "not_found", {"intent": "greet"})


async def test_a_label_is_corrected_through_the_api(nlu_stack: NluStack, ops: StaffClient) -> None:
    (item_id,) = capture(nlu_stack.console.factory, nlu_stack.settings, [METER])
    url = f"{API}/inbox/{item_id}/relabel"
    message = await refused(ops, "POST", url, 409, "conflict", {"intent": "meter_issue"})
    assert "is open, not labelled" in message
    status, body = await ops.json("POST", f"{API}/inbox/{item_id}/label", {"intent": "query_bill"})
    assert status == 200, body
    for bad, code, reason in [
        ({"intent": "query_bill"}, "invalid", "already an example of query_bill"),
        ({}, "invalid", "intent must be a non-empty string"),
        ({"intent": "meter_issue", "entities": "跳字"}, "invalid", "entities must be a list"),
    ]:
        assert reason in await refused(ops, "POST", url, 422, code, bad)
    await refused(ops, "POST", f"{API}/inbox/424242/relabel", 404, "not_found", {"intent": "greet"})

    entities = [{"entity": "fault_type", "start": 7, "end": 9}]
    status, body = await ops.json("POST", url, {"intent": "meter_issue", "entities": entities})
    assert status == 200, body
    assert (body["item"]["status"], body["item"]["label_intent"]) == ("labelled", "meter_issue")
    assert body["edit"]["line"] == "俺家电表咋一直[跳字](fault_type)呢"
    text = data_text(nlu_stack)
    assert "- 俺家电表咋一直[跳字](fault_type)呢" in text
    assert f"- {METER}\n" not in text  # the query_bill line is gone


async def test_several_items_are_labelled_at_once_or_not_at_all(
    nlu_stack: NluStack, ops: StaffClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter, jumps, takeaway = capture(
        nlu_stack.console.factory, nlu_stack.settings, [METER, "电表老是跳字", TAKEAWAY]
    )
    url = f"{API}/inbox/label"
    before = data_text(nlu_stack)
    for body, reason in [
        ({"intent": "meter_issue"}, "items must be a list of 1 to 100"),
        ({"items": [], "intent": "meter_issue"}, "items must be a list of 1 to 100"),
        ({"items": list(range(1, 102)), "intent": "meter_issue"}, "1 to 100"),
        ({"items": [meter, "2"], "intent": "meter_issue"}, "positive integers"),
        ({"items": [meter, True], "intent": "meter_issue"}, "positive integers"),
        ({"items": [meter]}, "intent must be a non-empty string"),
        ({"items": [meter], "intent": "no_such_intent"}, f"inbox item {meter}: unknown intent"),
    ]:
        assert reason in await refused(ops, "POST", url, 422, "invalid", body), body
    await refused(ops, "POST", url, 404, "not_found", {"items": [meter, 424242], "intent": "greet"})
    monkeypatch.setenv("FAKE_RASA_VALIDATE", "fail")
    body = {"items": [meter, jumps], "intent": "meter_issue"}
    await refused(ops, "POST", url, 422, "validation_failed", body)
    assert data_text(nlu_stack) == before  # nothing of any refused batch was written
    monkeypatch.delenv("FAKE_RASA_VALIDATE")

    status, answer = await ops.json("POST", url, body)
    assert status == 200, answer
    assert [(i["id"], i["status"], i["label_intent"]) for i in answer["items"]] == [
        (meter, "labelled", "meter_issue"),
        (jumps, "labelled", "meter_issue"),
    ]
    assert answer["edit"]["files"] == ["data/nlu/billing.yml"]
    assert f"- {METER}" in data_text(nlu_stack)
    assert "- 电表老是跳字" in data_text(nlu_stack)
    _, listing = await ops.json("GET", f"{API}/inbox")
    assert [i["id"] for i in listing["items"]] == [takeaway]
    message = await refused(
        ops, "POST", url, 409, "conflict", {"items": [takeaway, meter], "intent": "greet"}
    )
    assert f"inbox item {meter} is already labelled" in message
    _, still = await ops.json("GET", f"{API}/inbox/{takeaway}")
    assert still["item"]["status"] == "open"

    # noise is ignored in one go, all or none; nothing is written into data/
    ignore, written = f"{API}/inbox/ignore", data_text(nlu_stack)
    message = await refused(ops, "POST", ignore, 409, "conflict", {"items": [takeaway, meter]})
    assert f"inbox item {meter} is labelled, not open" in message
    assert "1 to 100" in await refused(ops, "POST", ignore, 422, "invalid", {"items": []})
    status, answer = await ops.json("POST", ignore, {"items": [takeaway]})
    assert status == 200, answer
    assert [(i["id"], i["status"]) for i in answer["items"]] == [(takeaway, "ignored")]
    _, listing = await ops.json("GET", f"{API}/inbox")
    assert listing["items"] == []
    assert data_text(nlu_stack) == written


async def test_out_of_scope_ignore_and_a_new_intent(nlu_stack: NluStack, ops: StaffClient) -> None:
    takeaway, meter, ev = capture(
        nlu_stack.console.factory, nlu_stack.settings, [TAKEAWAY, METER, EV]
    )

    status, body = await ops.json("POST", f"{API}/inbox/{takeaway}/out-of-scope")
    assert status == 200, body
    assert body["item"]["status"] == "out_of_scope"
    assert body["edit"]["intent"] == "out_of_scope"
    assert f"- {TAKEAWAY}" in data_text(nlu_stack)

    before = data_text(nlu_stack)
    status, body = await ops.json("POST", f"{API}/inbox/{meter}/ignore")
    assert status == 200, body
    assert (body["item"]["status"], body["edit"]) == ("ignored", None)
    assert data_text(nlu_stack) == before

    new = {"name": "ask_ev_charging", "response_zh": "充电桩报装请带身份证到供电所营业厅办理。"}
    url = f"{API}/inbox/{ev}/new-intent"
    bad_name = await refused(ops, "POST", url, 422, "invalid", {**new, "name": "EV!"})
    assert "not a valid intent name" in bad_name
    stub = await refused(ops, "POST", url, 422, "invalid", {**new, "response_zh": "TODO"})
    assert "stub" in stub
    status, body = await ops.json("POST", f"{API}/inbox/{ev}/new-intent", new)
    assert status == 200, body
    assert body["item"]["status"] == "new_intent"
    assert body["item"]["label_intent"] == "ask_ev_charging"
    domain = yaml.safe_load(nlu_stack.settings.domain_file.read_text(encoding="utf-8"))
    assert "ask_ev_charging" in domain["intents"]
    assert domain["responses"]["utter_ask_ev_charging"][0]["text"] == new["response_zh"]
    assert dataindex.operator_file(nlu_stack.settings).is_file()

    status, body = await ops.json("GET", f"{API}/intents")
    assert status == 200
    intents = {i["name"]: i["examples"] for i in body["intents"]}
    assert intents["ask_ev_charging"] == 1
    assert intents["query_bill"] > 10
    assert "fault_type" in body["entities"]


# --- training and the registry ------------------------------------------------------------


async def test_training_runs_in_the_background_one_at_a_time(
    nlu_stack: NluStack, ops: StaffClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_EPOCHS", "10")
    monkeypatch.setenv("FAKE_RASA_EPOCH_SECONDS", "0.15")
    started = time.monotonic()
    status, body = await ops.json("POST", f"{API}/train", {"cross_validation": False})
    assert status == 202, body
    assert time.monotonic() - started < 1.5  # answered at once, the training goes on
    job_id = body["job"]["id"]
    assert body["job"]["active"]
    await refused(ops, "POST", f"{API}/train", 409, "conflict", {})

    seen: set[int] = set()
    deadline = time.monotonic() + 30
    while True:
        _, body = await ops.json("GET", f"{API}/jobs/{job_id}")
        seen.add(body["job"]["progress"])
        if not body["job"]["active"]:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    job = body["job"]
    assert job["status"] == "succeeded", job
    assert job["progress"] == 100
    assert any(0 < p < 100 for p in seen)  # progress was visible while it ran
    assert "Epochs" in job["log_tail"] or "DIET" in job["log_tail"]
    _, jobs = await ops.json("GET", f"{API}/jobs")
    assert [j["id"] for j in jobs["jobs"]] == [job_id]
    assert jobs["active_job_id"] is None

    await refused(ops, "POST", f"{API}/train", 422, "invalid", {"cross_validation": "yes"})
    status, body = await ops.json("POST", f"{API}/train", {"cross_validation": True})
    assert status == 202
    done = await wait_for_job(ops, body["job"]["id"])
    assert done["job"]["kind"] == "cross_validation"
    assert done["job"]["status"] == "succeeded"
    assert done["cross_validation"]["macro_f1"] == pytest.approx(0.9)
    assert "confusion_matrix" not in done["cross_validation"]  # no server paths

    await refused(ops, "GET", f"{API}/jobs/4242", 404, "not_found")


async def test_shutdown_cancels_a_running_training(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    session_factory: sessionmaker[Session],
) -> None:
    monkeypatch.setenv("FAKE_RASA_TRAIN", "hang")  # rasa train never ends
    async with running_nlu_console(tmp_path, monkeypatch, db_url, session_factory) as stack:
        ops = await stack.console.browser("ops")
        status, body = await ops.json("POST", f"{API}/train", {})
        assert status == 202
        job_id = body["job"]["id"]
        deadline = time.monotonic() + 20
        while "epoch" not in body["job"]["stage"]:  # rasa train is running
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.1)
            _, body = await ops.json("GET", f"{API}/jobs/{job_id}")
    started = time.monotonic()
    with unit_of_work(session_factory) as session:
        job = nlu_registry.get_job(session, job_id)
        assert job.status == "cancelled", (job.status, job.error)
        assert job.model_id is not None
        assert nlu_registry.get_model(session, job.model_id).status == "failed"
    assert time.monotonic() - started < 5
    assert not any(stack.settings.registry_dir.glob("*.tar.gz"))  # the half model is gone


async def train(ops: StaffClient) -> int:
    status, body = await ops.json("POST", f"{API}/train", {})
    assert status == 202, body
    done = await wait_for_job(ops, body["job"]["id"])
    assert done["job"]["status"] == "succeeded", done
    return int(done["job"]["model_id"])


async def test_deploy_is_refused_by_the_guard_then_accepted_with_a_reason_and_rolled_back(
    nlu_stack: NluStack, ops: StaffClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await train(ops)
    status, body = await ops.json("GET", f"{API}/models/{first}")
    assert status == 200
    model = body["model"]
    assert model["status"] == "candidate"
    assert model["guard"] == {
        "passed": True,
        "reasons": [],
        "max_macro_f1_drop": 0.03,
        "max_recall_drop": 0.3,
    }
    assert model["macro_f1"] == pytest.approx(0.9)
    assert model["metrics"]["per_intent"]["query_bill"]["recall"] == pytest.approx(0.9)
    assert (model["can_deploy"], model["needs_override"]) == (True, False)
    assert model["confusion_matrix"] == f"{API}/models/{first}/confusion-matrix.png"
    picture = await ops.get(model["confusion_matrix"])
    assert picture.status == 200
    assert picture.headers["Content-Type"] == "image/png"
    assert (await picture.read()).startswith(b"\x89PNG\r\n\x1a\n")

    status, body = await ops.json("POST", f"{API}/models/{first}/deploy", {})
    assert status == 200, body
    assert body["model"]["status"] == "live"
    first_file = model["file_name"]
    assert nlu_stack.models.loads == [str(training.model_path(nlu_stack.settings, first_file))]

    # the next candidate forgets how to answer bill questions: the guard refuses it
    monkeypatch.setenv(
        "FAKE_RASA_REPORTS", str(worse_report(nlu_stack.settings, "query_bill", 0.5))
    )
    second = await train(ops)
    status, body = await ops.json("GET", f"{API}/models/{second}")
    model = body["model"]
    assert model["status"] == "refused"
    assert model["guard"]["passed"] is False
    assert any("recall on query_bill fell" in r for r in model["guard"]["reasons"])
    assert (model["compared_with"], model["comparison_source"]) == (first, "live")
    rows = {r["intent"]: r for r in model["comparison"]["rows"]}
    assert rows["query_bill"]["recall"]["before"] == pytest.approx(0.9)
    assert rows["query_bill"]["recall"]["after"] == pytest.approx(0.5)
    assert rows["query_bill"]["recall"]["delta"] == pytest.approx(-0.4)
    assert rows["greet"]["recall"]["delta"] == pytest.approx(0.0)
    assert (model["can_deploy"], model["needs_override"]) == (True, True)

    url = f"{API}/models/{second}/deploy"
    for body in ({}, {"override_reason": "急用"}):
        status, answer = await ops.json("POST", url, body)
        assert status == 409, answer
        assert answer["error"]["code"] == "guard_refused"
        assert answer["error"]["reasons"] == model["guard"]["reasons"]
        assert answer["error"]["min_reason_chars"] == 10
    assert len(nlu_stack.models.loads) == 1
    reason = "账单问题由人工兜底，先上线修复停电播报的新模型"
    status, answer = await ops.json("POST", url, {"override_reason": reason})
    assert status == 200, answer
    assert answer["model"]["status"] == "live"
    assert answer["model"]["override_reason"] == reason
    assert answer["model"]["override_by"] == "ops"
    assert [e["action"] for e in answer["model"]["events"]][-2:] == ["override", "deploy"]

    status, models = await ops.json("GET", f"{API}/models")
    assert [(m["id"], m["status"]) for m in models["models"]] == [
        (second, "live"),
        (first, "retired"),
    ]
    assert models["live_model_id"] == second
    assert models["models"][0]["data_hash_short"] == models["models"][0]["data_hash"][:10]

    # rollback: one action, with a reason
    await refused(ops, "POST", f"{API}/models/{first}/rollback", 422, "invalid", {})
    status, answer = await ops.json(
        "POST", f"{API}/models/{first}/rollback", {"reason": "账单类问题答错太多，回滚"}
    )
    assert status == 200, answer
    assert answer["model"]["status"] == "live"
    assert answer["model"]["events"][-1]["action"] == "rollback"
    assert answer["model"]["events"][-1]["actor"] == "ops"
    assert nlu_stack.models.model_file == first_file  # Rasa runs the first model again
    await refused(ops, "POST", f"{API}/models/{first}/deploy", 409, "conflict", {})


async def test_the_confusion_matrix_is_only_served_from_the_registry(
    nlu_stack: NluStack, ops: StaffClient
) -> None:
    """The picture's path comes from the registry row and must stay inside models/registry/."""
    now = nlu_stack.loop.clock()
    outside = nlu_stack.settings.models_dir / "escaped"
    outside.mkdir(parents=True)
    (outside / training.CONFUSION_MATRIX).write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    with unit_of_work(nlu_stack.console.factory) as session:
        ids = [
            nlu_registry.create_model(
                session, file_name=name, data_hash="a" * 64, config_name="config.yml",
                created_by_name="ops", now=now,
            ).id
            for name in ("../escaped.tar.gz", "nlu-without-evaluation.tar.gz")
        ]  # fmt: skip
    for model_id in ids:
        response = await ops.get(f"{API}/models/{model_id}/confusion-matrix.png")
        assert response.status == 404, model_id
        assert (await response.json())["error"]["code"] == "not_found"
    for path in ("..%2F..%2Fescaped", "1..", "-1", "999999"):
        response = await ops.get(f"{API}/models/{path}/confusion-matrix.png")
        assert response.status == 404, path
