"""What a training job does (nlu.jobs runs it): a candidate trained and judged, or the data
cross-validated.

    data/ ──train──▶ candidate ──evaluate on the held-out set, compare with the live model──▶
        candidate (guard passed) | refused (the guard's reasons)

The candidate is registered (nlu_models, status training) before it trains, evaluated on the
held-out set (by the Rasa process that trained it: nlu.training.train_and_evaluate), compared
with the live model intent by intent (nlu.guard), and gets the verdict and the inbox items it
was trained with. A cross-validation job writes its metrics beside the
registry (models/registry/cross-validation-job<N>/) and a note on the live model.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from nlu import training
from nlu.fingerprint import training_fingerprint
from nlu.guard import compare
from nlu.jobs import JobResult, JobState
from nlu.plumbing import SYSTEM, LoopPart
from nlu.releases import Releases
from nlu.validate import edit_lock
from store.db import in_thread, run_unit
from store.models import NluInboxStatus, NluJobStatus, NluModel, NluModelAction, NluModelStatus
from store.services import nlu_inbox, nlu_registry

TRAINED_STATUSES: Final = (
    NluInboxStatus.LABELLED,
    NluInboxStatus.NEW_INTENT,
    NluInboxStatus.OUT_OF_SCOPE,
)
"""Inbox items whose label is written into data/ (a model trained after it learnt them)."""


@dataclass(kw_only=True)
class Candidates(LoopPart):
    releases: Releases
    """The registry's upkeep around a training (the live model, old files)."""

    def _snapshot_inputs(self) -> tuple[str, list[int]]:
        """The training inputs' hash and the labelled items, with no edit half-done."""
        with edit_lock(self.settings):
            data_hash = training_fingerprint(self.settings.project_dir)
            items = run_unit(
                self.factory,
                lambda s: [i.id for i in nlu_inbox.pending_training(s, TRAINED_STATUSES)],
            )
        return data_hash, items

    async def _train_candidate(
        self, state: JobState, name: str, live: NluModel | None
    ) -> tuple[training.TrainedModel, dict[str, Any], str]:
        """The candidate and its metrics on the held-out set, continued from the live model
        where Rasa allows it ("finetuned"), else trained from scratch ("full"). A finetuning
        Rasa refuses (a new intent, a changed config.yml or domain) or that fails otherwise is
        followed by a training from scratch: the job fails only when that fails too, or when
        the evaluation does."""
        base = self._finetune_base(live)
        if base is not None:
            fraction = self.settings.training.finetune_epoch_fraction
            state.log.add(
                f"continuing from the live model {base.name} ({fraction:g} of the epochs)"
            )
            try:
                trained, metrics = await self._train_and_evaluate(state, name, base)
            except training.TrainingFailed as error:
                state.log.add(f"finetuning was not possible, training from scratch: {error}")
            else:
                return trained, metrics, "finetuned"
        trained, metrics = await self._train_and_evaluate(state, name, None)
        return trained, metrics, "full"

    async def _train_and_evaluate(
        self, state: JobState, name: str, finetune: Path | None
    ) -> tuple[training.TrainedModel, dict[str, Any]]:
        """Training (3-80 %) and the evaluation on the held-out set, in one Rasa process."""
        return await training.train_and_evaluate(
            self.settings,
            name,
            training.evaluation_dir(self.settings, f"{name}.tar.gz"),
            progress=training.ProgressMap(state, 3, 80),
            log=state.log,
            on_evaluating=lambda: state("evaluating the candidate on the held-out set", 81),
            cancel=state.cancel,
            finetune=finetune,
        )

    def _finetune_base(self, live: NluModel | None) -> Path | None:
        """The live model's file to continue from, when finetuning is configured."""
        if live is None or self.settings.training.finetune_epoch_fraction <= 0:
            return None
        path = training.model_path(self.settings, live.file_name)
        return path if path.is_file() else None

    async def train(self, state: JobState, actor: str) -> JobResult:
        """A train job: train a candidate on data/ as it is now and evaluate it (one Rasa
        process), evaluate the live model (the first time or after the held-out set changed),
        store the metrics and the guard's verdict, and mark the inbox items it was trained
        with."""
        settings = self.settings
        state("reading the training data", 2)
        data_hash, items = await asyncio.to_thread(self._snapshot_inputs)
        live = await self.releases.ensure_live(state)
        name = f"nlu-{self.clock():%Y%m%d-%H%M%S}-job{state.job_id}"

        def register(session: Session) -> NluModel:
            return nlu_registry.create_model(
                session,
                file_name=f"{name}.tar.gz",
                data_hash=data_hash,
                config_name=settings.train_config.name,
                created_by_name=actor,
                now=self.clock(),
                parent_id=live.id if live is not None else None,
            )

        candidate = await in_thread(self.factory, register)
        state.model_id = candidate.id
        state.log.add(f"training {candidate.file_name} ({len(items)} newly labelled items)")
        trained, metrics, trained_as = await self._train_candidate(state, name, live)
        state("evaluating the live model", 90)
        live_metrics, live_problem = await self._live_metrics(state, live, metrics)
        state("comparing with the live model", 96)
        verdict = compare(metrics, live_metrics, settings.guard)
        reasons = list(verdict.reasons) + ([live_problem] if live_problem else [])
        passed = verdict.passed and not live_problem

        def store(session: Session) -> None:
            now = self.clock()
            comparison = verdict.comparison_json()
            comparison.update(
                passed=passed,
                reasons=reasons,
                live_model_id=live.id if live else None,
                trained_as=trained_as,
            )
            nlu_registry.set_metrics(
                session,
                candidate.id,
                metrics=metrics,
                comparison=comparison,
                guard_passed=passed,
                guard_reasons=reasons,
                train_seconds=trained.seconds,
                sha256=trained.sha256,
            )
            nlu_registry.set_status(
                session,
                candidate.id,
                NluModelStatus.CANDIDATE if passed else NluModelStatus.REFUSED,
                actor_name=SYSTEM,
                now=now,
                reason="; ".join(reasons) or None,
            )
            nlu_inbox.mark_trained(session, items, candidate.id)

        await in_thread(self.factory, store)
        await asyncio.to_thread(self.releases.prune)
        return JobResult(
            state.job_id,
            NluJobStatus.SUCCEEDED,
            candidate.id,
            guard_passed=passed,
            guard_reasons=tuple(reasons),
            macro_f1=float(metrics["macro_f1"]),
        )

    async def _live_metrics(
        self, state: JobState, live: NluModel | None, candidate: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The live model's metrics on today's held-out set (evaluated when the registry has
        none, or they are of another version of the held-out set); a problem that stops the
        comparison (the guard then refuses)."""
        if live is None:
            return None, None
        known = live.metrics or {}
        if known.get("holdout_sha256") == candidate.get("holdout_sha256"):
            return dict(known), None
        path = training.model_path(self.settings, live.file_name)
        if not path.is_file():
            return None, (
                f"the live model {live.id} ({live.file_name}) could not be evaluated: its file"
                " is missing, so the candidate was not compared"
            )
        try:
            metrics = await training.evaluate_model(
                self.settings,
                path,
                training.evaluation_dir(self.settings, live.file_name),
                log=state.log,
                cancel=state.cancel,
            )
        except training.RasaFailed as exc:
            return None, f"the live model {live.id} could not be evaluated ({exc})"
        await in_thread(
            self.factory,
            lambda s: nlu_registry.set_metrics(
                s,
                live.id,
                metrics=metrics,
                comparison=live.comparison,
                guard_passed=live.guard_passed,
                guard_reasons=live.guard_reasons or (),
            ),
        )
        return metrics, None

    async def cross_validate(self, state: JobState, actor: str) -> JobResult:
        """A cross_validation job: data/nlu in folds with the training configuration; its
        summary is noted on the live model."""
        out_dir = self.cross_validation_dir(state.job_id)
        metrics = await training.cross_validate(
            self.settings,
            out_dir,
            progress=training.ProgressMap(state, 2, 98),
            log=state.log,
            cancel=state.cancel,
        )
        summary = (
            f"cross-validation ({metrics['folds']} folds) of {self.settings.train_config.name}"
            f" on data/nlu: macro-F1 {metrics['macro_f1']:.3f} (job {state.job_id})"
        )
        state.log.add(summary)
        live = await in_thread(self.factory, nlu_registry.live_model)
        if live is not None:
            await in_thread(
                self.factory,
                lambda s: nlu_registry.record_event(
                    s,
                    live.id,
                    NluModelAction.NOTE,
                    actor_name=SYSTEM,
                    reason=summary,
                    now=self.clock(),
                ),
            )
        return JobResult(state.job_id, NluJobStatus.SUCCEEDED, macro_f1=float(metrics["macro_f1"]))

    def cross_validation_dir(self, job_id: int) -> Path:
        return self.settings.registry_dir / f"cross-validation-job{job_id}"

    def cross_validation_result(self, job_id: int) -> dict[str, Any] | None:
        """A cross-validation job's metrics (and its confusion matrix beside them), if done."""
        directory = self.cross_validation_dir(job_id)
        try:
            metrics: dict[str, Any] = json.loads((directory / "metrics.json").read_text())
        except (OSError, ValueError):
            return None
        matrix = directory / training.CONFUSION_MATRIX
        metrics["confusion_matrix"] = str(matrix) if matrix.is_file() else None
        return metrics
