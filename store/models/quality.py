"""Service quality (issue 18): the improvement plan's measures, the stored evaluation reports
and the console's jobs making them, and the per-item facts the figures are computed from.

The facts (`quality_*_facts`, `quality_conversation_days`) are a roll-up of the stores' own
events, one row per ticket, application stage, handoff or conversation-day, kept up to date by
store/quality/facts/refresh.py from the cursors in `quality_refresh_state`. They hold only what
the stores say, measured once (durations, deadlines, flags); whether an open item is late is
decided when the figures are computed. Deleting a source row deletes its facts (cascade).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, check_in

SCHEDULE = "schedule"
"""`quality_reports.generated_by` of the reports the running service makes at a period's end."""
_SCHEDULED = sql_text(f"generated_by = '{SCHEDULE}'")
REPORT_JOB_RUNNING_WHERE = "state = 'running'"
"""The predicate of the report jobs' partial unique indexes: they bind the running jobs only."""
_RUNNING = sql_text(REPORT_JOB_RUNNING_WHERE)
_STAYING = sql_text("left_at IS NULL")
"""The stage stays not ended yet: the few the figures judge against the clock (overdue)."""


class MeasureStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


class ReportKind(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"
    CUSTOM = "custom"


class ReportJobState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """Failed because its gateway stopped (restarted, or died: found stale)."""


class QualityMeasure(Base):
    """One measure of the improvement plan (the paper's 3.1): what is done, by whom, by when,
    and which figure it should move from its baseline to its target."""

    __tablename__ = "quality_measures"
    __table_args__ = (
        CheckConstraint(check_in("status", MeasureStatus), name="status"),
        Index("ix_quality_measures_status_due_date", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    figure_key: Mapped[str] = mapped_column(String(64))
    baseline: Mapped[float | None]
    target: Mapped[float | None]
    owner: Mapped[str] = mapped_column(String(64))
    """The responsible staff member's username."""
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=MeasureStatus.PLANNED)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class QualityReport(Base):
    """A generated evaluation report with its renderings; the scheduled one of a kind and
    period is unique, reports asked for on demand are kept beside it."""

    __tablename__ = "quality_reports"
    __table_args__ = (
        CheckConstraint(check_in("kind", ReportKind), name="kind"),
        Index(
            "uq_quality_reports_scheduled",
            "kind",
            "period_label",
            unique=True,
            sqlite_where=_SCHEDULED,
            postgresql_where=_SCHEDULED,
        ),
        Index("ix_quality_reports_period_label", "period_label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    period_label: Mapped[str] = mapped_column(String(32))
    generated_at: Mapped[datetime]
    generated_by: Mapped[str] = mapped_column(String(64))
    """SCHEDULE, or the username of who asked for it."""
    html: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    csv: Mapped[bytes | None] = mapped_column(LargeBinary)
    xlsx: Mapped[bytes | None] = mapped_column(LargeBinary)


class QualityReportJob(Base):
    """A report asked for on the console ("generate now"), made in the background by a gateway's
    child process: running, then done (with its report) or failed / interrupted (with one line
    saying why). In the database so every gateway replica sees it: one running job per kind and
    period, and at most as many running at once as there are slots (`slot`, 1..the limit of
    store/services/quality_report_jobs.py), both by partial unique indexes over the running
    rows."""

    __tablename__ = "quality_report_jobs"
    __table_args__ = (
        CheckConstraint(check_in("kind", ReportKind), name="kind"),
        CheckConstraint(check_in("state", ReportJobState), name="state"),
        CheckConstraint("slot >= 1", name="slot"),
        Index(
            "uq_quality_report_jobs_running_period",
            "kind",
            "period_label",
            unique=True,
            sqlite_where=_RUNNING,
            postgresql_where=_RUNNING,
        ),
        Index(
            "uq_quality_report_jobs_running_slot",
            "slot",
            unique=True,
            sqlite_where=_RUNNING,
            postgresql_where=_RUNNING,
        ),
        Index("ix_quality_report_jobs_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    period_label: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=ReportJobState.RUNNING)
    slot: Mapped[int] = mapped_column(SmallInteger)
    requested_by: Mapped[str] = mapped_column(String(64))
    """The manager's username."""
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("quality_reports.id", ondelete="SET NULL")
    )
    error: Mapped[str | None] = mapped_column(String(300))
    """Why it failed, in one line (personal data masked; never a traceback)."""


class QualityTicketFacts(Base):
    """A repair (fault, hazard) or a feedback case (complaint, suggestion, praise), measured:
    its first arrival and restoration, deadlines by the commitments of its area kind, callback,
    repeat, contact and reply. `day`/`hour` are the station's local date and hour it came in."""

    __tablename__ = "quality_ticket_facts"
    __table_args__ = (
        Index("ix_quality_ticket_facts_kind_day", "kind", "day"),
        Index("ix_quality_ticket_facts_crew_id_day", "crew_id", "day"),
    )

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    """repair, complaint, suggestion or praise."""
    created_at: Mapped[datetime]
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    area_id: Mapped[int | None]
    area_kind: Mapped[str] = mapped_column(String(16))
    crew_id: Mapped[int | None]
    channel: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    merged: Mapped[bool]
    """Folded into a known outage: the outage is counted, not the report."""
    excluded: Mapped[bool]
    """Cancelled, or found on the customer's side before a crew arrived: no arrival to judge."""
    arrived_at: Mapped[datetime | None]
    arrival_due: Mapped[datetime | None]
    arrival_minutes: Mapped[float | None]
    commit_minutes: Mapped[float | None]
    restored_at: Mapped[datetime | None]
    restore_due: Mapped[datetime | None]
    restoration_hours: Mapped[float | None]
    commit_hours: Mapped[float | None]
    callback_done: Mapped[bool]
    repeat: Mapped[bool]
    """A repeat fault (same place) or a repeat complaint (same customer) within the window."""
    contacted_at: Mapped[datetime | None]
    contact_due: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    reply_due: Mapped[datetime | None]
    escalated: Mapped[bool]
    handler_id: Mapped[int | None]
    """The staff user working a feedback case (`tickets.handler`, the back office's assignment);
    None until one is assigned, and for repairs (their crew is theirs)."""


class QualityApplicationFacts(Base):
    """An application, measured end to end: the station's working days (time waiting on the
    customer not counted), its committed total, whether it was ever sent back for documents."""

    __tablename__ = "quality_application_facts"
    __table_args__ = (
        Index("ix_quality_application_facts_closed_day", "closed_day"),
        Index("ix_quality_application_facts_day", "day"),
        # the open ones past their due date, as of the clock (applications.on_time_rate)
        Index("ix_quality_application_facts_outcome_due_at", "outcome", "due_at"),
    )

    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    type: Mapped[str] = mapped_column(String(24))
    area_id: Mapped[int | None]
    channel: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    day: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(16))
    """open, completed, cancelled or rejected."""
    closed_at: Mapped[datetime | None]
    closed_day: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime]
    station_days: Mapped[float | None]
    limit_days: Mapped[int]
    sent_back: Mapped[bool]
    handler_id: Mapped[int | None]
    """The staff user who recorded its latest step (store/quality/facts/applications.py
    `handler`); None while no member of staff has recorded one."""


class QualityStageFacts(Base):
    """One stay of an application in a stage the station works against a limit of its own."""

    __tablename__ = "quality_stage_facts"
    __table_args__ = (
        Index("ix_quality_stage_facts_left_day", "left_day"),
        Index(
            "ix_quality_stage_facts_open_due_at",
            "due_at",
            sqlite_where=_STAYING,
            postgresql_where=_STAYING,
        ),
    )

    event_id: Mapped[int] = mapped_column(
        ForeignKey("application_events.id", ondelete="CASCADE"), primary_key=True
    )
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(24))
    stage: Mapped[str] = mapped_column(String(32))
    area_id: Mapped[int | None]
    channel: Mapped[str | None] = mapped_column(String(32))
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    left_day: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime]
    limit_days: Mapped[int]
    working_days: Mapped[float | None]
    handler_id: Mapped[int | None]
    """The application's handler (QualityApplicationFacts.handler_id): a team filter keeps the
    stages of the applications its people handled."""


class QualityHandoffFacts(Base):
    """A handoff, measured: queue wait, the agent's first response and resolution in business
    hours, how it ended, its rating."""

    __tablename__ = "quality_handoff_facts"
    __table_args__ = (
        Index("ix_quality_handoff_facts_day", "day"),
        Index("ix_quality_handoff_facts_agent_id_day", "agent_id", "day"),
    )

    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), primary_key=True
    )
    conversation_pk: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    queued_at: Mapped[datetime]
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    agent_id: Mapped[int | None]
    """The agent who had it last."""
    end_state: Mapped[str] = mapped_column(String(16))
    assigned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    wait_minutes: Mapped[float | None]
    first_response_minutes: Mapped[float | None]
    resolution_minutes: Mapped[float | None]
    rating: Mapped[int | None] = mapped_column(SmallInteger)


class QualityConversationDay(Base):
    """A conversation's day (会话): its customer messages on one local date, the fallbacks among
    them, the '系统繁忙' notices it got and the handoffs it started."""

    __tablename__ = "quality_conversation_days"
    __table_args__ = (Index("ix_quality_conversation_days_day", "day"),)

    conversation_pk: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    first_at: Mapped[datetime]
    hour: Mapped[int] = mapped_column(SmallInteger)
    customer_messages: Mapped[int]
    fallback_messages: Mapped[int]
    busy_replies: Mapped[int]
    handoffs: Mapped[int]


class QualityRefreshState(Base):
    """How far the facts have read each source (its last id), and the fingerprint of the
    configuration they were measured with (a change measures everything again)."""

    __tablename__ = "quality_refresh_state"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int]
    fingerprint: Mapped[str] = mapped_column(String(64))
    refreshed_at: Mapped[datetime]


__all__ = [
    "REPORT_JOB_RUNNING_WHERE",
    "SCHEDULE",
    "MeasureStatus",
    "QualityApplicationFacts",
    "QualityConversationDay",
    "QualityHandoffFacts",
    "QualityMeasure",
    "QualityRefreshState",
    "QualityReport",
    "QualityReportJob",
    "QualityStageFacts",
    "QualityTicketFacts",
    "ReportJobState",
    "ReportKind",
]
