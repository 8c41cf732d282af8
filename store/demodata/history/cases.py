"""The history's complaints, suggestions, praise, violation reports and other work orders, as
the case desk works them (store/services/case_feedback.py): assigned to the clerk, the
customer contacted (within 24 h, mostly), answered (within 5 working days, mostly), closed
with the customer's verdict. A customer who complains again while the first is open gets it
escalated (some mention the 12398 regulator hotline); some complain again within weeks.
Complaints rise after the storm (slow repairs) and in the dip (nobody answering the chat).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

from store.demodata.history import texts
from store.demodata.history.chat import Chats
from store.demodata.history.context import AccountRef, Ctx
from store.demodata.history.drafts import ASSISTANT, Origin, TicketDraft
from store.demodata.history.scripts import case_chat, origin
from store.sla import add_working_days

COMPLAINTS_PER_DAY: Final = 0.28
SUGGESTIONS_PER_DAY: Final = 0.1
PRAISE_PER_DAY: Final = 0.13
VIOLATIONS_PER_DAY: Final = 0.03
OTHERS_PER_DAY: Final = 0.1
CATEGORY_WEIGHTS: Final = {
    "抢修时效": 3,
    "服务态度": 2,
    "停电通知": 2,
    "电费争议": 3,
    "业务办理": 2,
    "在线客服": 1,
}
CLERK: Final = "clerk"
HANDLER_NOTE: Final = "处理人：营业员小周（clerk）"
ONLINE: Final = 0.35


class Cases:
    def __init__(self, ctx: Ctx, chats: Chats) -> None:
        self.ctx, self.chats = ctx, chats
        self.reply_days = ctx.settings.commitments.complaint_reply_working_days

    def _reply_time(self, created: datetime, late: bool) -> datetime:
        """Within the reply commitment (working days), or (late) a few days beyond it."""
        ctx = self.ctx
        first, last = (
            (self.reply_days + 1, self.reply_days + 4) if late else (1, self.reply_days - 1)
        )
        day = add_working_days(created, ctx.rng.randint(first, last), ctx.settings.calendar, ctx.tz)
        return ctx.office_time(ctx.at(day.astimezone(ctx.tz).date(), 0))

    def _worked(
        self, draft: TicketDraft, category: str, *, struggling: bool, escalate: bool
    ) -> None:
        """A complaint from received to closed (`case_feedback`'s steps)."""
        ctx, created = self.ctx, draft.row["created_at"]
        self._contact(draft, late=ctx.chance(0.25 if struggling else 0.07))
        if escalate:  # the customer complained again meanwhile: the assistant escalated it
            again = draft.last_at + timedelta(hours=ctx.rng.uniform(12, 60))
            draft.step("escalated", again, "assistant", ctx.pick(texts.ESCALATIONS))
        late = ctx.chance(0.3 if struggling or escalate else 0.1)
        replied = max(self._reply_time(created, late), draft.last_at + timedelta(hours=1))
        draft.step("investigating", replied - timedelta(minutes=ctx.rng.uniform(5, 30)), CLERK)
        answer = texts.REPLIES[category]
        draft.step("replied", replied, CLERK, answer)
        draft.row.update(replied_at=draft.last_at, reply=answer)
        if ctx.chance(0.4):
            draft.step("callback", ctx.office_time(replied, gap_hours=20), CLERK)
        unhappy = ctx.chance(0.35 if late or escalate else 0.12)
        draft.row["verdict"] = "unsatisfied" if unhappy else "satisfied"
        closed = ctx.office_time(draft.last_at, gap_hours=ctx.rng.uniform(1, 30))
        draft.step("closed", closed, CLERK, "客户不满意" if unhappy else "客户满意")

    def _contact(self, draft: TicketDraft, *, late: bool) -> None:
        """Assigned to the clerk, who phones the customer (late: after the 24 hours)."""
        ctx, created = self.ctx, draft.row["created_at"]
        assigned = ctx.office_time(created, gap_hours=ctx.rng.uniform(0.1, 2))
        draft.step("assigned", assigned, CLERK, HANDLER_NOTE)
        draft.row["handler"] = CLERK
        hours = ctx.rng.uniform(26, 60) if late else ctx.spread(5, 0.6)
        contact = max(created + timedelta(hours=hours), assigned + timedelta(minutes=10))
        draft.step("contacted", contact, CLERK, ctx.pick(texts.CONTACT_NOTES))
        draft.row["contacted_at"] = draft.last_at

    def complaint(
        self,
        created: datetime,
        day: date,
        *,
        account: AccountRef | None = None,
        storm: bool = False,
    ) -> None:
        ctx = self.ctx
        struggling = ctx.patterns.in_dip(day) or storm
        weights = dict(CATEGORY_WEIGHTS)
        if ctx.patterns.in_dip(day):
            weights["在线客服"] = 7
        category = (
            "抢修时效" if storm else ctx.rng.choices(list(weights), list(weights.values()))[0]
        )
        words = ctx.pick(texts.STORM_COMPLAINTS if storm else texts.COMPLAINTS[category])
        area = ctx.pick(ctx.station.areas)
        account = account or ctx.customer(area)
        how, chat = origin(ctx, self.chats, online=ONLINE, desk_actor=CLERK)
        draft = TicketDraft(
            ctx, type="complaint", created=created, description=words, origin=how,
            area=area, account=account,
        )  # fmt: skip
        self._worked(draft, category, struggling=struggling, escalate=ctx.chance(0.09))
        if not draft.emit():
            return
        if chat is not None:
            answer = f"已登记您的投诉，单号{draft.number}，工作人员会在24小时内联系您。"
            hand_over = ctx.agents_on_duty(created) and ctx.chance(0.4)
            case_chat(ctx, self.chats, chat, draft, "file_complaint", answer, hand_over=hand_over)
        again = draft.last_at + timedelta(days=ctx.rng.uniform(3, 25))
        if account is not None and ctx.chance(0.07) and ctx.finished(again + timedelta(days=12)):
            self.complaint(again, again.astimezone(ctx.tz).date(), account=account)

    def feedback(self, type: str, created: datetime) -> None:
        """A suggestion, praise or an (anonymous) violation report."""
        ctx = self.ctx
        catalogue = {"suggestion": texts.SUGGESTIONS, "praise": texts.PRAISE}.get(type)
        words = (
            ctx.pick(ctx.pick(list(catalogue.values())))
            if catalogue
            else ctx.pick(texts.VIOLATIONS)
        )
        area = ctx.pick(ctx.station.areas)
        anonymous = type == "violation"
        account = None if anonymous else ctx.customer(area)
        how, chat = origin(ctx, self.chats, online=0.0 if anonymous else ONLINE, desk_actor=CLERK)
        if anonymous:  # nothing that could name the reporter, the channel included
            how = Origin(None, None, ASSISTANT)
        draft = TicketDraft(
            ctx, type=type, created=created, description=words, origin=how, area=area,
            account=account, anonymous=anonymous,
        )  # fmt: skip
        self._handled(draft, anonymous=anonymous)
        if draft.emit() and chat is not None:
            intent = "give_suggestion" if type == "suggestion" else "give_praise"
            answer = f"感谢您的反馈，已记录（单号{draft.number}）。"
            case_chat(ctx, self.chats, chat, draft, intent, answer)

    def _handled(self, draft: TicketDraft, *, anonymous: bool) -> None:
        """A suggestion, praise or report worked: processing, the customer contacted and
        answered (notes: the simple machine has no such statuses), closed."""
        ctx, created = self.ctx, draft.row["created_at"]
        start = ctx.office_time(created, gap_hours=ctx.rng.uniform(0.2, 8))
        draft.step("processing", start, CLERK, HANDLER_NOTE)
        draft.row["handler"] = CLERK
        if not anonymous and ctx.chance(0.6):
            note = f"联系客户：{ctx.pick(texts.CONTACT_NOTES)}"
            draft.note(ctx.office_time(start, gap_hours=2), CLERK, note)
            draft.row["contacted_at"] = draft.last_at
        answer = ctx.pick(texts.VIOLATION_RESULTS if anonymous else texts.CASE_REPLIES)
        days = ctx.settings.commitments.ticket_reply_working_days(draft.type) or 5
        day = add_working_days(created, ctx.rng.randint(1, days), ctx.settings.calendar, ctx.tz)
        draft.note(max(ctx.office_time(day), draft.last_at), CLERK, f"答复：{answer}")
        draft.row.update(replied_at=draft.last_at, reply=answer)
        draft.row["verdict"] = None if anonymous or ctx.chance(0.5) else "satisfied"
        draft.step("closed", ctx.office_time(draft.last_at, gap_hours=1), CLERK)

    def other(self, created: datetime) -> None:
        """A meter test, a bill check or a reconnection: received, processing, closed."""
        ctx = self.ctx
        type, words, result = ctx.pick(texts.SIMPLE)
        area = ctx.pick(ctx.station.areas)
        how, _ = origin(ctx, self.chats, online=0.0, desk_actor=CLERK)
        draft = TicketDraft(
            ctx, type=type, created=created, description=words, origin=how, area=area,
            account=ctx.customer(area),
        )  # fmt: skip
        hours = ctx.rng.uniform(1, 8) if type == "reconnect" else ctx.rng.uniform(4, 60)
        draft.step("processing", ctx.office_time(created, gap_hours=0.2), CLERK)
        done = draft.last_at + timedelta(hours=hours)
        draft.step("closed", done if type == "reconnect" else ctx.office_time(done), CLERK, result)
        draft.emit()

    def day(self, day: date) -> None:
        ctx = self.ctx
        scale = ctx.scale.tickets
        dip = 1.8 if ctx.patterns.in_dip(day) else 1.0
        for _ in range(ctx.count(COMPLAINTS_PER_DAY * dip * scale)):
            self.complaint(ctx.customer_time(day), day)
        if ctx.patterns.after_storm(day) or ctx.patterns.storm_day(day):
            for _ in range(ctx.count(1.6 * scale)):
                self.complaint(ctx.customer_time(day), day, storm=True)
        for type, rate in (
            ("suggestion", SUGGESTIONS_PER_DAY),
            ("praise", PRAISE_PER_DAY),
            ("violation", VIOLATIONS_PER_DAY),
        ):
            for _ in range(ctx.count(rate * scale)):
                self.feedback(type, ctx.customer_time(day))
        for _ in range(ctx.count(OTHERS_PER_DAY * scale)):
            self.other(ctx.customer_time(day))
