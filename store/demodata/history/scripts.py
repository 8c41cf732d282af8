"""The history's conversations, turn by turn: the ones that opened a ticket or an application
(their transcript ends with its number) and the day's others (bills, tariffs, outages, words
the bot did not understand, requests for a person).

Where a ticket or an application came from is decided here too (`origin`): a chat on one of
the channels, or the phone line (95598) or the counter (hall).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from store.demodata.history import texts_chat as say
from store.demodata.history.chat import Chat, Chats, Reservation
from store.demodata.history.context import AccountRef, AreaRef, Ctx
from store.demodata.history.drafts import ASSISTANT, Origin, TicketDraft
from store.demodata.history.handoffs import Callback, bot_rating, hand_off

CHAT_LEAD: Final = timedelta(minutes=3)
"""A chat that opens a ticket starts this long before the ticket is created."""


def origin(
    ctx: Ctx, chats: Chats, *, online: float, desk_actor: str
) -> tuple[Origin, Reservation | None]:
    """Made in a chat (with share `online`, less in a county) or by phone or at the counter
    (typed in by `desk_actor`)."""
    if ctx.chance(online * ctx.scale.chat_share):
        reservation = chats.reserve()
        return Origin(reservation.channel, reservation.conversation_id, ASSISTANT), reservation
    if ctx.chance(0.6):
        return Origin("95598", None, desk_actor), None
    return Origin("hall", None, "clerk"), None


def _extras(ctx: Ctx, chat: Chat) -> None:
    """The further questions of a longer conversation."""
    for _ in range(ctx.count(ctx.scale.extra_turns)):
        intent, text, answer = ctx.pick(say.EXTRA)
        chat.turn(text, intent, answer.format(**_station(ctx)))


def _station(ctx: Ctx) -> dict[str, str]:
    """What the answers quote of conf/service.yml."""
    service = ctx.settings.service
    return {
        "hours": service.hours_text.zh,
        "hours_en": service.hours_text.en,
        "hall": service.hall.zh,
    }


def _values(ctx: Ctx, account: AccountRef | None, area: AreaRef) -> dict[str, str]:
    return {
        "account_no": account.account_no if account else "3301000001",
        "last4": account.phone[-4:] if account else "0001",
        "kwh": str(ctx.rng.randint(80, 600)),
        "amount": f"{ctx.rng.uniform(40, 420):.2f}",
        "area": area.name,
        **_station(ctx),
    }


def fault_chat(
    ctx: Ctx, chats: Chats, reservation: Reservation, draft: TicketDraft,
    area: AreaRef, account: AccountRef | None, answer: str,
) -> None:  # fmt: skip
    """The conversation that reported a fault; `answer` is the bot's last word (the ticket)."""
    chat = chats.open(reservation, draft.row["created_at"] - CHAT_LEAD)
    chat.turn(str(draft.row["description"]), "report_fault", "请问是哪个村（小区）？")
    chat.turn(str(draft.row["address"]), "inform", "是只有您家没电，还是周围都没电？")
    scope = "只有我家" if ctx.chance(0.6) else "周围都没电"
    chat.turn(scope, "inform", "请留一个联系电话，抢修人员到时和您联系。")
    chat.turn(account.phone if account else "13905710001", "inform", answer)
    if ctx.chance(0.4):
        chat.turn(ctx.pick(say.CUSTOMER_THANKS), "thank", "不客气，有问题随时找我。")
    _extras(ctx, chat)
    chat.close()


def case_chat(
    ctx: Ctx, chats: Chats, reservation: Reservation, draft: TicketDraft,
    intent: str, answer: str, *, hand_over: bool = False,
) -> None:  # fmt: skip
    """The conversation that made a complaint, a suggestion or praise (a complaint may go on
    to a person: the complaint trigger)."""
    chat = chats.open(reservation, draft.row["created_at"] - CHAT_LEAD)
    opening = "很抱歉给您带来不便，请具体说一下情况。" if intent == "file_complaint" else "请说。"
    chat.turn("我要投诉" if intent == "file_complaint" else "我想提个意见", intent, opening)
    chat.turn(str(draft.row["description"]), "inform", answer)
    if hand_over:
        hand_off(ctx, chat, "complaint", callback_maker(ctx))
    _extras(ctx, chat)
    chat.close()


def application_chat(
    ctx: Ctx, chats: Chats, reservation: Reservation, at: datetime, intent: str, answer: str
) -> None:
    chat = chats.open(reservation, at - CHAT_LEAD)
    wording = {
        "apply_new_connection": "新盖的房子想装个电表",
        "apply_capacity_change": "空调老跳闸想增容",
        "apply_name_transfer": "二手房电表要过户",
    }.get(intent, "出去打工先暂停用电")
    chat.turn(wording, intent, "需要准备身份证和房产证明。现在为您在线受理吗？")
    chat.turn("好的", "affirm", answer)
    _extras(ctx, chat)
    chat.close()


def callback_maker(ctx: Ctx) -> Callback:
    """What opens the callback ticket of a customer who stops waiting for a person."""

    def make(chat: Chat, reason: str) -> str:
        draft = TicketDraft(
            ctx, type="callback", created=chat.t,
            description=ctx.texts["callback_description"].format(reason=reason),
            origin=Origin(chat.ref.channel, chat.id, ASSISTANT), area=None, account=None,
        )  # fmt: skip
        called = ctx.office_time(chat.t, gap_hours=ctx.rng.uniform(0.2, 6))
        draft.step("processing", called, "clerk", "处理人：营业员小周（clerk）")
        draft.step(
            "closed",
            called + timedelta(minutes=ctx.rng.uniform(3, 20)),
            "clerk",
            "已回电，问题已解答",
        )
        draft.emit()
        return draft.number

    return make


def _not_understood(ctx: Ctx, chat: Chat) -> bool:
    """Words the model misreads: a fallback with buttons, then a button, a second miss and a
    person, or (low confidence) an answer that happens to fit. Whether a person took over."""
    text, meant = ctx.pick(say.HARD)
    if ctx.chance(0.25):
        chat.turn(
            text, meant, "好的，我来帮您看看。", confidence=ctx.rng.uniform(0.35, 0.59), meant=meant
        )
        return False
    chat.turn(
        text, "nlu_fallback", say.FALLBACK_REPLY, confidence=ctx.rng.uniform(0.2, 0.45),
        meant=meant, buttons=say.FALLBACK_BUTTONS,
    )  # fmt: skip
    if ctx.chance(0.55):
        button = ctx.pick(say.FALLBACK_BUTTONS)
        intent = button["payload"].lstrip("/")
        chat.turn(button["payload"], intent, "好的，请问具体是什么情况？", confidence=1.0)
        return intent == "request_human" and hand_off(
            ctx, chat, "request_human", callback_maker(ctx)
        )
    again, meant_again = ctx.pick(say.HARD)
    chat.turn(
        again,
        "nlu_fallback",
        say.OFFER_HUMAN,
        confidence=ctx.rng.uniform(0.2, 0.45),
        meant=meant_again,
    )
    if not ctx.chance(0.7):
        return False
    chat.turn("要", "affirm", "好的，正在为您转接人工客服。")
    return hand_off(ctx, chat, "fallback", callback_maker(ctx))


def standalone(ctx: Ctx, chats: Chats, at: datetime) -> None:
    """One of the day's conversations that opened nothing."""
    english = ctx.chance(0.04)
    chat = chats.open(chats.reserve(), at, "en" if english else "zh")
    area = ctx.pick(ctx.station.areas)
    handed = False
    roll = ctx.rng.random()
    if english:
        for intent, text, answer in ctx.pick(say.ENGLISH):
            chat.turn(text, intent, answer.format(**_station(ctx)))
    elif roll < 0.2:
        intent, text, answer = ctx.pick(say.HUMAN)
        chat.turn(text, intent, answer)
        handed = hand_off(ctx, chat, "request_human", callback_maker(ctx))
    elif roll < 0.34:
        handed = _not_understood(ctx, chat)
    else:
        kinds = list(say.STANDALONE_WEIGHTS)
        kind = ctx.rng.choices(kinds, [say.STANDALONE_WEIGHTS[k] for k in kinds])[0]
        values = _values(ctx, ctx.customer(area), area)
        for intent, text, answer in ctx.pick(say.STANDALONE[kind]):
            chat.turn(text.format(**values), intent, answer.format(**values))
    _extras(ctx, chat)
    if not handed and ctx.chance(0.08):
        bot_rating(ctx, chat)
    if ctx.finished(chat.t):
        chat.close()
