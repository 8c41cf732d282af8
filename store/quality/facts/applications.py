"""Facts of applications and of their stages.

An application's station time is the working days from its start to its final stage less the
working days it spent waiting on the customer (customer stages and side stages such as
need_more_docs), the rule store/services/applications.py applies to its deadline. Its on-time
judgement uses its own deadline (`due_at`, moved by those waits as the back office's clock rule
says). A stage is measured when conf/applications.yml gives it a limit of its own and it is
not a customer stage: from the event entering it to the next event.

An application's handler (经办人) is the member of staff who recorded its latest step (`handler`):
the clerk who moved it on last, approved or turned it down, sent it back, recorded its
withdrawal or its completion. Steps the assistant or the system recorded are nobody's; while
no member of staff has recorded a step, it has no handler. Its stages are its handler's too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from store.config import ApplicationType
from store.models import (
    Application,
    ApplicationEvent,
    ApplicationStage,
    QualityApplicationFacts,
    QualityStageFacts,
)
from store.quality.context import Conf
from store.quality.facts.staff import staff_ids
from store.quality.periods import local_day, working_days_elapsed
from store.sla import add_working_days
from store.stages import waits_on_customer

COMPLETED = "completed"
OPEN = "open"


def outcome(config: ApplicationType, app: Application) -> str:
    """open, completed, cancelled or rejected."""
    if app.stage == config.final_stage:
        return COMPLETED
    if app.stage in (ApplicationStage.CANCELLED, ApplicationStage.REJECTED):
        return str(app.stage)
    return OPEN


def _waited(conf: Conf, config: ApplicationType, events: Sequence[ApplicationEvent]) -> float:
    """Working days spent in stages that wait on the customer."""
    s = conf.settings
    total = 0.0
    for event, following in pairwise(events):
        if waits_on_customer(config, event.stage):
            total += working_days_elapsed(event.at, following.at, s.calendar, s.tz)
    return total


def handler(app: Application, staff: Mapping[str, int]) -> int | None:
    """The id of the staff user who recorded the application's latest step (`staff`: the ids
    of the staff users by username); None when no member of staff recorded one."""
    return next((staff[e.actor] for e in reversed(app.events) if e.actor in staff), None)


def measure_application(
    conf: Conf, app: Application, handler_id: int | None
) -> QualityApplicationFacts:
    s = conf.settings
    config = s.applications.types[app.type]
    result = outcome(config, app)
    station = None
    if result == COMPLETED and app.closed_at is not None:
        elapsed = working_days_elapsed(app.created_at, app.closed_at, s.calendar, s.tz)
        station = max(0.0, elapsed - _waited(conf, config, app.events))
    return QualityApplicationFacts(
        application_id=app.id,
        type=app.type,
        area_id=app.area_id,
        channel=app.channel,
        created_at=app.created_at,
        day=local_day(app.created_at, s.tz),
        outcome=result,
        closed_at=app.closed_at,
        closed_day=local_day(app.closed_at, s.tz) if app.closed_at else None,
        due_at=app.due_at,
        station_days=station,
        limit_days=s.commitments.application_working_days(
            app.type, voltage=app.voltage, category=app.category, dual_supply=app.dual_supply
        ),
        sent_back=any(e.stage == ApplicationStage.NEED_MORE_DOCS for e in app.events),
        handler_id=handler_id,
    )


def measure_stages(conf: Conf, app: Application, handler_id: int | None) -> list[QualityStageFacts]:
    s = conf.settings
    config = s.applications.types[app.type]
    events = list(app.events)
    rows = []
    for index, event in enumerate(events):
        spec = config.stage(event.stage)
        if spec is None or spec.working_days is None or spec.customer:
            continue
        left = events[index + 1].at if index + 1 < len(events) else None
        due = event.stage_due_at or add_working_days(event.at, spec.working_days, s.calendar, s.tz)
        rows.append(
            QualityStageFacts(
                event_id=event.id,
                application_id=app.id,
                type=app.type,
                stage=event.stage,
                area_id=app.area_id,
                channel=app.channel,
                entered_at=event.at,
                left_at=left,
                left_day=local_day(left, s.tz) if left else None,
                due_at=due,
                limit_days=spec.working_days,
                working_days=(
                    working_days_elapsed(event.at, left, s.calendar, s.tz) if left else None
                ),
                handler_id=handler_id,
            )
        )
    return rows


def refresh_applications(session: Session, conf: Conf, ids: Sequence[int]) -> int:
    """Measure these applications and their stages again; the number of facts written."""
    stmt = (
        select(Application).where(Application.id.in_(ids)).options(selectinload(Application.events))
    )
    apps = [a for a in session.scalars(stmt) if a.type in conf.settings.applications.types]
    session.execute(delete(QualityStageFacts).where(QualityStageFacts.application_id.in_(ids)))
    session.execute(
        delete(QualityApplicationFacts).where(QualityApplicationFacts.application_id.in_(ids))
    )
    staff = staff_ids(session, (e.actor for app in apps for e in app.events))
    rows: list[QualityApplicationFacts | QualityStageFacts] = []
    for app in apps:
        handler_id = handler(app, staff)
        rows.append(measure_application(conf, app, handler_id))
        rows.extend(measure_stages(conf, app, handler_id))
    session.add_all(rows)
    session.flush()
    for row in rows:
        session.expunge(row)
    return len(rows)
