"""The history's applications (业扩报装 / 变更用电), each stage as the back office records it
(store/services/applications.py, case_applications.py): received, approved or sent back for
documents (the customer's wait does not count against the limit), the stages of its type and
voltage in the configured order (store/stages.py checks every move), completed; a few
withdrawn or rejected. Each stage's time scatters within its limit, except metering
installation of new connections, which often overruns.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

from store.config import ApplicationType
from store.configuration.back_office import SendBackClock, read_back_office
from store.demodata.history.chat import Chats
from store.demodata.history.context import AccountRef, AreaRef, Ctx
from store.demodata.history.drafts import Origin
from store.demodata.history.patterns import OVERRUN
from store.demodata.history.scripts import application_chat, origin
from store.demodata.history.sink import table_of
from store.ids import APPLICATION_PREFIX
from store.models import Application, ApplicationEvent, Voltage
from store.sla import add_working_days, working_days_between
from store.stages import CANCELLED, allowed_stages, waits_on_customer

APPLICATIONS: Final = table_of(Application)
EVENTS: Final = table_of(ApplicationEvent)
PER_DAY: Final = 1.0
#: (type, voltage, weight)
MIX: Final = (
    ("new_connection", "low", 40), ("new_connection", "high", 4), ("capacity_change", "low", 12),
    ("capacity_change", "high", 3), ("name_transfer", "low", 21), ("other_change", "low", 20),
)  # fmt: skip
INTENTS: Final = {
    "new_connection": "apply_new_connection", "capacity_change": "apply_capacity_change",
    "name_transfer": "apply_name_transfer", "other_change": "apply_other_change",
}  # fmt: skip
CLERK: Final = "clerk"
NEED_MORE_DOCS: Final = "need_more_docs"
REVIEWED: Final = ("received", "reviewing")
"""The stages where the back office approves or rejects an application."""


class AppDraft:
    """One application walking its stages (`applications.advance`'s bookkeeping)."""

    def __init__(self, ctx: Ctx, config: ApplicationType, row: dict[str, Any]) -> None:
        self.ctx, self.config, self.row = ctx, config, row
        self.events: list[dict[str, Any]] = []
        self.history: list[str] = []

    @property
    def at(self) -> datetime:
        moment: datetime = self.events[-1]["at"]
        return moment

    def _stage_due(self, stage: str, at: datetime) -> datetime | None:
        spec = self.config.stage(stage)
        if stage == CANCELLED or spec is None or spec.working_days is None:
            return None
        return add_working_days(at, spec.working_days, self.ctx.settings.calendar, self.ctx.tz)

    def enter(self, stage: str, at: datetime, actor: str, note: str | None = None) -> None:
        ctx, row = self.ctx, self.row
        if self.history:
            allowed = allowed_stages(self.config, row["voltage"], row["stage"], self.history)
            if stage not in allowed and stage != "rejected":
                raise AssertionError(f"{row['type']}: {row['stage']} → {stage} not in {allowed}")
            at = max(at, self.at)
            if waits_on_customer(self.config, row["stage"]):
                paused = working_days_between(self.at, at, ctx.settings.calendar, ctx.tz)
                row["due_at"] = add_working_days(
                    row["due_at"], paused, ctx.settings.calendar, ctx.tz
                )
        row["stage"] = stage
        if stage in (CANCELLED, "rejected", self.config.final_stage):
            row["closed_at"] = at
        self.history.append(stage)
        due = None if stage == "rejected" else self._stage_due(stage, at)
        self.events.append({
            "id": 0, "application_id": row["id"], "stage": stage, "at": at, "actor": actor,
            "note": note, "stage_due_at": due,
        })  # fmt: skip

    def emit(self) -> bool:
        closed = self.row["closed_at"]
        if closed is None or not self.ctx.finished(closed):
            return False
        sink = self.ctx.sink
        sink.add(APPLICATIONS, self.row)
        for event in self.events:
            sink.add(EVENTS, {**event, "id": sink.new_id(EVENTS)})
        sink.checkpoint()
        return True


class Applications:
    def __init__(self, ctx: Ctx, chats: Chats) -> None:
        self.ctx, self.chats = ctx, chats
        self.clock = read_back_office(ctx.settings.conf_dir).send_back_clock
        self.names = {
            d.code: d.zh for t in ctx.settings.applications.types.values() for d in t.documents
        }

    def _leave(self, draft: AppDraft, stage: str) -> datetime:
        """When the application leaves `stage` (entered at draft.at)."""
        ctx, config = self.ctx, draft.config
        spec = config.stage(stage)
        if stage == NEED_MORE_DOCS or waits_on_customer(config, stage):
            return ctx.office_time(draft.at, gap_hours=24 * ctx.rng.uniform(1, 20))
        if spec is None or spec.working_days is None:
            return ctx.office_time(draft.at, gap_hours=ctx.rng.uniform(2, 40))
        due = add_working_days(draft.at, spec.working_days, ctx.settings.calendar, ctx.tz)
        overrun = ((config.code, stage) == OVERRUN and ctx.chance(0.48)) or ctx.chance(0.06)
        if overrun:
            later = add_working_days(due, ctx.rng.randint(1, 4), ctx.settings.calendar, ctx.tz)
            return ctx.office_time(ctx.at(later.astimezone(ctx.tz).date(), 0))
        within = ctx.office_time(draft.at + (due - draft.at) * ctx.rng.uniform(0.1, 0.7))
        return min(within, due - timedelta(minutes=ctx.rng.uniform(5, 90)))

    def _path(self, config: ApplicationType, voltage: str) -> list[str]:
        stages = [
            s.code for s in config.stages_for(voltage) if not s.optional or self.ctx.chance(0.6)
        ]
        return stages[1:]

    def _send_back(self, draft: AppDraft) -> None:
        """Back to the customer for a missing document, then on again once it is in."""
        ctx, row = self.ctx, draft.row
        required = [d.code for d in draft.config.documents_for(row["voltage"])]
        missing = [ctx.pick(required)]
        row["documents_received"] = [c for c in required if c not in missing]
        names = "、".join(self.names.get(c, c) for c in missing)
        draft.enter(NEED_MORE_DOCS, self._leave(draft, row["stage"]), CLERK, f"需补充：{names}")
        origin_stage = draft.history[-2]
        back = self._leave(draft, NEED_MORE_DOCS)
        row["documents_received"] = required
        draft.enter(origin_stage, back, CLERK, f"收到资料：{names}")
        if self.clock == SendBackClock.RESTARTED:
            days = self._total_days(row)
            row["due_at"] = add_working_days(back, days, ctx.settings.calendar, ctx.tz)

    def _total_days(self, row: dict[str, Any]) -> int:
        return self.ctx.settings.commitments.application_working_days(
            row["type"],
            voltage=row["voltage"],
            category=row["category"],
            dual_supply=row["dual_supply"],
        )

    def _walk(self, draft: AppDraft) -> None:
        """Through the configured stages; a few end early (withdrawn or rejected)."""
        ctx, config, row = self.ctx, draft.config, draft.row
        sent_back = ctx.chance(0.18)
        for stage in self._path(config, row["voltage"]):
            current = row["stage"]
            if sent_back and current in config.side_stages.get(NEED_MORE_DOCS, ()):
                self._send_back(draft)
                sent_back = False
            if self._ended(draft, current):
                return
            self._rectify(draft, current)
            note = None
            if current in REVIEWED and row["decision"] is None:
                row.update(decision="approved", decision_reason="资料齐全", decided_by=CLERK)
                note = "审核通过：资料齐全"
            draft.enter(stage, self._leave(draft, current), CLERK, note)
            if note:
                row["decided_at"] = draft.at

    def _ended(self, draft: AppDraft, current: str) -> bool:
        """Withdrawn by the customer, or turned down at the review (`case_applications`)."""
        ctx, row = self.ctx, draft.row
        if ctx.chance(0.012):
            draft.enter(CANCELLED, self._leave(draft, current), CLERK, "客户撤回申请")
            return True
        if current in REVIEWED and ctx.chance(0.015):
            reason = "原户电费未结清"
            row.update(decision="rejected", decision_reason=reason, decided_by=CLERK)
            draft.enter("rejected", self._leave(draft, current), CLERK, reason)
            row["decided_at"] = draft.at
            return True
        return False

    def _rectify(self, draft: AppDraft, current: str) -> None:
        """An inspection failed: the customer puts it right, the stage is done again."""
        side = "rectification_required"
        if current not in draft.config.side_stages.get(side, ()) or not self.ctx.chance(0.25):
            return
        draft.enter(side, self._leave(draft, current), CLERK, "接地电阻不合格，请整改")
        draft.enter(current, self._leave(draft, side), CLERK, "整改完成")

    def application(self, created: datetime, app_type: str, voltage: str) -> None:
        ctx = self.ctx
        config = ctx.settings.applications.types[app_type]
        area = ctx.pick(ctx.station.areas)
        account = None if app_type == "new_connection" else ctx.customer(area)
        how, chat = origin(ctx, self.chats, online=0.4, desk_actor=CLERK)
        if how.channel == "95598":  # applications are made online or at the counter
            how = Origin("hall", None, CLERK)
        row = self._row(config, created, voltage, area, account, how.channel, how.sender_id)
        draft = AppDraft(ctx, config, row)
        draft.enter("received", created, how.actor)
        self._walk(draft)
        if draft.emit() and chat is not None:
            days = self._total_days(row)
            number = row["application_no"]
            answer = f"已受理您的{config.name_zh}申请，单号{number}，办理时限{days}个工作日。"
            application_chat(ctx, self.chats, chat, created, INTENTS[app_type], answer)

    def _row(
        self, config: ApplicationType, created: datetime, voltage: str, area: AreaRef,
        account: AccountRef | None, channel: str | None, sender: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        ctx = self.ctx
        high = voltage == Voltage.HIGH
        business = (
            ctx.pick(ctx.settings.applications.business_types).code
            if config.code == "other_change"
            else None
        )
        name, phone = (account.holder_name, account.phone) if account else ctx.person()
        row: dict[str, Any] = {
            "id": ctx.sink.new_id(APPLICATIONS),
            "application_no": ctx.numbers.next(APPLICATION_PREFIX, ctx.local_day(created)),
            "type": config.code, "business_type": business, "voltage": voltage,
            "dual_supply": high and ctx.chance(0.2),
            "category": "non_residential" if high else "residential", "stage": "received",
            "account_id": account.id if account else None,
            "applicant_name": name, "contact_phone": phone,
            "address": account.address if account else f"{area.name}（新建）", "area_id": area.id,
            "sender_id": sender, "channel": channel, "documents_received": [],
            "due_at": created, "created_at": created, "closed_at": None,
            "documents_requested": None, "decision": None, "decision_reason": None,
            "decided_by": None, "decided_at": None,
        }  # fmt: skip
        row["due_at"] = add_working_days(
            created, self._total_days(row), ctx.settings.calendar, ctx.tz
        )
        return row

    def day(self, day: date) -> None:
        ctx = self.ctx
        working = ctx.working_day(day)
        mean = PER_DAY * ctx.scale.tickets * (1.0 if working else 0.25)
        for _ in range(ctx.count(mean)):
            app_type, voltage, _ = ctx.rng.choices(MIX, [w for *_, w in MIX])[0]
            created = ctx.office_time(ctx.at(day, 0)) if working else ctx.customer_time(day)
            self.application(created, app_type, voltage)
