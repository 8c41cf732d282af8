"""`python -m nlu`: the operators' retraining loop from a terminal (the console's NLU page calls
the same nlu.loop functions).

    python -m nlu inbox [--status open] [--limit 20]      what customers said that the bot missed
    python -m nlu show ID                                 one item with its conversations
    python -m nlu label ID INTENT [--entity NAME=TEXT[=VALUE] ...]
    python -m nlu relabel ID INTENT [--entity ...]       correct a label (the example moves)
    python -m nlu oos ID | ignore ID
    python -m nlu new-intent ID NAME --response TEXT [--response-en TEXT]
    python -m nlu train [--cross-validation]              in the foreground, with progress
    python -m nlu jobs | cancel JOB
    python -m nlu models [--status S] | model ID          metrics, comparison with the live model
    python -m nlu deploy ID [--override-reason TEXT]
    python -m nlu rollback ID --reason TEXT

The database is $DATABASE_URL (or --url), like `python -m store`; the actor recorded is --actor
or $USER. Rasa is $RASA_URL with $RASA_TOKEN (deploy, rollback). Exit status: 0 done, 1 refused
or failed (one line on stderr says why), 2 bad usage, 3 trained but refused by the regression
guard.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from nlu.datafile import EditResult, find_entity
from nlu.jobs import JobResult
from nlu.loop import NluLoop
from nlu.rules import Invalid, NluError
from nlu.settings import ConfigError, NluSettings
from store.db import database_url, make_engine, make_session_factory
from store.logmask import RecordMasking
from store.models import (
    NLU_INBOX_STATUSES,
    NLU_MODEL_STATUSES,
    MessageDirection,
    MessageSender,
    NluInboxStatus,
    NluJobKind,
    NluJobStatus,
    NluModel,
)

EXIT_REFUSED_BY_GUARD = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nlu",
        description="Label what the bot misunderstood, retrain, evaluate and deploy safely.",
    )
    parser.add_argument("--url", help="database URL (default: $DATABASE_URL or var/assistant.db)")
    parser.add_argument("--actor", help="who does this (default: $USER)")
    sub = parser.add_subparsers(dest="command", required=True)
    inbox = sub.add_parser("inbox", help="list inbox items, most frequent first")
    inbox.add_argument(
        "--status", default=NluInboxStatus.OPEN, choices=[*NLU_INBOX_STATUSES, "all"]
    )
    inbox.add_argument("--limit", type=int, default=20)
    show = sub.add_parser("show", help="one inbox item with its conversations")
    show.add_argument("id", type=int)
    for name, what in (
        ("label", "give an item its intent (written into data/)"),
        ("relabel", "correct a labelled item's intent (its example moves in data/)"),
    ):
        label = sub.add_parser(name, help=what)
        label.add_argument("id", type=int)
        label.add_argument("intent")
        label.add_argument(
            "--entity",
            action="append",
            default=[],
            metavar="NAME=TEXT[=VALUE]",
            help="an entity: its text as it occurs in the message, optionally a canonical value"
            " (billing_period=上月=上个月); repeat for several",
        )
    for name, what in (("oos", "out of scope (an out_of_scope example)"), ("ignore", "ignored")):
        cmd = sub.add_parser(name, help=f"mark an item {what}")
        cmd.add_argument("id", type=int)
    new = sub.add_parser("new-intent", help="create an intent from an item, with its reply")
    new.add_argument("id", type=int)
    new.add_argument("name", help="snake_case, e.g. ask_ev_charging")
    new.add_argument("--response", required=True, help="the reply customers get (Chinese)")
    new.add_argument("--response-en", help="the English reply (optional)")
    train = sub.add_parser("train", help="train and evaluate a candidate (foreground)")
    train.add_argument(
        "--cross-validation", action="store_true", help="cross-validate data/nlu instead"
    )
    jobs = sub.add_parser("jobs", help="the latest training jobs")
    jobs.add_argument("--limit", type=int, default=10)
    cancel = sub.add_parser("cancel", help="stop a queued or running job")
    cancel.add_argument("job", type=int)
    models = sub.add_parser("models", help="the model registry, newest first")
    models.add_argument("--status", choices=NLU_MODEL_STATUSES)
    models.add_argument("--limit", type=int, default=20)
    model = sub.add_parser("model", help="a model's metrics and comparison with the live one")
    model.add_argument("id", type=int)
    deploy = sub.add_parser("deploy", help="load a candidate into Rasa and make it live")
    deploy.add_argument("id", type=int)
    deploy.add_argument("--override-reason", help="why a refused candidate goes live anyway")
    rollback = sub.add_parser("rollback", help="make an earlier model live again")
    rollback.add_argument("id", type=int)
    rollback.add_argument("--reason", required=True)
    return parser


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _at(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


# --- commands --------------------------------------------------------------------------------


def _inbox(loop: NluLoop, args: argparse.Namespace) -> int:
    status = None if args.status == "all" else args.status
    page = loop.inbox(status=status, limit=args.limit)
    print(f"{page.total} item(s){'' if status is None else ' ' + status}")
    for item in page.items:
        guess = f"{item.predicted_intent or '-'} {_number(item.confidence, 2)}"
        label = f" → {item.label_intent}" if item.label_intent else ""
        print(
            f"{item.id:>5}  ×{item.count:<3} {item.status:<12} {guess:<28}"
            f" {','.join(item.reasons):<20} {_short(item.text, 40)}{label}"
        )
    return 0


def _show(loop: NluLoop, args: argparse.Namespace) -> int:
    detail = loop.item(args.id)
    item = detail.item
    print(f"item {item.id}: {item.text}")
    print(
        f"  status {item.status}, seen {item.count}× ({_at(item.first_seen_at)} …"
        f" {_at(item.last_seen_at)}), reasons {', '.join(item.reasons) or '-'}"
    )
    print(f"  the bot thought: {item.predicted_intent or '-'} ({_number(item.confidence, 2)})")
    if item.label_intent:
        print(f"  labelled: {item.label_intent} {item.label_entities or ''}")
    if item.note:
        print(f"  note: {item.note}")
    for hit in detail.hits:
        print(f"  --- {hit.hit.conversation_id or '?'} ({hit.hit.reason})")
        for message in hit.messages:
            marker = ">>" if message.is_hit else "  "
            who = (
                MessageSender.CUSTOMER
                if message.direction == MessageDirection.IN
                else message.sender
            )
            intent = (
                f"  [{message.intent} {_number(message.confidence, 2)}]" if message.intent else ""
            )
            print(f"  {marker} {who}: {_short(message.text, 70)}{intent}")
    return 0


def _entities(loop: NluLoop, item_id: int, specs: Sequence[str]) -> list[dict[str, Any]]:
    if not specs:
        return []
    text = loop.item(item_id).item.text
    found = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        if not sep or not name or not rest:
            raise Invalid(f"--entity {spec!r}: write NAME=TEXT or NAME=TEXT=VALUE")
        surface, _, value = rest.partition("=")
        span = find_entity(text, name.strip(), surface, value or None)
        found.append(span.to_json(text))
    return found


def _edited(result: EditResult | None, what: str) -> int:
    if result is None:
        print(what)
        return 0
    print(f"{what}: {result.line}  ({', '.join(result.files)})")
    return 0


def _progress_printer() -> Any:
    last: list[tuple[str, int]] = []

    def show(stage: str, percent: int) -> None:
        if last and last[-1] == (stage, percent):
            return
        last.append((stage, percent))
        print(f"[{percent:3d}%] {stage}", flush=True)

    return show


def _trained(loop: NluLoop, result: JobResult) -> int:
    if result.status != NluJobStatus.SUCCEEDED:
        print(f"error: job {result.job_id} {result.status}: {result.error}", file=sys.stderr)
        return 1
    if result.model_id is None:  # cross-validation
        print(f"job {result.job_id}: macro-F1 {_number(result.macro_f1)}")
        outcome = loop.cross_validation_result(result.job_id) or {}
        if outcome.get("confusion_matrix"):
            print(f"confusion matrix: {outcome['confusion_matrix']}")
        return 0
    print(f"job {result.job_id}: model {result.model_id}, macro-F1 {_number(result.macro_f1)}")
    if result.guard_passed:
        print(f"PASSED the regression guard: deploy with `python -m nlu deploy {result.model_id}`")
        return 0
    print("REFUSED by the regression guard:")
    for reason in result.guard_reasons:
        print(f"  - {reason}")
    print(f"deploy anyway: python -m nlu deploy {result.model_id} --override-reason '...'")
    return EXIT_REFUSED_BY_GUARD


def _jobs(loop: NluLoop, args: argparse.Namespace) -> int:
    for job in loop.jobs(limit=args.limit):
        model = f" model {job.model_id}" if job.model_id else ""
        error = f"  {_short(job.error, 60)}" if job.error else ""
        print(
            f"{job.id:>4}  {job.kind:<16} {job.status:<10} {job.progress:>3}%"
            f"  {_at(job.created_at)}  {job.requested_by_name}{model}"
            f"  {_short(job.stage, 40)}{error}"
        )
    return 0


def _model_line(model: NluModel) -> str:
    macro = (model.metrics or {}).get("macro_f1")
    guard = {True: "passed", False: "refused", None: "-"}[model.guard_passed]
    return (
        f"{model.id:>4}  {model.status:<9} macro-F1 {_number(macro)}  guard {guard:<7}"
        f"  {_at(model.created_at)}  {model.created_by_name:<12} {model.file_name}"
    )


def _models(loop: NluLoop, args: argparse.Namespace) -> int:
    for model in loop.models(status=args.status, limit=args.limit):
        print(_model_line(model))
    return 0


def _model(loop: NluLoop, args: argparse.Namespace) -> int:
    detail = loop.model(args.id)
    model = detail.model
    print(_model_line(model))
    print(
        f"  data hash {model.data_hash or '-'}, config {model.config_name}, sha256 {model.sha256}"
    )
    if model.train_seconds is not None:
        print(f"  trained in {model.train_seconds:.0f} s")
    if model.deployed_at:
        print(f"  deployed {_at(model.deployed_at)} by {model.deployed_by_name}")
    if model.override_reason:
        print(f"  override by {model.override_by_name}: {model.override_reason}")
    for reason in model.guard_reasons or []:
        print(f"  guard: {reason}")
    comparison = model.comparison or {}
    rows = comparison.get("rows") or []
    if rows:
        macro = comparison.get("macro_f1") or {}
        print(
            f"  macro-F1 {_number(macro.get('before'))} → {_number(macro.get('after'))}"
            f" (live model {comparison.get('live_model_id') or '-'})"
        )
        print(f"  {'intent':<24} {'support':>7}  {'precision':>15}  {'recall':>15}  {'F1':>15}")
        for row in rows:
            cells = [
                f"{_number(row[k]['before'], 2)}→{_number(row[k]['after'], 2)}"
                for k in ("precision", "recall", "f1")
            ]
            flag = "  ▼" if (row["recall"].get("delta") or 0) < 0 else ""
            print(
                f"  {row['intent']:<24} {row['support']:>7}  "
                + "  ".join(f"{c:>15}" for c in cells)
                + flag
            )
    elif model.metrics:
        for intent, scores in sorted(model.metrics.get("per_intent", {}).items()):
            print(
                f"  {intent:<24} recall {_number(scores.get('recall'), 2)}"
                f" F1 {_number(scores.get('f1'), 2)}"
            )
    if detail.confusion_matrix:
        print(f"  confusion matrix: {detail.confusion_matrix}")
    if not detail.file_exists:
        print("  (its model file is no longer in the registry)")
    for event in detail.events:
        reason = f": {event.reason}" if event.reason else ""
        print(f"  {_at(event.created_at)} {event.action} by {event.actor_name}{reason}")
    return 0


def _run(loop: NluLoop, args: argparse.Namespace, actor: str) -> int:
    command = args.command
    if command == "inbox":
        return _inbox(loop, args)
    if command == "show":
        return _show(loop, args)
    if command == "label":
        entities = _entities(loop, args.id, args.entity)
        return _edited(loop.label_item(args.id, args.intent, entities, actor=actor), "labelled")
    if command == "relabel":
        entities = _entities(loop, args.id, args.entity)
        edit = loop.relabel_item(args.id, args.intent, entities, actor=actor)
        return _edited(edit, "relabelled")
    if command == "oos":
        return _edited(
            loop.mark_item(args.id, NluInboxStatus.OUT_OF_SCOPE, actor=actor), "out of scope"
        )
    if command == "ignore":
        return _edited(
            loop.mark_item(args.id, NluInboxStatus.IGNORED, actor=actor), f"item {args.id} ignored"
        )
    if command == "new-intent":
        created = loop.create_intent(
            args.id, args.name, response_zh=args.response, response_en=args.response_en, actor=actor
        )
        return _edited(created, f"new intent {args.name}")
    if command == "train":
        kind = NluJobKind.CROSS_VALIDATION if args.cross_validation else NluJobKind.TRAIN
        result = asyncio.run(loop.train(actor=actor, kind=kind, on_progress=_progress_printer()))
        return _trained(loop, result)
    if command == "jobs":
        return _jobs(loop, args)
    if command == "cancel":
        loop.cancel_job(args.job, actor=actor)
        print(f"job {args.job} cancelled")
        return 0
    if command == "models":
        return _models(loop, args)
    if command == "model":
        return _model(loop, args)
    if command == "deploy":
        model = asyncio.run(loop.deploy(args.id, actor=actor, override_reason=args.override_reason))
        print(f"model {model.id} is live ({model.file_name})")
        return 0
    if command == "rollback":
        model = asyncio.run(loop.rollback(args.id, actor=actor, reason=args.reason))
        print(f"rolled back: model {model.id} is live ({model.file_name})")
        return 0
    raise AssertionError(command)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.addFilter(RecordMasking())  # customers' messages pass through here: no numbers
    logging.basicConfig(
        level=logging.WARNING, handlers=[handler], format="%(levelname)s %(message)s"
    )
    actor = (args.actor or os.environ.get("USER") or "operator").strip()[:64]
    try:
        settings = NluSettings.load()
    except ConfigError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 1
    engine = make_engine(args.url or database_url())
    loop = NluLoop(settings, make_session_factory(engine))
    try:
        loop.recover()
        return _run(loop, args, actor)
    except NluError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        print(
            f"error: database: {first} (is it migrated? python -m store migrate)", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
