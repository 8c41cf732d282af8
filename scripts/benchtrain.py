"""The training part of `make bench` (BENCH_TRAIN=1, or `--only training`): a full training of
the shipped data, and an operator's retrain-to-deployed, each timed.

In a scratch copy of the project (the training inputs and the held-out set) with its own
models/ (the registry), Rasa cache (RASA_CACHE_DIRECTORY) and SQLite database, nothing of the
repository's models/ or .rasa/ is touched. There the operators' loop (nlu.loop.NluLoop, as the
console and `python -m nlu` drive it):

1. trains the shipped data with config.yml and an empty Rasa cache: the full training (its time
   is the registry's train_seconds), evaluates it on the held-out set;
2. starts a `rasa run` of its own with that model, deploys it: the live model (not timed);
3. labels a few new examples of one intent from inbox items, as an operator does (not timed);
4. retrains with the cache the full training left (Rasa restores the components whose inputs
   did not change, the dialogue policies among them), evaluates the candidate on the held-out
   set and compares it with the live model (the regression guard): the job an operator starts;
5. deploys the candidate into the running Rasa (`PUT /model` until `GET /status` reports it,
   then models/current.tar.gz and the registry).

retrain-to-deployed = 4 + 5. The steps' own times: the retraining's from the registry
(train_seconds), the evaluation's from the job's progress stages, the rest from the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from nlu import inbox as nlu_inbox
from nlu.deploy import RasaServer
from nlu.loop import JobResult, LoopError, NluLoop
from nlu.settings import NluSettings
from scripts.benchlib import (
    EVALUATING_CANDIDATE,
    RunInfo,
    Training,
    cache_use,
    conditions_text,
    cpu_model_and_cores,
    stage_seconds,
    training_time,
)
from scripts.benchstack import (
    RASA_BIN,
    ROOT,
    BenchError,
    ChildrenCpu,
    Servers,
    child_env,
    free_port,
    rasa_run_args,
    read,
    say,
    sqlite_database,
    wait_until_ready,
)
from store.db import make_engine, make_session_factory, unit_of_work

PROJECT_FILES = (
    "config.yml",
    "domain.yml",
    "credentials.yml",
    "data",
    "nlu/dict",
    "requirements/rasa.in",
    "tests/nlu/holdout.yml",
    "rasa_addons",
)
"""What the loop reads: the training inputs (scripts/train.sh's hash), the held-out set, and
the pipeline's own components (config.yml names rasa_addons' classes; `rasa train` imports
them from its working directory, the project)."""
INTENT = "ask_tariff"
NEW_EXAMPLES = (
    "电价咋比去年贵了 一度现在收多少",
    "超过第一档以后每度电加几毛",
    "峰谷电要不要申请 谷电一度多少钱",
)
"""What the operator labels: phrasings of `INTENT` neither in data/ nor in the held-out set."""
ACTOR = "bench"
OVERRIDE_REASON = "make bench times retrain-to-deployed; the guard's verdict is in the report"


def copy_project(project: Path) -> None:
    for name in PROJECT_FILES:
        source, target = ROOT / name, project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` for the duration (the loop's `rasa` children read it)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Stages:
    """The job's progress reports with the time of each; a few of them shown as it goes."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []
        self._shown = -10

    def __call__(self, stage: str, percent: int) -> None:
        if self.events and self.events[-1][1] == stage:
            return
        self.events.append((time.monotonic(), stage))
        if "epoch" not in stage or percent >= self._shown + 10:
            self._shown = percent
            say(f"  [{percent:3d}%] {stage}")


def _model_id(result: JobResult, what: str) -> int:
    if result.status != "succeeded" or result.model_id is None:
        raise BenchError(f"{what} {result.status}: {result.error or 'no model'}")
    return result.model_id


def _label(loop: NluLoop, factory: sessionmaker[Session], settings: NluSettings) -> None:
    """The new examples land in the inbox, and the operator labels them (data/ is edited)."""
    for text in NEW_EXAMPLES:
        with unit_of_work(factory) as session:
            item = nlu_inbox.add_hit(
                session, message_id=None, conversation_id=None, text=text,
                reason="low_confidence", predicted_intent=INTENT, confidence=0.4,
                settings=settings.inbox,
            )  # fmt: skip
            assert item is not None
            item_id = item.id
        edit = loop.label_item(item_id, INTENT, actor=ACTOR)
        say(f"  labelled: {edit.line} → {', '.join(edit.files)}")


def _operator(
    run: RunInfo, settings: NluSettings, factory: sessionmaker[Session], servers: Servers
) -> Training:
    port, token = free_port(), secrets.token_hex(16)
    loop = NluLoop(
        settings, factory, rasa=RasaServer(f"http://127.0.0.1:{port}", token), validate=False
    )
    say("training 1/4: the full training of the shipped data, empty Rasa cache (minutes) ...")
    full_stages = Stages()
    first_id = _model_id(asyncio.run(loop.train(actor=ACTOR, on_progress=full_stages)), "training")
    first = loop.model(first_id)
    full_seconds = first.model.train_seconds
    if full_seconds is None:
        raise BenchError("the registry has no training time of the full training")
    live_f1 = (first.model.metrics or {}).get("macro_f1")
    say(f"full training: {full_seconds:.0f} s; starting a `rasa run` with it and deploying it")
    endpoints = servers.logs / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{free_port()}/webhook"\n')
    servers.start("rasa", rasa_run_args(port, endpoints, first.file), child_env(RASA_TOKEN=token))
    wait_until_ready(servers, [f"http://127.0.0.1:{port}/status?token={token}"])
    asyncio.run(loop.deploy(first_id, actor=ACTOR))
    say(f"training 2/4: an operator labels {len(NEW_EXAMPLES)} new examples of {INTENT}")
    _label(loop, factory, settings)
    say("training 3/4: the operator's retraining (train, evaluate, guard) ...")
    stages = Stages()
    started = time.monotonic()
    second = asyncio.run(loop.train(actor=ACTOR, on_progress=stages))
    job_seconds = time.monotonic() - started
    candidate_id = _model_id(second, "retraining")
    candidate = loop.model(candidate_id).model
    evaluate_seconds = stage_seconds(stages.events, EVALUATING_CANDIDATE)
    if evaluate_seconds is None or candidate.train_seconds is None:
        raise BenchError("the retraining job reported no evaluation stage or no training time")
    say("training 4/4: deploying the candidate into the running Rasa ...")
    refused = not second.guard_passed
    started = time.monotonic()
    asyncio.run(
        loop.deploy(candidate_id, actor=ACTOR, override_reason=OVERRIDE_REASON if refused else None)
    )
    deploy_seconds = time.monotonic() - started
    restored, retrained = cache_use(stages.events)
    return Training(
        run=run,
        conditions="",
        full_seconds=round(full_seconds, 1),
        retrain_seconds=round(candidate.train_seconds, 1),
        evaluate_seconds=round(evaluate_seconds, 1),
        other_job_seconds=round(
            max(job_seconds - candidate.train_seconds - evaluate_seconds, 0), 1
        ),
        deploy_seconds=round(deploy_seconds, 1),
        intent=INTENT,
        examples=len(NEW_EXAMPLES),
        restored=restored,
        restored_took_seconds=round(training_time(full_stages.events, restored), 1),
        retrained=retrained,
        macro_f1=round(float((candidate.metrics or {}).get("macro_f1", 0.0)), 4),
        live_macro_f1=None if live_f1 is None else round(float(live_f1), 4),
        guard_reasons=tuple(second.guard_reasons) if refused else (),
    )


def measure_training(run: RunInfo, note: str) -> Training:
    """The training part, in a scratch project that is removed afterwards."""
    if not RASA_BIN.exists():
        raise BenchError(".venv-rasa is missing: run `make setup`")
    load_before = read("/proc/loadavg").split(" ")[0] or "unknown"
    with tempfile.TemporaryDirectory(prefix="bench-training-") as scratch:
        work = Path(scratch)
        project = work / "project"
        copy_project(project)
        settings = NluSettings.load(
            {
                "CONF_DIR": str(ROOT / "conf"),
                "NLU_PROJECT_DIR": str(project),
                "NLU_MODELS_DIR": str(project / "models"),
                "RASA_BIN": str(RASA_BIN),
            }
        )
        engine = make_engine(sqlite_database(work / "nlu.db", "migrate"))
        cpu = ChildrenCpu()
        cache = {"RASA_CACHE_DIRECTORY": str(project / ".rasa" / "cache")}
        try:
            with environment(cache), Servers(work) as servers:
                training = _operator(run, settings, make_session_factory(engine), servers)
                servers.stop()  # waited for: its CPU time counts as the bench's
        except LoopError as exc:
            raise BenchError(f"the operators' loop: {exc}") from exc
        finally:
            engine.dispose()
        shares = cpu.shares()
    cores = cpu_model_and_cores(read("/proc/cpuinfo"))[1] or os.cpu_count() or 0
    conditions = conditions_text(
        load_before, shares, cores, note,
        started="the training part started",
        ours="the bench's trainings, evaluations and `rasa run`",
    )  # fmt: skip
    return dataclasses.replace(training, conditions=conditions)
