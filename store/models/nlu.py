"""The operators' retraining loop: the NLU inbox, the model registry, training jobs, and which
Rasa server answers customers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.base import Base, check_in, partial_unique, values


class NluInboxReason(StrEnum):
    """Why a customer message landed in the inbox: its best intent scored below
    conf/nlu.yml inbox.confidence_below, NLU fell back, it preceded a handoff, or an agent
    flagged the bot's reply to it as wrong."""

    LOW_CONFIDENCE = "low_confidence"
    FALLBACK = "fallback"
    HANDOFF = "handoff"
    FLAGGED = "flagged"


class NluInboxStatus(StrEnum):
    OPEN = "open"
    LABELLED = "labelled"
    OUT_OF_SCOPE = "out_of_scope"
    IGNORED = "ignored"
    NEW_INTENT = "new_intent"


class NluModelStatus(StrEnum):
    TRAINING = "training"
    CANDIDATE = "candidate"
    REFUSED = "refused"
    LIVE = "live"
    RETIRED = "retired"
    FAILED = "failed"


class NluModelAction(StrEnum):
    """nlu_model_events.action: what happened to a registry model (deploy, rollback, refusal by
    the regression guard, an operator's override, ...)."""

    TRAIN = "train"
    CANDIDATE = "candidate"
    REFUSE = "refuse"
    OVERRIDE = "override"
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    RETIRE = "retire"
    FAIL = "fail"
    DELETE = "delete"
    NOTE = "note"


class NluJobKind(StrEnum):
    TRAIN = "train"
    CROSS_VALIDATION = "cross_validation"


class NluJobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


NLU_INBOX_REASONS = values(NluInboxReason)
NLU_INBOX_STATUSES = values(NluInboxStatus)
NLU_MODEL_STATUSES = values(NluModelStatus)
NLU_MODEL_ACTIONS = values(NluModelAction)
NLU_JOB_KINDS = values(NluJobKind)
NLU_JOB_STATUSES = values(NluJobStatus)
NLU_JOB_ACTIVE_STATUSES = (NluJobStatus.QUEUED.value, NluJobStatus.RUNNING.value)
NLU_JOB_END_STATUSES = tuple(s for s in NLU_JOB_STATUSES if s not in NLU_JOB_ACTIVE_STATUSES)
"""How a job ends: succeeded, failed or cancelled."""
NLU_JOB_ACTIVE_WHERE = check_in("status", NLU_JOB_ACTIVE_STATUSES)
"""The partial unique index's predicate: at most one job queued or running."""
NLU_INBOX_OPEN_WHERE = f"status = '{NluInboxStatus.OPEN}'"
"""The partial unique index's predicate: at most one open inbox item per group_key."""


class NluModel(Base):
    """One trained model in the registry: who trained it on what, how it scored, its fate."""

    __tablename__ = "nlu_models"
    __table_args__ = (
        CheckConstraint(check_in("status", NluModelStatus), name="status"),
        Index("ix_nlu_models_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255), unique=True)
    """The model file's name in the registry folder (models/registry/<file_name>)."""
    sha256: Mapped[str | None] = mapped_column(String(64))
    """Of the model file; None while training."""
    data_hash: Mapped[str] = mapped_column(String(64))
    """Fingerprint of the training inputs (data/, domain.yml, the config, the dictionary)."""
    config_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=NluModelStatus.TRAINING)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    created_by_name: Mapped[str] = mapped_column(String(64))
    """The console user's name, or the CLI's actor."""
    created_at: Mapped[datetime]
    train_seconds: Mapped[float | None]
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """{"macro_f1", "accuracy", "per_intent": {intent: {"precision", "recall", "f1",
    "support"}}} on the held-out set."""
    comparison: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The comparison with the live model of its time (the guard's input)."""
    guard_passed: Mapped[bool | None]
    guard_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by_name: Mapped[str | None] = mapped_column(String(64))
    deployed_at: Mapped[datetime | None]
    deployed_by_name: Mapped[str | None] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nlu_models.id", ondelete="SET NULL"))
    """The live model when this one was trained."""
    notes: Mapped[str | None] = mapped_column(Text)


class NluModelEvent(Base):
    """One entry of a registry model's history: deploy, rollback, refusal, override, ..."""

    __tablename__ = "nlu_model_events"
    __table_args__ = (CheckConstraint(check_in("action", NluModelAction), name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(
        ForeignKey("nlu_models.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    actor_name: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class NluTrainingJob(Base):
    """A background training (or cross-validation) with its visible progress.

    At most one job is queued or running at a time: the service refuses to start another, and
    a partial unique index on `status` (SQLite and PostgreSQL) stops two concurrent starts
    from both inserting a queued job.
    """

    __tablename__ = "nlu_training_jobs"
    __table_args__ = (
        CheckConstraint(check_in("kind", NluJobKind), name="kind"),
        CheckConstraint(check_in("status", NluJobStatus), name="status"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        partial_unique("uq_nlu_training_jobs_active", "status", NLU_JOB_ACTIVE_WHERE),
        Index("ix_nlu_training_jobs_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default=NluJobStatus.QUEUED)
    stage: Mapped[str] = mapped_column(String(64), default="")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    log_tail: Mapped[str] = mapped_column(Text, default="")
    """The last few KB of the job's output."""
    requested_by_name: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("nlu_models.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class NluInboxItem(Base):
    """A group of near-identical customer messages the bot may have misunderstood.

    At most one *open* item per `group_key` (a partial unique index): concurrent captures of
    the same text meet in one item.

    `reasons` is stored as a sorted comma-separated string of NLU_INBOX_REASONS and read as a
    tuple (`reasons`); `label_entities` is a list of {"entity", "value", "start", "end"} with
    offsets into `text`.
    """

    __tablename__ = "nlu_inbox_items"
    __table_args__ = (
        CheckConstraint(check_in("status", NluInboxStatus), name="status"),
        CheckConstraint("count >= 0", name="count"),
        Index("ix_nlu_inbox_items_status_last_seen_at", "status", "last_seen_at"),
        Index("ix_nlu_inbox_items_status_count", "status", "count"),
        partial_unique("uq_nlu_inbox_items_open_group_key", "group_key", NLU_INBOX_OPEN_WHERE),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_key: Mapped[str] = mapped_column(String(255), index=True)
    """The normalised text (nlu.inbox.group_key)."""
    text: Mapped[str] = mapped_column(String(1000))
    """A representative example (the first message of the group, cut to 1000 characters)."""
    count: Mapped[int] = mapped_column(Integer, default=0)
    predicted_intent: Mapped[str | None] = mapped_column(String(128))
    confidence: Mapped[float | None]
    """Of the latest hit."""
    reasons_text: Mapped[str] = mapped_column("reasons", String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default=NluInboxStatus.OPEN)
    label_intent: Mapped[str | None] = mapped_column(String(128))
    label_entities: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    labelled_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    labelled_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    """The flagging agent's note."""
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    trained_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("nlu_models.id", ondelete="SET NULL")
    )
    """The first registry model trained with this item's label."""

    hits: Mapped[list[NluInboxHit]] = relationship(
        back_populates="item", order_by="NluInboxHit.id", cascade="all, delete-orphan"
    )

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r for r in (self.reasons_text or "").split(",") if r)

    @reasons.setter
    def reasons(self, values: Iterable[str]) -> None:
        self.reasons_text = ",".join(sorted(set(values)))


class NluInboxHit(Base):
    """One customer message counted in an inbox item (a message counts once per item)."""

    __tablename__ = "nlu_inbox_hits"
    __table_args__ = (
        UniqueConstraint("item_id", "message_id"),
        CheckConstraint(check_in("reason", NluInboxReason), name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("nlu_inbox_items.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    conversation_id: Mapped[str | None] = mapped_column(String(255))
    """The `<channel>:<chat_id>` string."""
    reason: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float | None]
    predicted_intent: Mapped[str | None] = mapped_column(String(128))
    flagged_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]

    item: Mapped[NluInboxItem] = relationship(back_populates="hits")


class RasaServing(Base):
    """Which Rasa server answers customers, when a standby server is configured
    (RASA_STANDBY_URL): a deployment loads the new model into the server that is not serving,
    then points this row at it, and every gateway process follows the row. One row ('nlu')."""

    __tablename__ = "rasa_serving"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    url: Mapped[str] = mapped_column(String(255))
    model_file: Mapped[str | None] = mapped_column(String(255))
    switched_at: Mapped[datetime]
    switched_by: Mapped[str] = mapped_column(String(64))
