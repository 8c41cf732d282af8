"""The history's repairs: faults and hazards with every step as the dispatch desk records them.

A fault is received (by the assistant in a chat, or typed in from the phone line or the
counter), dispatched to a crew covering its village (派给 …), accepted, on site, repairing (the
cause found), restored, and called back (回访: an answer closes it; no answer leaves it
awaiting the callback). Arrival scatters around the area kind's commitment: well within it
for most crews, beyond it for the slow crew, far beyond it during the storm. Reports made
while a known outage is on are merged into it (by the assistant at once, or by the dispatcher
later; a few of those are split out again: their own fault after all, 重新派单) and restored
with it. Some customers report the same address again within weeks (repeat faults).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Final

from store.demodata.history import texts
from store.demodata.history.chat import Chats
from store.demodata.history.context import AccountRef, AreaRef, CrewRef, Ctx
from store.demodata.history.drafts import TicketDraft
from store.demodata.history.outages import OutageIndex, OutagePlan
from store.demodata.history.patterns import SLOW_CREW
from store.demodata.history.scripts import fault_chat, origin

FAULTS_PER_DAY: Final = 2.4
"""The township's usual faults a day (times the month's weather, below)."""
STORM_FAULTS_PER_DAY: Final = 22.0
HAZARDS_PER_DAY: Final = 0.12
SEASON: Final = (1.2, 1.15, 0.85, 0.8, 0.9, 1.25, 1.45, 1.4, 1.0, 0.85, 0.9, 1.15)
#: how each crew's arrival compares with the commitment (the median share of it)
PACE: Final = {
    "抢修一班": 0.55,
    "抢修二班": 0.62,
    "东片抢修组": 0.58,
    SLOW_CREW: 1.3,
    "山区抢修组": 0.62,
}
CALLBACK_RESULTS: Final = ("satisfied", "basically_satisfied", "dissatisfied")
DISPATCHER: Final = "dispatch"
ONLINE: Final = 0.45
"""The share of faults reported in a chat (the township's)."""
KNOWN_CALLER: Final = 0.25
"""The share of faults reported by a customer the station knows (an account); the others
give an address. (The demo has 306 customers: more would make every one of them a repeat.)"""


class Repairs:
    def __init__(self, ctx: Ctx, chats: Chats, outages: list[OutagePlan]) -> None:
        self.ctx, self.chats, self.outages = ctx, chats, OutageIndex(outages)
        labels = ctx.texts
        self.callback_label = {
            r: labels.get(f"callback:{r}", r) for r in (*CALLBACK_RESULTS, "unreachable")
        }
        areas = ctx.station.areas
        self.area_weights = list(
            accumulate(len(ctx.station.accounts.get(a.id, ())) + 5 for a in areas)
        )

    # --- one fault ----------------------------------------------------------------------
    def _crew(self, area: AreaRef) -> CrewRef | None:
        crews = self.ctx.station.crews.get(area.id)
        return self.ctx.pick(crews) if crews else None

    def _arrival(
        self, area: AreaRef, crew: CrewRef | None, created: datetime, storm: bool
    ) -> float:
        """Minutes from the report to the crew on site."""
        ctx = self.ctx
        commitment = ctx.settings.commitments.arrival_minutes(area.kind)
        pace = PACE.get(crew.name if crew else "", 0.65)
        minutes = commitment * ctx.spread(pace, 0.33)
        hour = created.astimezone(ctx.tz).hour
        if hour >= 22 or hour < 6:
            minutes *= 1.15
        return max(12.0, minutes * (2.4 if storm else 1.0))

    def _callback(self, draft: TicketDraft, restored: datetime, late: bool) -> None:
        """The follow-up call: an answer closes the ticket; some are never called back."""
        ctx = self.ctx
        roll = ctx.rng.random()
        called = ctx.office_time(restored, gap_hours=2)
        if roll < 0.14:  # closed without a callback
            draft.step("closed", ctx.office_time(restored, gap_hours=1), DISPATCHER)
            return
        if roll < 0.26 and draft.status == "restored":  # nobody answered the first call
            draft.step(
                "awaiting_callback",
                called,
                DISPATCHER,
                f"回访：{self.callback_label['unreachable']}",
            )
            called = ctx.office_time(called, gap_hours=18)
        weights = (0.55, 0.3, 0.15) if late else (0.74, 0.21, 0.05)
        result = ctx.rng.choices(CALLBACK_RESULTS, weights)[0]
        draft.row["callback_result"] = result
        draft.step("closed", called, DISPATCHER, f"回访：{self.callback_label[result]}")

    def _assign(self, draft: TicketDraft, crew: CrewRef | None, at: datetime) -> None:
        draft.row["crew_id"] = crew.id if crew else None
        draft.step("dispatched", at, DISPATCHER, f"派给 {crew.name}" if crew else None)

    def _repair(self, draft: TicketDraft, area: AreaRef, kind: str, storm: bool) -> None:
        """From received (or split out of an outage) to closed."""
        crew = self._crew(area)
        if self._to_site(draft, area, crew, storm):
            self._on_site(draft, area, crew, kind, storm)

    def _to_site(
        self, draft: TicketDraft, area: AreaRef, crew: CrewRef | None, storm: bool
    ) -> bool:
        """Dispatched, accepted, on site (False: cancelled on the way)."""
        ctx, created = self.ctx, draft.row["created_at"]
        arrival = self._arrival(area, crew, created, storm)
        self._assign(
            draft, crew, draft.last_at + timedelta(minutes=ctx.spread(25 if storm else 6, 0.5))
        )
        if ctx.chance(0.02):
            draft.after("cancelled", ctx.rng.uniform(5, 30), DISPATCHER, ctx.pick(texts.CANCELLED))
            return False
        name = crew.name if crew else DISPATCHER
        draft.after("accepted", ctx.spread(4, 0.5), name)
        draft.step(
            "on_site",
            max(created + timedelta(minutes=arrival), draft.last_at + timedelta(minutes=3)),
            name,
        )
        return True

    def _on_site(
        self, draft: TicketDraft, area: AreaRef, crew: CrewRef | None, kind: str, storm: bool
    ) -> None:
        """The fault found on the customer's side, or repaired and restored; the callback."""
        ctx, name, on_site = self.ctx, crew.name if crew else DISPATCHER, draft.last_at
        if ctx.chance(0.04):
            draft.after(
                "customer_side", ctx.rng.uniform(10, 30), name, ctx.pick(texts.CUSTOMER_SIDE)
            )
            self._callback(draft, draft.last_at, False)
            return
        draft.after(
            "repairing", ctx.rng.uniform(3, 15), name, f"原因：{ctx.pick(texts.CAUSES[kind])}"
        )
        hours = ctx.settings.commitments.restoration_hours(area.kind)
        share = ctx.spread(0.3, 0.5) * (ctx.rng.uniform(1.2, 2.0) if ctx.chance(0.06) else 1.0)
        restored = on_site + timedelta(hours=hours * share * (1.8 if storm else 1.0))
        draft.step("restored", restored + timedelta(minutes=5), name)
        due = draft.row["respond_due_at"]
        self._callback(draft, draft.last_at, due is not None and on_site > due)

    def _merged(self, draft: TicketDraft, outage: OutagePlan, area: AreaRef, kind: str) -> None:
        """Reported during a known outage: merged into it, restored with it (or split out)."""
        ctx, created = self.ctx, draft.row["created_at"]
        draft.row["outage_id"] = outage.id
        draft.row["respond_due_at"] = None
        draft.row["resolve_due_at"] = outage.expected
        if draft.row["sender_id"] is not None or ctx.chance(0.5):
            draft.step("merged", created, "system", outage.number)
        else:
            merged = created + timedelta(minutes=ctx.spread(10, 0.5))
            draft.step(
                "merged", min(merged, outage.restored), DISPATCHER, f"并入停电事件 {outage.number}"
            )
            if ctx.chance(0.2):  # its own fault after all: split out and repaired
                self._split(draft, outage, area, kind)
                return
        draft.step("restored", outage.restored, DISPATCHER)
        if ctx.chance(0.3):
            draft.step("closed", ctx.office_time(outage.restored, gap_hours=1), DISPATCHER)
        else:
            self._callback(draft, outage.restored, False)

    def _split(self, draft: TicketDraft, outage: OutagePlan, area: AreaRef, kind: str) -> None:
        """`dispatch.split`: out of the outage with the commitments of its own report."""
        ctx = self.ctx
        at = draft.last_at + timedelta(minutes=ctx.spread(20, 0.4))
        draft.split(at, DISPATCHER, f"从停电事件 {outage.number} 拆分为单独抢修")
        self._repair(draft, area, kind, outage.storm)

    def fault(
        self, created: datetime, area: AreaRef, *, storm: bool, repeat_of: AccountRef | None = None
    ) -> None:
        ctx = self.ctx
        account = repeat_of or (ctx.customer(area) if ctx.chance(KNOWN_CALLER) else None)
        kind = ctx.pick(list(texts.FAULTS))
        description = ctx.pick(texts.REPEAT_FAULT if repeat_of else texts.FAULTS[kind])
        how, chat = origin(ctx, self.chats, online=ONLINE, desk_actor=DISPATCHER)
        draft = TicketDraft(
            ctx, type="fault", created=created, description=description, origin=how,
            area=area, account=account, address=ctx.address(area),
        )  # fmt: skip
        outage = self.outages.active(area.id, created)
        if outage is not None:
            self._merged(draft, outage, area, kind)
        else:
            self._repair(draft, area, kind, storm)
        if not draft.emit():
            return
        if chat is not None:
            fault_chat(
                ctx, self.chats, chat, draft, area, account, self._answer(draft, area, outage)
            )
        if outage is None and account is not None and ctx.chance(0.05):
            again = draft.last_at + timedelta(days=ctx.rng.uniform(2, 25))
            if ctx.finished(again + timedelta(days=3)):
                self.fault(again, area, storm=False, repeat_of=account)

    def _answer(self, draft: TicketDraft, area: AreaRef, outage: OutagePlan | None) -> str:
        if outage is not None:
            return (
                f"{area.name}正在停电（{outage.cause}），已记录您的报修（单号{draft.number}），"
                "来电后会通知您。"
            )
        minutes = self.ctx.settings.commitments.arrival_minutes(area.kind)
        return (
            f"已为您登记报修，单号{draft.number}。抢修人员一般{minutes}分钟内到达，请保持电话畅通。"
        )

    def hazard(self, created: datetime, area: AreaRef) -> None:
        ctx = self.ctx
        how, _ = origin(ctx, self.chats, online=0.0, desk_actor=DISPATCHER)
        draft = TicketDraft(
            ctx, type="hazard", created=created, description=ctx.pick(texts.HAZARDS),
            origin=how, area=area, account=None, address=ctx.address(area),
        )  # fmt: skip
        crew = self._crew(area)
        self._assign(draft, crew, created + timedelta(minutes=ctx.spread(5, 0.4)))
        name = crew.name if crew else DISPATCHER
        arrival = self._arrival(area, crew, created, False) * 0.8
        draft.step("on_site", created + timedelta(minutes=arrival), name)
        draft.step(
            "made_safe",
            draft.last_at + timedelta(minutes=ctx.rng.uniform(30, 120)),
            name,
            ctx.pick(texts.MADE_SAFE),
        )
        draft.step("closed", ctx.office_time(draft.last_at, gap_hours=1), DISPATCHER)
        draft.emit()

    # --- the year -----------------------------------------------------------------------
    def _area(self, storm: bool) -> AreaRef:
        ctx = self.ctx
        if storm:
            return ctx.area_of_kind("rural", "remote")
        return ctx.rng.choices(ctx.station.areas, cum_weights=self.area_weights)[0]

    def day(self, day: date) -> None:
        ctx = self.ctx
        storm = ctx.patterns.storm_day(day)
        mean = FAULTS_PER_DAY * SEASON[day.month - 1] + (STORM_FAULTS_PER_DAY if storm else 0)
        for _ in range(ctx.count(mean * ctx.scale.tickets)):
            created = ctx.at(day, ctx.rng.uniform(0, 1440)) if storm else ctx.customer_time(day)
            self.fault(created, self._area(storm), storm=storm)
        for _ in range(ctx.count(HAZARDS_PER_DAY * ctx.scale.tickets)):
            self.hazard(ctx.customer_time(day), self._area(False))

    def outage_reports(self) -> None:
        """The reports made during each outage (many during the storm's)."""
        ctx = self.ctx
        for outage in self.outages.plans:
            mean = 14 if outage.storm else (3 if outage.kind == "planned" else 7)
            span = (outage.restored - outage.starts).total_seconds()
            for _ in range(ctx.count(mean * ctx.scale.tickets)):
                at = outage.starts + timedelta(seconds=ctx.rng.uniform(0.02, 0.9) * span)
                self.fault(at, outage.area, storm=outage.storm)
