"""`make bench`'s profile part: py-spy's collapsed stacks classified per message
(scripts/benchlib/profile.py), the tracker's turns counted, the section rendered and carried."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from rasa_addons import pinned
from scripts.bench import parse_args
from scripts.benchlib import RunInfo
from scripts.benchlib.profile import (
    IDLE,
    OTHER,
    breakdown,
    classify,
    classify_actions,
    parse_collapsed,
    parse_frame,
    turns,
)
from scripts.benchlib.profile_report import (
    BEGIN,
    END,
    Profile,
    ProfileBench,
    profile_part,
    profile_verdict,
    side_rows,
    summary,
)
from scripts.benchprofile import FAST_SWITCH, profile_options
from scripts.benchstack import BenchError

PROCESS = 'process 41:"python -m rasa_addons.serve --enable-api"'
HANDLE = "handle_message (rasa/core/processor.py:150)"
PARSE = "parse_message (rasa/core/processor.py:700)"
PREDICT = "predict_next_action (rasa/core/processor.py:400)"


def line(*frames: str, count: int = 1) -> str:
    return ";".join((PROCESS, "_run_once (asyncio/base_events.py:1909)", *frames)) + f" {count}"


def stack(text: str) -> tuple[tuple[str, str], ...]:
    return parse_collapsed(text)[0][0]


def test_a_frame_is_its_function_and_file_the_process_frame_none() -> None:
    assert parse_frame("process_message (rasa/nlu/x.py:12)") == (
        "process_message",
        "/rasa/nlu/x.py",
    )
    assert parse_frame("JSONEncoder.encode (json/encoder.py:203)") == (
        "JSONEncoder.encode",
        "/json/encoder.py",
    )
    assert parse_frame(PROCESS) is None
    assert parse_frame("thread (0x7F3A12)") is None
    parsed = parse_collapsed(line(HANDLE, count=7) + "\nnot a stack\n")
    assert len(parsed) == 1
    assert parsed[0][1] == 7
    assert parsed[0][0][-1] == ("handle_message", "/rasa/core/processor.py")


@pytest.mark.parametrize(
    ("frames", "category"),
    [
        ((HANDLE, PARSE, "process (rasa/nlu/classifiers/diet_classifier.py:900)",
          "__call__ (tensorflow/python/eager/def_function.py:880)"), "NLU: DIETClassifier"),
        ((HANDLE, PARSE, "process (rasa_addons/ensemble_classifier.py:80)",
          "predict_proba (sklearn/linear_model/_logistic.py:1300)"),
         "NLU: AveragingIntentClassifier"),
        ((HANDLE, PARSE, "process (rasa_addons/normalising_tokenizer.py:40)",
          "cut (jieba/__init__.py:300)"), "NLU: tokenizer (jieba)"),
        ((HANDLE, PARSE, "_get_featurized_attribute (rasa/nlu/featurizers/sparse_featurizer/"
          "count_vectors_featurizer.py:600)"), "NLU: CountVectorsFeaturizer"),
        ((HANDLE, PARSE, "process (rasa/nlu/classifiers/fallback_classifier.py:80)"),
         "NLU: FallbackClassifier"),
        ((HANDLE, PARSE, "run (rasa/engine/runner/dask.py:100)"), "NLU: other (graph, messages)"),
        ((HANDLE, PREDICT, "predict_action_probabilities (rasa/core/policies/rule_policy.py:1000)"),
         "policy: RulePolicy"),
        ((HANDLE, PREDICT, "predict_action_probabilities (rasa/core/policies/memoization.py:300)",
          "prediction_states (rasa/core/featurizers/tracker_featurizers.py:500)"),
         "policy: tracker states (featurizer)"),
        ((HANDLE, "fetch_tracker_and_update_session (rasa/core/processor.py:300)",
          "retrieve (rasa/core/tracker_store.py:1200)", "execute (sqlalchemy/orm/session.py:2000)"),
         "tracker store: load"),
        ((HANDLE, "save_tracker (rasa/core/processor.py:900)",
          "save (rasa/core/tracker_store.py:1250)", "dumps (json/__init__.py:231)"),
         "tracker store: save"),
        ((HANDLE, "run (rasa/core/actions/action.py:700)",
          "_action_call_format (rasa/core/actions/action.py:660)",
          "current_state (rasa/shared/core/trackers.py:200)"),
         "action server calls: payload (tracker as JSON)"),
        ((HANDLE, "run (rasa/core/actions/action.py:700)",
          "request (rasa/utils/endpoints.py:150)", "_request (aiohttp/client.py:500)"),
         "action server calls: HTTP"),
        ((HANDLE, PARSE, "process (rasa/nlu/classifiers/diet_classifier.py:900)",
          "debug (logging/__init__.py:1465)"), "logging"),
        (("handle_request (sanic/app.py:900)", "receive (rasa/core/channels/rest.py:150)"),
         "Sanic/HTTP and the event loop"),
        (("as_dialogue (rasa/shared/core/trackers.py:600)",), "event serialisation (JSON)"),
        (("something (numpy/core/fromnumeric.py:10)",), OTHER),
    ],
)  # fmt: skip
def test_stacks_fall_into_their_categories(frames: tuple[str, ...], category: str) -> None:
    assert classify(stack(line(*frames))) == category


def test_a_stack_waiting_at_its_leaf_is_idle_not_cpu() -> None:
    waiting = line("serve (sanic/server.py:10)", "select (selectors.py:469)", count=40)
    busy = line(HANDLE, PARSE, "process (rasa/nlu/classifiers/diet_classifier.py:900)", count=10)
    found = breakdown(waiting + "\n" + busy)
    assert classify(stack(waiting)) == IDLE
    assert found.samples[IDLE] == 40
    assert found.busy == 10
    assert [leaf for leaf, _ in found.leaves] == [
        "process (rasa/nlu/classifiers/diet_classifier.py)"
    ]


def test_the_action_server_by_action_module_and_database() -> None:
    web = "handle_request (sanic/app.py:900)", "run (rasa_sdk/executor.py:800)"
    query = line(*web, "run (actions/billing.py:40)", "lookup (actions/billing.py:90)",
                 "execute (sqlalchemy/engine/base.py:1400)")  # fmt: skip
    assert classify_actions(stack(query)) == "database"
    own = line(*web, "run (actions/billing.py:40)", "fmt (actions/formatting.py:12)")
    assert classify_actions(stack(own)) == "actions/billing.py"
    assert classify_actions(stack(line(*web))) == "rasa-sdk (dispatch, tracker, JSON)"


def event(kind: str, action: str | None = None, policy: str | None = None) -> tuple:
    data = json.dumps({"event": kind, "policy": policy}) if kind == "action" else "{}"
    return (kind, action, data)


def test_turns_count_predictions_actions_and_action_server_calls() -> None:
    events = [
        event("action", "action_session_start"),
        event("action", "action_listen"),
        event("user"),
        event("action", "utter_greet", "RulePolicy"),
        event("action", "action_listen", "RulePolicy"),
        event("user"),
        event("action", "fault_form", "RulePolicy"),
        event("active_loop"),
        event("action", "action_listen", "RulePolicy"),
        event("user"),
        event("action", "fault_form", "RulePolicy"),
        event("action", "action_submit_fault", "RulePolicy"),
        event("action", "action_listen", "RulePolicy"),
    ]
    custom = frozenset(
        {"action_validate_slot_mappings", "validate_fault_form", "action_submit_fault"}
    )
    found = turns(events, custom, frozenset({"fault_form"}))
    assert found.messages == 3
    assert found.predictions == 7  # the session start and the first listen are not predicted
    assert found.actions == {"responses": 1, "forms": 2, "custom actions": 1, "Rasa's own": 1}
    assert found.remote_calls == 3 + 2 + 1  # slot mappings per message, form validations, custom
    without = turns(events, frozenset({"action_submit_fault"}), frozenset({"fault_form"}))
    assert without.remote_calls == 1


def bench(text: str) -> ProfileBench:
    found = turns([event("user"), event("action", "utter_greet", "RulePolicy")], frozenset(),
                  frozenset())  # fmt: skip
    return ProfileBench(
        run=RunInfo("2026-12-07 21:00 UTC", "make bench", "abc1234"), model="m", tracker="sql",
        customers=10, seconds=10, rate_hz=100, messages_per_second=5.0, errors=0,
        conditions="quiet", rasa=Profile("rasa", breakdown(text), 0.6), actions=None, turns=found,
    )  # fmt: skip


def test_cpu_per_message_from_samples_rate_and_messages() -> None:
    text = "\n".join([
        line(HANDLE, PARSE, "process (rasa/nlu/classifiers/diet_classifier.py:900)", count=150),
        line(HANDLE, PREDICT, "predict (rasa/core/policies/rule_policy.py:1)", count=50),
        line("select (selectors.py:469)", count=800),
    ])  # fmt: skip
    measured = bench(text)
    # 150 samples at 100 a second = 1.5 s of CPU over 50 messages (5 a second for 10 s)
    assert measured.ms(150) == pytest.approx(30.0)
    assert measured.ms(measured.rasa.breakdown.busy) == pytest.approx(40.0)
    assert measured.cpu_ms(measured.rasa) == pytest.approx(120.0)
    assert math.isnan(bench(text).__class__.ms(
        ProfileBench(**{**bench(text).__dict__, "messages_per_second": 0.0}), 1))  # fmt: skip


def test_the_section_is_rendered_and_carried_over() -> None:
    text = line(HANDLE, PARSE, "process (rasa/nlu/classifiers/diet_classifier.py:900)", count=150)
    measured = profile_part(bench(text), "")
    rendered = "\n".join(measured.lines)
    assert "| NLU: DIETClassifier | 100% | 30.0 | 120.0 |" in rendered  # the /proc CPU, 120 ms
    assert "| policy predictions (action_listen included) | 1.00 |" in rendered
    assert measured.verdict.met is False  # 120 ms of Rasa CPU a message, over 40
    carried = profile_part(None, f"intro\n{rendered}\n")
    assert carried.carried
    assert BEGIN in carried.lines[-2]
    assert carried.lines[-1].endswith(END)
    assert "not measured again" in carried.verdict.measured
    assert not profile_part(None, "").measured


def test_stock_rasa_and_the_fast_paths_side_by_side() -> None:
    diet = line(HANDLE, PARSE, "process (rasa/nlu/classifiers/diet_classifier.py:900)", count=100)
    schema = line(HANDLE, "run (rasa/core/actions/action.py:700)",
                  "_validate_action_result (rasa/core/actions/action.py:690)",
                  "check_schema (jsonschema/validators.py:300)", count=300)  # fmt: skip
    # stock: 400 samples, 0.6 of a core at 2 msg/s = 300 ms of CPU a message, 3/4 of it jsonschema
    stock = replace(bench(diet + "\n" + schema), messages_per_second=2.0,
                    conditions="stock conditions")  # fmt: skip
    # the fast paths: DIET alone, 0.6 of a core at 5 msg/s = 120 ms a message
    fast = replace(bench(diet), stock=stock)
    rows = side_rows(stock, fast, "rasa")
    assert rows[0] == ["action server calls: reply checked (jsonschema)", "75%", "225.0", "0%",
                       "0.0", "-225.0"]  # fmt: skip
    assert rows[1] == ["NLU: DIETClassifier", "25%", "75.0", "100%", "120.0", "+45.0"]
    assert rows[-1] == ["**all categories**", "100%", "300.0", "100%", "120.0", "-180.0"]
    assert side_rows(stock, fast, "actions") == []  # neither profiled the action server
    rendered = "\n".join(profile_part(fast, "").lines)
    assert "### Before and after: stock Rasa and the fast paths" in rendered
    assert "| the Rasa process's CPU per message (/proc) | 300.0 ms | 120.0 ms |" in rendered
    assert "| conditions | stock conditions | quiet |" in rendered
    assert "| NLU: DIETClassifier | 25% | 75.0 | 100% | 120.0 | +45.0 |" in rendered
    assert "TOWNSHIP_RASA_FAST=0" in rendered
    assert "### The Rasa worker, with the fast paths" in rendered
    verdict = profile_verdict(fast)
    assert verdict.measured.endswith("; stock Rasa (the fast paths off) 300.0 ms, 2.0 msg/s")
    assert "stock Rasa beside the fast paths" in summary(fast)
    alone = "\n".join(profile_part(bench(diet), "").lines)  # --no-profile-stock
    assert "Before and after" not in alone
    assert "### The Rasa worker\n" in alone


def test_the_switch_rasa_is_started_with_is_rasa_addons_own() -> None:
    assert FAST_SWITCH == pinned.FAST_SWITCH


def test_the_options() -> None:
    assert profile_options(parse_args(["--only", "trackers"])) is None
    assert profile_options(parse_args(["--profile-seconds", "0"])) is None
    options = profile_options(parse_args(["--only", "profile", "--profile-seconds", "12"]))
    assert options is not None
    assert (options.seconds, options.customers, options.rate) == (12, 10, 100)
    assert options.stock  # the before and after by default
    alone = profile_options(parse_args(["--only", "profile", "--no-profile-stock"]))
    assert alone is not None
    assert not alone.stock


def test_options_that_make_no_sense_are_refused() -> None:
    with pytest.raises(BenchError):
        profile_options(parse_args(["--only", "profile", "--profile-seconds", "0.5"]))
    with pytest.raises(BenchError):
        profile_options(parse_args(["--only", "profile", "--profile-customers", "0"]))


def test_a_remote_calls_work_goes_to_its_step_and_the_replay_keeps_the_rest() -> None:
    extract = (HANDLE, "run_action_extract_slots (rasa/core/processor.py:1)",
               "run (rasa/core/actions/action.py:1290)",
               "_run_custom_action (rasa/core/actions/action.py:1110)")  # fmt: skip
    checked = line(*extract, "run (rasa/core/actions/action.py:700)",
                   "_validate_action_result (rasa/core/actions/action.py:690)",
                   "iter_errors (jsonschema/validators.py:300)")  # fmt: skip
    replay = line(*extract, "from_events (rasa/shared/core/trackers.py:250)")
    assert classify(stack(checked)) == "action server calls: reply checked (jsonschema)"
    assert classify(stack(replay)) == (
        "action server calls: slot validation replay (action_extract_slots)"
    )
    assert classify_actions(
        stack(line("main (actions/__main__.py:30)", "run (sanic/app.py:1)"))
    ) == ("Sanic/HTTP and the event loop")
