"""Outage notices in the conversation: subscribing to an area (订阅) and unsubscribing (退订).

No intent of its own (the 29 intents are fixed): a subscription comes either from a button the
bot offered, the `query_outage_info` intent with the `outage_subscription` entity
(store/outages/subscriptions.py writes those payloads, the notices' unsubscribe button too), or
from the customer's own words ("订阅停电通知", "退订", conf/outages.yml keywords), whichever intent
NLU read them as: the outage question, a fallback, out of scope or a bare piece of information
each hand the turn here first (`handled`).

The offer follows an outage answer and a fault report (`offer`), for the area just talked
about; a verified customer subscribing without naming a place gets their account's address
(area and group), and the subscription remembers the account, so the customer is told once
even when they also subscribed on another channel.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session

from actions.base import Turn
from store.config import default_conf_dir
from store.configuration.outages import OutageConfig, load_outages
from store.models import Account, ServiceArea
from store.outages import subscriptions
from store.services import areas
from store.services.areas import group_of


@lru_cache(maxsize=4)
def _config(conf_dir: Path, codes: tuple[str, ...]) -> OutageConfig:
    return load_outages(conf_dir, codes)


def outage_config(turn: Turn) -> OutageConfig:
    return _config(default_conf_dir(), tuple(a.code for a in turn.settings.areas))


def request_of(turn: Turn) -> tuple[str, str | None, int | None] | None:
    """(subscribe|unsubscribe, area code, group) the customer asked for, or None."""
    parsed = subscriptions.parse_value(turn.entity(subscriptions.ENTITY))
    if parsed is not None:
        return parsed
    text = turn.text.lower()
    config = outage_config(turn)
    if any(word in text for word in config.unsubscribe_words):
        return subscriptions.UNSUBSCRIBE, None, None
    if any(word in text for word in config.subscribe_words):
        return subscriptions.SUBSCRIBE, None, None
    return None


def handled(turn: Turn) -> bool:
    """Subscribe or unsubscribe when the customer asked to; False when they did not."""
    request = request_of(turn)
    if request is None:
        return False
    action, code, group = request
    if not subscriptions.reachable(turn.sender_id):
        turn.say("utter_outage_subscribe_unavailable")
        return True
    with turn.session() as session:
        if action == subscriptions.UNSUBSCRIBE:
            _unsubscribe(turn, session)
        else:
            _subscribe(turn, session, code, group)
    return True


def _place(turn: Turn, area: ServiceArea, group: int | None) -> str:
    name = turn.label(area.name, area.name_en)
    if not group:
        return name
    return turn.label(f"{name}{group}组", f"{name} group {group}")


def _where(
    turn: Turn, session: Session, code: str | None, group: int | None
) -> tuple[ServiceArea | None, int | None, Account | None]:
    """The area (and group) to subscribe: the button's, the words', else the verified
    account's address; the account when it is the customer's own area."""
    account = turn.verified_account(session)
    area = areas.get_by_code(session, code) if code else None
    if area is None and code is None:
        area = areas.match_area(session, turn.entity("address") or turn.text)
        group = group or group_of(turn.entity("address") or turn.text)
    if area is None and code is None and account is not None:
        area, group = account.area, group_of(account.address)
    if account is not None and area is not None and account.area_id == area.id:
        group = group or group_of(account.address)
        return area, group, account
    return area, group, None


def _subscribe(turn: Turn, session: Session, code: str | None, group: int | None) -> None:
    area, group, account = _where(turn, session, code, group)
    if area is None:
        buttons = [
            {
                "title": turn.label(a.name, a.name_en),
                "payload": subscriptions.payload(subscriptions.subscribe_value(a.code, None)),
            }
            for a in areas.list_areas(session)
        ]
        turn.say("utter_outage_subscribe_which_area", buttons=buttons)
        return
    done = subscriptions.subscribe(
        session,
        conversation_id=turn.sender_id,
        area=area,
        group_no=group,
        account=account,
        now=turn.now(),
    )
    place = _place(turn, area, done.subscription.group_no)
    if not done.new:
        turn.say("utter_outage_already_subscribed", area=place)
        return
    quiet = outage_config(turn).quiet_hours
    hours = f"{quiet.start:%H:%M}-{quiet.end:%H:%M}"
    turn.say("utter_outage_subscribed", area=place, quiet=hours)


def _unsubscribe(turn: Turn, session: Session) -> None:
    ended = subscriptions.unsubscribe(session, turn.sender_id, now=turn.now())
    if not ended:
        turn.say("utter_outage_not_subscribed")
        return
    names = [turn.label(a.name, a.name_en) for a in ended]
    turn.say("utter_outage_unsubscribed", areas=turn.label("、", ", ").join(names))


def offer(turn: Turn, session: Session, area: ServiceArea, group: int | None = None) -> None:
    """After an outage answer or a fault report: the offer to be told of the area's outages
    (nothing when the conversation has it already, or cannot be told)."""
    if not subscriptions.reachable(turn.sender_id):
        return
    if any(s.area_id == area.id for s in subscriptions.active(session, turn.sender_id)):
        return
    label = outage_config(turn).texts.subscribe_button
    value = subscriptions.subscribe_value(area.code, group)
    button = {"title": turn.label(label.zh, label.en), "payload": subscriptions.payload(value)}
    turn.say("utter_outage_subscribe_offer", area=_place(turn, area, group), buttons=[button])
