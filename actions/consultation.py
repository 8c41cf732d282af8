"""Answers that come straight from configuration: tariffs, how to pay, the service hall."""

from __future__ import annotations

from actions.base import Events, StoreAction, Turn


class ActionAskTariff(StoreAction):
    def name(self) -> str:
        return "action_ask_tariff"

    def act(self, turn: Turn) -> Events:
        t = turn.settings.tariffs
        p1, p2, p3 = t.tier_prices
        turn.say(
            "utter_tariff",
            t1=t.tier1_limit,
            t2=t.tier2_limit,
            p1=p1,
            p2=p2,
            p3=p3,
            peak_hours=f"{t.peak_start:%H:%M}-{t.peak_end:%H:%M}",
            peak_add=t.peak_markup,
            valley_hours=f"{t.peak_end:%H:%M}-{t.peak_start:%H:%M}",
            valley_cut=-t.valley_markup,
            min_size=t.large_household_min_size,
            bonus=t.large_household_extra_kwh_per_month,
            reset_month=t.year_start_month,
        )
        return []


class ActionPayBill(StoreAction):
    def name(self) -> str:
        return "action_pay_bill"

    def act(self, turn: Turn) -> Events:
        channels = "\n".join(
            f"• {turn.label(c.name_zh, c.name_en)}：{turn.label(c.how_zh, c.how_en)}"
            if turn.language != "en"
            else f"• {c.name_en}: {c.how_en}"
            for c in turn.settings.service.payment_channels
        )
        turn.say(
            "utter_pay_bill",
            channels=channels,
            reconnect_hours=turn.settings.commitments.reconnect_hours,
        )
        return []


class ActionServiceInfo(StoreAction):
    def name(self) -> str:
        return "action_service_info"

    def act(self, turn: Turn) -> Events:
        s = turn.settings
        turn.say(
            "utter_service_info",
            station=turn.label(s.station.name, s.station.name_en),
            address=turn.label(*s.service.address),
            hours=turn.label(*s.service.hours_text),
            hotline=s.service.hotline,
        )
        return []
