"""Releases: the model registry as operators see it, and which model answers customers.

    candidate (or refused + override) ──deploy──▶ live in Rasa, models/current.tar.gz
    any earlier model ──rollback (reason)──▶ live again

`deploy` (a refused candidate needs `override_reason`) and `rollback` (any earlier model, a
reason required) load the model into the running Rasa, copy it to models/current.tar.gz with
its fingerprint, and update the registry, in that order: if Rasa is unreachable or refuses the
model, nothing changes. A training job keeps the registry in shape through `ensure_live` (the
model `make run` started is registered the first time) and `prune` (old model files go).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from nlu import training
from nlu.deploy import RasaServer, current_fingerprint, install_current, load_model, loaded_model
from nlu.fingerprint import file_sha256
from nlu.guard import check_override
from nlu.plumbing import SYSTEM, FileLock, LoopPart, deploy_lock, store_errors
from nlu.rules import Conflict, Failed, Invalid
from store.db import in_thread, run_unit
from store.models import NluModel, NluModelAction, NluModelEvent, NluModelStatus
from store.services import nlu_registry, rasa_serving


@dataclass(frozen=True)
class ModelDetail:
    """A registry model with its history and its files (for `python -m nlu model ID` and the
    console's model page: metrics, the comparison, the confusion matrix picture)."""

    model: NluModel
    events: list[NluModelEvent]
    file: Path
    file_exists: bool
    report: Path | None
    confusion_matrix: Path | None


@dataclass(kw_only=True)
class Releases(LoopPart):
    rasa: RasaServer = field(default_factory=RasaServer.from_env)
    on_switch: Callable[[str], None] | None = None
    """Told the URL of the Rasa server that answers customers after a deployment (the gateway
    of this process switches at once; other processes follow the rasa_serving row)."""

    # --- the registry ----------------------------------------------------------------------

    def models(self, *, status: str | None = None, limit: int = 50) -> list[NluModel]:
        with store_errors():
            return run_unit(
                self.factory, lambda s: nlu_registry.list_models(s, status=status, limit=limit)
            )

    def model(self, model_id: int) -> ModelDetail:
        with store_errors():
            model, events = run_unit(
                self.factory,
                lambda s: (
                    nlu_registry.get_model(s, model_id),
                    nlu_registry.model_events(s, model_id),
                ),
            )
        path = training.model_path(self.settings, model.file_name)
        evaluation = training.evaluation_dir(self.settings, model.file_name)
        report = evaluation / training.REPORT_FILE
        matrix = evaluation / training.CONFUSION_MATRIX
        return ModelDetail(
            model=model,
            events=events,
            file=path,
            file_exists=path.is_file(),
            report=report if report.is_file() else None,
            confusion_matrix=matrix if matrix.is_file() else None,
        )

    async def ensure_live(self, progress: Callable[[str, int], None]) -> NluModel | None:
        """The live model; the first time, the model `make run` started Rasa with
        (models/current.tar.gz) is registered as live, so it can be compared and rolled back
        to."""
        live = await in_thread(self.factory, nlu_registry.live_model)
        current = self.settings.current_model
        if live is not None or not current.is_file():
            return live
        progress("registering the running model", 2)
        sha = await asyncio.to_thread(file_sha256, current)
        file_name = f"baseline-{sha[:12]}.tar.gz"
        target = training.model_path(self.settings, file_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            await asyncio.to_thread(shutil.copy2, current, target)
        fingerprint = current_fingerprint(self.settings) or ""

        def register(session: Session) -> NluModel:
            now = self.clock()
            model = nlu_registry.create_model(
                session,
                file_name=file_name,
                data_hash=fingerprint,
                config_name="config.yml",
                created_by_name="make train",
                now=now,
                sha256=sha,
                notes="the model Rasa ran before the first retraining (models/current.tar.gz)",
            )
            nlu_registry.set_status(
                session, model, NluModelStatus.CANDIDATE, actor_name=SYSTEM, now=now
            )
            return nlu_registry.set_status(
                session,
                model,
                NluModelStatus.LIVE,
                actor_name=SYSTEM,
                now=now,
                reason="registered as the running model (models/current.tar.gz)",
            )

        return await in_thread(self.factory, register)

    def prune(self) -> None:
        """Keep the newest training.keep_models model files (and the live one's); older files
        are deleted, their rows, metrics and evaluation pictures stay."""
        keep = self.settings.training.keep_models

        def work(session: Session) -> None:
            models = nlu_registry.list_models(session, limit=10_000)
            with_files = [
                m
                for m in models
                if m.status
                in (NluModelStatus.CANDIDATE, NluModelStatus.REFUSED, NluModelStatus.RETIRED)
                and training.model_path(self.settings, m.file_name).exists()
            ]
            for model in with_files[max(0, keep - 1) :]:
                training.model_path(self.settings, model.file_name).unlink(missing_ok=True)
                nlu_registry.record_event(
                    session,
                    model,
                    NluModelAction.DELETE,
                    actor_name=SYSTEM,
                    reason=f"the registry keeps the newest {keep} model files",
                    now=self.clock(),
                )

        run_unit(self.factory, work)

    # --- deploy and rollback ---------------------------------------------------------------

    async def _model(self, model_id: int) -> NluModel:
        return await in_thread(self.factory, lambda s: nlu_registry.get_model(s, model_id))

    async def deploy(
        self, model_id: int, *, actor: str, override_reason: str | None = None
    ) -> NluModel:
        """Make a candidate live; a refused one needs `override_reason` (recorded)."""
        with store_errors():
            model = await self._model(model_id)
            if model.status == NluModelStatus.LIVE:
                raise Conflict(f"model {model_id} is already live")
            if model.status == NluModelStatus.RETIRED:
                raise Conflict(f"model {model_id} was live before: roll back to it (with a reason)")
            if model.status not in (NluModelStatus.CANDIDATE, NluModelStatus.REFUSED):
                raise Conflict(
                    f"model {model_id} is {model.status}: only a candidate (or a refused one,"
                    " with an override reason) can be deployed"
                )
            override = None
            if model.status == NluModelStatus.REFUSED:
                override = check_override(override_reason, self.settings.guard)
            return await self._go_live(model, actor=actor, reason=override, override=override)

    async def rollback(self, model_id: int, *, actor: str, reason: str) -> NluModel:
        """Make any earlier model live again (no guard); the reason is required."""
        with store_errors():
            minimum = self.settings.guard.min_override_reason
            written = (reason or "").strip()
            if len(written) < minimum:
                raise Invalid(f"a rollback needs a written reason of at least {minimum} characters")
            model = await self._model(model_id)
            if model.status == NluModelStatus.LIVE:
                raise Conflict(f"model {model_id} is already live")
            if model.status in (NluModelStatus.TRAINING, NluModelStatus.FAILED):
                raise Conflict(f"model {model_id} is {model.status}: nothing to roll back to")
            override = written if model.status == NluModelStatus.REFUSED else None
            return await self._go_live(model, actor=actor, reason=written, override=override)

    async def _go_live(
        self, model: NluModel, *, actor: str, reason: str | None, override: str | None
    ) -> NluModel:
        path = training.model_path(self.settings, model.file_name)
        lock = FileLock.try_acquire(deploy_lock(self.settings))
        if lock is None:
            raise Conflict("another deployment is in progress; try again in a minute")
        try:
            if not path.is_file():
                raise Failed(
                    f"model {model.id}'s file {model.file_name} is no longer in the registry"
                )
            sha = await asyncio.to_thread(file_sha256, path)
            if model.sha256 and sha != model.sha256:
                raise Failed(
                    f"model {model.id}'s file {model.file_name} changed since it was trained"
                    " (sha256 differs): not deployed"
                )
            target = await self._load(path)
            await asyncio.to_thread(install_current, self.settings, path, model.data_hash)

            def go_live(session: Session) -> NluModel:
                now = self.clock()
                if self.rasa.standby_url:  # blue/green: customers move to the new server
                    rasa_serving.switch(
                        session, url=target, model_file=path.name, actor_name=actor, now=now
                    )
                return nlu_registry.set_status(
                    session,
                    model.id,
                    NluModelStatus.LIVE,
                    actor_name=actor,
                    now=now,
                    reason=reason,
                    override_reason=override,
                )

            live = await in_thread(self.factory, go_live)
            if self.on_switch is not None:
                self.on_switch(target)  # this process's gateway moves at once (others poll)
            return live
        finally:
            lock.release()

    async def _load(self, path: Path) -> str:
        """Load the model where customers are not: every worker of the standby pool of a
        blue/green pair, all at once (customers keep being answered by the serving pool
        meanwhile; a worker that already runs this model, e.g. the previous one on a rollback,
        is left as it is), or, without a standby, the workers there are, one after the other
        (each answers nothing while it loads, ~15 s). The pool's name (its first URL)."""
        if not self.rasa.standby_url:
            for worker in self.rasa.workers(self.rasa.url):
                await load_model(worker, path)
            return self.rasa.url
        serving = await in_thread(self.factory, rasa_serving.serving_url)
        target = self.rasa.other(serving)
        await asyncio.gather(*(_load_once(w, path) for w in self.rasa.workers(target)))
        return target


async def _load_once(worker: RasaServer, path: Path) -> None:
    """Load the model into the worker unless it runs it already."""
    if await loaded_model(worker) != path.name:
        await load_model(worker, path)
