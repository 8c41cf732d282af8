"""The pure half of `make bench`'s profile part (scripts/benchprofile.py drives it): where a Rasa
worker's time goes per customer message. py-spy's collapsed stacks (`--format raw`: one line per
distinct stack, "root frame;...;leaf frame count") are classified into categories, each a CPU
cost per message answered; the tracker store's events say how many predictions and actions Rasa
runs per message. No I/O: tests/unit/test_bench_profile.py.

Classification is by rules in priority order: a stack belongs to the first rule any of its
frames matches. The order decides what a stack with several meanings counts as: logging
anywhere is logging (it is what a log call costs wherever it is made); a tracker store load or
save counts whole (its SQL and its events replayed or serialised included); an action server
call counts whole (its payload, the whole tracker as JSON, included); then the NLU components,
the policies, event serialisation outside those, and Sanic/HTTP with the event loop.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
"""py-spy's frame: "function (file:line)"; the process frame ("process 12:"cmd"") and thread
frames ("thread (0x7f..)") are not code."""
PROCESS = re.compile(r'^process \d+:"')

# (category, file fragment, functions or None for any): a frame matches when its path contains
# the fragment and, if functions are given, its function (py-spy names a method "Class.name"
# on Python 3.11+, "name" on Rasa's 3.10: the last part is compared) is one of them.
Rule = tuple[str, str, frozenset[str] | None]
LOAD = frozenset({"retrieve", "retrieve_full_tracker", "_retrieve", "get_or_create_tracker",
                  "fetch_tracker_and_update_session", "fetch_full_tracker_with_initial_session",
                  "get_tracker", "fetch_tracker_with_initial_session", "_fetch_events",
                  "_event_query"})  # fmt: skip
SAVE = frozenset({"save", "save_tracker", "_additional_events", "stream_events",
                  "_get_events_to_save", "_event_buffer"})  # fmt: skip
RULES: tuple[Rule, ...] = (
    ("logging", "/logging/", None),
    ("tracker store: load", "/rasa/core/tracker_store.py", LOAD),
    ("tracker store: load", "/rasa/core/processor.py", LOAD),
    ("tracker store: save", "/rasa/core/tracker_store.py", SAVE),
    ("tracker store: save", "/rasa/core/processor.py", SAVE),
    ("tracker store: other", "/rasa/core/tracker_store.py", None),
    ("tracker store: other", "/rasa/core/lock_store.py", None),
    (
        "action server calls: payload (tracker as JSON)",
        "/rasa/core/actions/action.py",
        frozenset({"_action_call_format"}),
    ),
    ("action server calls: HTTP", "/rasa/utils/endpoints.py", None),
    (
        "action server calls: reply checked (jsonschema)",
        "/rasa/core/actions/action.py",
        frozenset({"_validate_action_result", "_validate_action_result_format"}),
    ),
    (
        "action server calls: events back",
        "/rasa/core/actions/action.py",
        frozenset({"_utter_responses"}),
    ),
    (
        "action server calls: slot validation replay (action_extract_slots)",
        "/rasa/core/actions/action.py",
        frozenset({"_run_custom_action", "_execute_validation_action"}),
    ),
    ("NLU: tokenizer (jieba)", "/rasa_addons/normalising_tokenizer.py", None),
    ("NLU: tokenizer (jieba)", "/jieba/", None),
    ("NLU: tokenizer (jieba)", "/rasa/nlu/tokenizers/", None),
    ("NLU: RegexFeaturizer", "/regex_featurizer.py", None),
    ("NLU: CountVectorsFeaturizer", "/count_vectors_featurizer.py", None),
    ("NLU: DIETClassifier", "/rasa/nlu/classifiers/diet_classifier.py", None),
    ("NLU: DIETClassifier", "/rasa/utils/tensorflow/", None),
    ("NLU: AveragingIntentClassifier", "/rasa_addons/ensemble_classifier.py", None),
    ("NLU: RegexEntityExtractor", "/regex_entity_extractor.py", None),
    ("NLU: EntitySynonymMapper", "/entity_synonyms.py", None),
    ("NLU: FallbackClassifier", "/fallback_classifier.py", None),
    (
        "NLU: other (graph, messages)",
        "/rasa/core/processor.py",
        frozenset({"parse_message", "_parse_message_with_graph"}),
    ),
    ("policy: tracker states (featurizer)", "/rasa/core/featurizers/", None),
    ("policy: MemoizationPolicy", "/rasa/core/policies/memoization.py", None),
    ("policy: RulePolicy", "/rasa/core/policies/rule_policy.py", None),
    ("policy: other (ensemble, graph)", "/rasa/core/policies/", None),
    (
        "policy: other (ensemble, graph)",
        "/rasa/core/processor.py",
        frozenset(
            {
                "predict_next_action",
                "_predict_next_with_tracker",
                "predict_next_with_tracker_if_should",
            }
        ),
    ),
    (
        "event serialisation (JSON)",
        "/rasa/shared/core/events.py",
        frozenset(
            {
                "as_dict",
                "as_story_string",
                "_from_parameters",
                "from_parameters",
                "resolve_by_type",
                "fromdict",
                "from_dict",
            }
        ),
    ),
    (
        "event serialisation (JSON)",
        "/rasa/shared/core/trackers.py",
        frozenset({"as_dialogue", "current_state", "events_as_dict", "_events_for_verbosity"}),
    ),
    ("event serialisation (JSON)", "/json/", None),
    (
        "JSON schema checks, caller cut off (py-spy keeps a deep stack's innermost frames)",
        "/jsonschema/",
        None,
    ),
    ("message handling: other (processor, agent)", "/rasa/core/processor.py", None),
    ("message handling: other (processor, agent)", "/rasa/core/agent.py", None),
    ("message handling: other (processor, agent)", "/rasa_addons/turns.py", None),
    ("Sanic/HTTP and the event loop", "/sanic/", None),
    ("Sanic/HTTP and the event loop", "/rasa/server.py", None),
    ("Sanic/HTTP and the event loop", "/rasa/core/channels/", None),
    ("Sanic/HTTP and the event loop", "/rasa_addons/gateway_channel.py", None),
    ("Sanic/HTTP and the event loop", "/aiohttp/", None),
)
LOOP = ("/asyncio/", "/selectors.py", "/uvloop/")
"""Every coroutine runs under the event loop's frames: a stack counts as the loop's own work
only when its leaf is there."""
OTHER = "other"
IDLE_LEAVES = frozenset({"select", "poll", "epoll", "wait", "acquire", "sleep",
                         "accept", "recv", "recv_into", "readinto"})  # fmt: skip
"""Leaf functions that wait rather than work: py-spy leaves idle threads out (no `--idle`), but
its idleness is the thread's state at the instant; a sample whose leaf is one of these counts
as idle here too, never as CPU."""
IDLE = "idle (waiting)"


def parse_frame(frame: str) -> tuple[str, str] | None:
    """(function, "/" + file) of one frame; None for a process or thread frame."""
    found = FRAME.match(frame.strip())
    if found is None or found["function"] == "thread" or PROCESS.match(frame.strip()):
        return None
    return found["function"], "/" + found["file"].lstrip("/")


def parse_collapsed(text: str) -> list[tuple[tuple[tuple[str, str], ...], int]]:
    """The stacks of py-spy's raw output, root first, with their sample counts."""
    stacks = []
    for line in text.splitlines():
        head, _, count = line.strip().rpartition(" ")
        if not head or not count.isdigit():
            continue
        frames = tuple(f for f in (parse_frame(raw) for raw in head.split(";")) if f is not None)
        stacks.append((frames, int(count)))
    return stacks


def _matches(rule: Rule, frame: tuple[str, str]) -> bool:
    _, fragment, functions = rule
    function, path = frame
    return fragment in path and (functions is None or function.rpartition(".")[2] in functions)


def classify(frames: Sequence[tuple[str, str]]) -> str:
    """The category of one stack (root first): idle when its leaf waits, else the first rule
    any frame matches, else other."""
    if not frames or frames[-1][0].rpartition(".")[2] in IDLE_LEAVES:
        return IDLE
    for rule in RULES:
        if any(_matches(rule, frame) for frame in frames):
            return rule[0]
    if any(fragment in frames[-1][1] for fragment in LOOP):
        return "Sanic/HTTP and the event loop"
    return OTHER


DATABASE = ("/sqlalchemy/", "/sqlite3/", "/psycopg/")
SERVER = ("/actions/server.py", "/actions/__main__.py")
"""The action server's own modules: not an action."""


def classify_actions(frames: Sequence[tuple[str, str]]) -> str:
    """The category of one stack of the action server: idle, logging, the database (SQLAlchemy
    and its drivers, whichever action asked), else the outermost of our actions/ modules it
    runs in (the server's own module aside), rasa-sdk's dispatch, Sanic/HTTP, or other."""
    if not frames or frames[-1][0].rpartition(".")[2] in IDLE_LEAVES:
        return IDLE
    paths = [path for _, path in frames]
    if any("/logging/" in path for path in paths):
        return "logging"
    if any(fragment in path for path in paths for fragment in DATABASE):
        return "database"
    ours = [path for path in paths if path.startswith("/actions/") and path not in SERVER]
    if ours:
        return ours[0].lstrip("/")
    for fragment, name in (("/rasa_sdk/", "rasa-sdk (dispatch, tracker, JSON)"),
                           ("/json/", "JSON"), ("/sanic/", "Sanic/HTTP and the event loop"),
                           ("/asyncio/", "Sanic/HTTP and the event loop")):  # fmt: skip
        if any(fragment in path for path in paths):
            return name
    return OTHER


@dataclass(frozen=True)
class Breakdown:
    """A profile's samples by category, and the busiest leaves."""

    samples: Mapping[str, int]
    """Samples by category, idle included under IDLE."""
    leaves: tuple[tuple[str, int], ...]
    """(function (file), samples) of the leaf frames, busiest first, idle leaves left out."""

    @property
    def busy(self) -> int:
        return sum(count for name, count in self.samples.items() if name != IDLE)


def breakdown(
    text: str, classifier: Callable[[Sequence[tuple[str, str]]], str] = classify
) -> Breakdown:
    """py-spy's raw output classified (CPU samples only in `busy`)."""
    samples: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, count in parse_collapsed(text):
        category = classifier(frames)
        samples[category] += count
        if category != IDLE and frames:
            function, path = frames[-1]
            leaves[f"{function} ({path.lstrip('/')})"] += count
    return Breakdown(dict(samples), tuple(leaves.most_common()))


@dataclass(frozen=True)
class Turns:
    """What Rasa ran per customer message, from the tracker store's events."""

    messages: int
    """User messages."""
    predictions: int
    """Actions a policy predicted (action_listen included): one prediction each."""
    actions: Mapping[str, int]
    """Actions run besides action_listen, by kind: responses, custom actions, forms, Rasa's own."""
    remote_calls: int
    """Action server calls: each custom action, each form run (validate_<form> when the domain
    lists it), and action_validate_slot_mappings after every user message when the domain lists
    it (Rasa's action_extract_slots calls it)."""


def turns(
    events: Iterable[tuple[str, str | None, str | None]],
    custom: frozenset[str],
    forms: frozenset[str],
) -> Turns:
    """The counts over (type_name, action_name, data JSON) of Rasa's SQL tracker store's events;
    `custom` and `forms`: the domain's actions and forms."""
    messages = predictions = remote = 0
    actions: Counter[str] = Counter()
    for kind, action, data in events:
        if kind == "user":
            messages += 1
            remote += "action_validate_slot_mappings" in custom
        if kind != "action" or action is None:
            continue
        policy = json.loads(data).get("policy") if data else None
        predictions += policy is not None
        if action == "action_listen":
            continue
        if action.startswith("utter_"):
            actions["responses"] += 1
        elif action in forms:
            actions["forms"] += 1
            remote += f"validate_{action}" in custom
        elif action in custom:
            actions["custom actions"] += 1
            remote += 1
        else:
            actions["Rasa's own"] += 1
    return Turns(messages, predictions, dict(actions), remote)


def per_message(count: int, turns: Turns) -> str:
    return "–" if not turns.messages else f"{count / turns.messages:.2f}"
