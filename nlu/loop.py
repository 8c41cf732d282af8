"""The operators' retraining loop: what `python -m nlu` and the console's NLU page call.

    inbox item ──label / oos / new intent──▶ data/ (validated) ──train──▶ candidate
        candidate ──evaluate on the held-out set, compare with the live model──▶ guard verdict
        candidate (or refused + override) ──deploy──▶ live in Rasa, models/current.tar.gz
        any earlier model ──rollback (reason)──▶ live again

`NluLoop(settings, session_factory)` is the one object callers build; its methods are its
parts', each in its own module:

- `annotator` (nlu.annotation): `inbox`, `item`, `label_item`, `label_items`, `relabel_item`,
  `mark_item`, `ignore_items`, `create_intent` (synchronous, several seconds each);
- `training_jobs` (nlu.jobs, running nlu.candidates' work): `start_training`, `train`,
  `run_training_job`, `cancel_job`, `jobs`, `job`, `recover`, `wait_for_jobs`, and
  `cross_validation_result`;
- `releases` (nlu.releases): `models`, `model`, `deploy`, `rollback`.

It holds no state but the running jobs of its process. Every failure an operator can cause or
fix is one of nlu.rules' typed errors (`NluError`; `LoopError` is its older name here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from sqlalchemy.orm import Session, sessionmaker

from nlu.annotation import Annotator
from nlu.candidates import Candidates
from nlu.deploy import RasaServer
from nlu.jobs import JobResult, JobWork, TrainingJobs
from nlu.plumbing import utc_now
from nlu.releases import Releases
from nlu.rules import NluError
from nlu.settings import NluSettings
from store.statuses import NluJobKind

__all__ = ["JobResult", "LoopError", "NluLoop"]

LoopError = NluError
"""What callers of the loop catch (nlu.rules.NluError: its subclasses say what went wrong)."""

P = ParamSpec("P")
R = TypeVar("R")


class _Part(Generic[P, R]):
    """`NluLoop.name`: the method of the same name of the part `part` (typed as that method)."""

    def __init__(self, part: str, method: Callable[Concatenate[Any, P], R]) -> None:
        self.part, self.name = part, method.__name__

    @overload
    def __get__(self, loop: None, owner: type) -> _Part[P, R]: ...
    @overload
    def __get__(self, loop: object, owner: type | None = None) -> Callable[P, R]: ...
    def __get__(self, loop: object, owner: type | None = None) -> _Part[P, R] | Callable[P, R]:
        if loop is None:
            return self
        method: Callable[P, R] = getattr(getattr(loop, self.part), self.name)
        return method


@dataclass
class NluLoop:
    settings: NluSettings
    session_factory: sessionmaker[Session]
    rasa: RasaServer = field(default_factory=RasaServer.from_env)
    on_switch: Callable[[str], None] | None = None
    """Told the URL of the Rasa server that answers customers after a deployment (the gateway
    of this process switches at once; other processes follow the rasa_serving row)."""
    clock: Callable[[], datetime] = utc_now
    validate: bool = True
    """Run `rasa data validate` after each edit (tests of other parts switch it off)."""
    annotator: Annotator = field(init=False, repr=False)
    training_jobs: TrainingJobs = field(init=False, repr=False)
    releases: Releases = field(init=False, repr=False)
    candidates: Candidates = field(init=False, repr=False)

    def __post_init__(self) -> None:
        settings, factory, clock = self.settings, self.session_factory, self.clock
        self.annotator = Annotator(
            settings=settings, factory=factory, clock=clock, validate=self.validate
        )
        self.releases = Releases(
            settings=settings,
            factory=factory,
            clock=clock,
            rasa=self.rasa,
            on_switch=self.on_switch,
        )
        self.candidates = Candidates(
            settings=settings, factory=factory, clock=clock, releases=self.releases
        )
        work: dict[str, JobWork] = {
            NluJobKind.TRAIN: self.candidates.train,
            NluJobKind.CROSS_VALIDATION: self.candidates.cross_validate,
        }
        self.training_jobs = TrainingJobs(
            settings=settings, factory=factory, clock=clock, work=work
        )

    inbox = _Part("annotator", Annotator.inbox)
    item = _Part("annotator", Annotator.item)
    label_item = _Part("annotator", Annotator.label_item)
    label_items = _Part("annotator", Annotator.label_items)
    relabel_item = _Part("annotator", Annotator.relabel_item)
    mark_item = _Part("annotator", Annotator.mark_item)
    ignore_items = _Part("annotator", Annotator.ignore_items)
    create_intent = _Part("annotator", Annotator.create_intent)

    recover = _Part("training_jobs", TrainingJobs.recover)
    jobs = _Part("training_jobs", TrainingJobs.jobs)
    job = _Part("training_jobs", TrainingJobs.job)
    start_training = _Part("training_jobs", TrainingJobs.start_training)
    train = _Part("training_jobs", TrainingJobs.train)
    run_training_job = _Part("training_jobs", TrainingJobs.run_training_job)
    cancel_job = _Part("training_jobs", TrainingJobs.cancel_job)
    wait_for_jobs = _Part("training_jobs", TrainingJobs.wait_for_jobs)
    cross_validation_dir = _Part("candidates", Candidates.cross_validation_dir)
    cross_validation_result = _Part("candidates", Candidates.cross_validation_result)

    models = _Part("releases", Releases.models)
    model = _Part("releases", Releases.model)
    deploy = _Part("releases", Releases.deploy)
    rollback = _Part("releases", Releases.rollback)
