"""The NLU inbox on SQLite and PostgreSQL: grouping, idempotent counting, the conversation
around each hit, labelling and marking, what the trainer reads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nlu import inbox
from nlu.rules import DataEditError
from nlu.settings import InboxSettings
from store.db import unit_of_work
from store.models import Message, NluInboxHit, NluInboxItem, StaffUser
from store.services import nlu_inbox, transcripts
from store.services.nlu_inbox import InboxError
from store.services.transcripts import OutboundText

INBOX = InboxSettings(
    confidence_below=0.6,
    fallback_intents=frozenset({"nlu_fallback"}),
    before_handoff=2,
    group_similarity=0.8,
    context_messages=2,
)


def _staff(session: Session, now: datetime, username: str = "agent1") -> int:
    user = StaffUser(
        username=username, display_name=username, password_hash="x", role="agent",
        availability="offline", max_chats=3, created_at=now,
    )  # fmt: skip
    session.add(user)
    session.flush()
    return user.id


def _say(session: Session, now: datetime, *texts: str, cid: str = "telegram:42") -> list[int]:
    """Customer messages, each answered by the bot; their ids."""
    channel, chat = cid.split(":", 1)
    conversation = transcripts.touch_conversation(
        session, conversation_id=cid, channel=channel, chat_id=chat, now=now
    )
    ids = []
    for text in texts:
        inbound = transcripts.record_inbound(session, conversation, text=text, now=now)
        transcripts.record_outbound(
            session, conversation, [OutboundText(f"答：{text}")], now=now, in_reply_to=inbound.id
        )
        ids.append(inbound.id)
    return ids


def _hit(
    session: Session,
    now: datetime,
    message_id: int | None,
    text: str,
    reason: str = "low_confidence",
    intent: str | None = "query_bill",
    confidence: float | None = 0.4,
    **kw: object,
) -> NluInboxItem | None:
    return inbox.add_hit(
        session, message_id=message_id, conversation_id="telegram:42", text=text, reason=reason,
        predicted_intent=intent, confidence=confidence, settings=INBOX, now=now, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_near_duplicates_group_with_a_count(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        ids = _say(
            session, now, "户号3301000001查电费", "户号 3301000002 查电费！", "我家停电了",
            "我家停电了吗", "阶梯电价咋算",
        )  # fmt: skip
        later = now + timedelta(minutes=3)
        a = _hit(session, now, ids[0], "户号3301000001查电费", confidence=0.5)
        b = _hit(
            session, later, ids[1], "户号 3301000002 查电费！", "fallback", "nlu_fallback", 0.3
        )
        c = _hit(session, now, ids[2], "我家停电了", intent="report_fault")
        d = _hit(session, now, ids[3], "我家停电了吗", intent="report_fault")  # similarity 0.8
        e = _hit(session, now, ids[4], "阶梯电价咋算")
        assert a is b
        assert c is d
        assert len({id(x) for x in (a, c, e)}) == 3
        assert a is not None
        assert c is not None
        item_id = a.id
    with unit_of_work(session_factory) as session:
        item = session.get(NluInboxItem, item_id)
        assert item is not None
        assert (item.count, item.text, item.group_key) == (2, "户号3301000001查电费", "户号#查电费")
        assert item.reasons == ("fallback", "low_confidence")
        assert (item.predicted_intent, item.confidence) == ("nlu_fallback", pytest.approx(0.3))
        assert (item.first_seen_at, item.last_seen_at) == (now, now + timedelta(minutes=3))
        assert item.status == "open"
        page = nlu_inbox.list_items(session)
        assert page.total == 3
        assert [i.count for i in page.items] == [2, 2, 1]
        assert page.items[-1].text == "阶梯电价咋算"


def test_a_message_counts_once_and_later_reports_add_to_it(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        agent = _staff(session, now)
        (mid,) = _say(session, now, "那个电表咋回事")
        item = _hit(session, now, mid, "那个电表咋回事", "handoff", None, None)
        assert item is not None
        again = _hit(session, now, mid, "那个电表咋回事", "low_confidence", "query_bill", 0.42)
        flagged = _hit(
            session, now, mid, "那个电表咋回事", "flagged", None, None,
            flagged_by=agent, note="客户问的是电表走得快",
        )  # fmt: skip
        twice = _hit(
            session, now, mid, "那个电表咋回事", "flagged", None, None, note="客户问的是电表走得快"
        )
        assert item is again is flagged is twice
        item_id = item.id
    with unit_of_work(session_factory) as session:
        item = session.get(NluInboxItem, item_id)
        assert item is not None
        assert item.count == 1
        assert item.reasons == ("flagged", "handoff", "low_confidence")
        assert (item.predicted_intent, item.confidence) == ("query_bill", pytest.approx(0.42))
        assert item.note == "客户问的是电表走得快"
        hit = session.scalars(select(NluInboxHit)).one()
        # the first report (handoff) is the hit; later ones filled in what they knew
        assert (hit.reason, hit.predicted_intent, hit.flagged_by) == (
            "handoff",
            "query_bill",
            agent,
        )


def test_nothing_to_label_is_ignored(session_factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        for text in ("", "   ", "？？！", "👍", "/request_human", '/rate_service{"rating": 4}'):
            assert _hit(session, now, None, text) is None
        with pytest.raises(InboxError, match="reason"):
            _hit(session, now, None, "停电", reason="bored")
        assert session.scalar(select(func.count()).select_from(NluInboxItem)) == 0


def test_labelled_items_collect_no_more_hits(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        agent = _staff(session, now)
        first = _hit(session, now, None, "东山村没电了")
        assert first is not None
        inbox.label(
            session, first, intent="report_fault", by=agent, now=now,
            entities=[{"entity": "village", "start": 0, "end": 3}],
        )  # fmt: skip
        second = _hit(session, now, None, "东山村没电了")
        assert second is not None
        assert second.id != first.id
        assert (second.status, second.count) == ("open", 1)
        assert first.count == 1
        assert first.label_entities == [
            {"entity": "village", "value": "东山村", "start": 0, "end": 3}
        ]
        assert (first.labelled_by, first.labelled_at) == (agent, now)


def test_label_validates_intent_and_entities(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        item = _hit(session, now, None, "西河村 电压低")
        assert item is not None
        bad: list[tuple[str, list[dict[str, object]], str]] = [
            ("report fault", [], "intent name"),
            ("", [], "intent name"),
            ("report_fault", [{"entity": "village", "start": 0, "end": 99}], "start and end"),
            ("report_fault", [{"entity": "village", "start": 2, "end": 2}], "start and end"),
            ("report_fault", [{"entity": "village", "start": -1, "end": 2}], "start and end"),
            ("report_fault", [{"entity": "village", "start": "0", "end": 2}], "start and end"),
            ("report_fault", [{"entity": "vil lage", "start": 0, "end": 3}], "entity name"),
            ("report_fault", [{"entity": "village", "start": 0, "end": 4}], "space"),
            ("report_fault", [{"entity": "village", "start": 0, "end": 3, "value": ""}], "value"),
            (
                "report_fault",
                [
                    {"entity": "village", "start": 0, "end": 3},
                    {"entity": "x", "start": 1, "end": 2},
                ],
                "overlap",
            ),
        ]
        for intent, entities, message in bad:
            with pytest.raises(DataEditError, match=message):
                inbox.label(session, item, intent=intent, entities=entities, by=None, now=now)
        with pytest.raises(InboxError, match="label sets"):
            inbox.label(session, item, intent="x", by=None, now=now, status="ignored")
        assert item.status == "open"
        labelled = inbox.label(
            session, item.id, intent="report_low_voltage", by=None, now=now, status="new_intent",
            entities=[{"entity": "village", "value": "西河村", "start": 0, "end": 3}],
        )  # fmt: skip
        assert (labelled.status, labelled.label_intent) == ("new_intent", "report_low_voltage")
        with pytest.raises(nlu_inbox.NotFound):
            inbox.label(session, 99999, intent="greet", by=None, now=now)


def test_mark_and_the_trainers_view(session_factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        agent = _staff(session, now)
        texts = ("查电费", "停电了咋办", "你们几点下班", "天气怎么样", "hahaha")
        items = [_hit(session, now + timedelta(seconds=i), None, t) for i, t in enumerate(texts)]
        assert all(items)
        bill, fault, hours, weather, noise = (i for i in items if i is not None)
        inbox.label(session, bill, intent="query_bill", by=agent, now=now)
        inbox.label(session, fault, intent="report_fault", by=agent, now=now + timedelta(1))
        inbox.label(session, hours, intent="ask_hours", by=agent, now=now, status="new_intent")
        nlu_inbox.mark(session, weather, "out_of_scope", by=agent, now=now)
        nlu_inbox.mark(session, noise, "ignored", by=agent, now=now)
        with pytest.raises(InboxError, match="mark sets"):
            nlu_inbox.mark(session, noise, "labelled", by=agent, now=now)
        pending = nlu_inbox.pending_training(session)
        assert [i.text for i in pending] == ["查电费", "你们几点下班", "停电了咋办"]
        assert nlu_inbox.pending_training(session, ("out_of_scope",)) == [weather]
        assert nlu_inbox.mark_trained(session, [bill, hours.id], model_id=_model(session, now)) == 2
        assert nlu_inbox.mark_trained(session, [bill], model_id=_model(session, now, "b")) == 0
        assert [i.text for i in nlu_inbox.pending_training(session)] == ["停电了咋办"]
        first_model = bill.trained_model_id
        # a new label is in no model yet; the same label again changes nothing
        inbox.label(session, hours, intent="ask_hours", by=agent, now=now, status="new_intent")
        assert hours.trained_model_id == first_model
        inbox.label(session, bill, intent="query_bill_detail", by=agent, now=now)
        assert bill.trained_model_id is None
        nlu_inbox.mark(session, noise, "open", by=agent, now=now)
        assert (noise.status, noise.labelled_by, noise.labelled_at) == ("open", None, None)
        assert nlu_inbox.list_items(session, status="ignored").total == 0
        assert nlu_inbox.list_items(session, status="open").items == [noise]
        assert nlu_inbox.list_items(session, status=None).total == 5
        assert nlu_inbox.list_items(session, status=None, intent="ask_hours").items == [hours]
        with pytest.raises(InboxError):
            nlu_inbox.list_items(session, status="closed")


def _model(session: Session, now: datetime, name: str = "a") -> int:
    from store.services import nlu_registry

    model = nlu_registry.create_model(
        session, file_name=f"{name}.tar.gz", data_hash="d", config_name="config.yml",
        created_by_name="op", now=now,
    )  # fmt: skip
    return model.id


def test_filters_order_and_paging(session_factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        for i in range(3):
            _hit(session, now + timedelta(minutes=i), None, "查电费", "fallback", "nlu_fallback")
        for i in range(2):
            _hit(session, now + timedelta(minutes=10 + i), None, "转人工吧", "handoff", None)
        _hit(session, now + timedelta(minutes=20), None, "电表不走了", "flagged", "query_bill")
        _hit(session, now + timedelta(minutes=30), None, "电费太贵", "low_confidence")
        page = nlu_inbox.list_items(session, limit=2)
        assert page.total == 4
        assert [i.text for i in page.items] == ["查电费", "转人工吧"]
        rest = nlu_inbox.list_items(session, limit=2, offset=2)
        # same count: the most recently seen first
        assert [i.text for i in rest.items] == ["电费太贵", "电表不走了"]
        by_reason = nlu_inbox.list_items(session, reason="flagged")
        assert [i.text for i in by_reason.items] == ["电表不走了"]
        assert nlu_inbox.list_items(session, reason="handoff").items[0].text == "转人工吧"
        by_intent = nlu_inbox.list_items(session, intent="query_bill")
        assert sorted(i.text for i in by_intent.items) == ["电表不走了", "电费太贵"]
        with pytest.raises(InboxError):
            nlu_inbox.list_items(session, reason="nope")


def test_item_with_the_conversation_around_each_hit(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        ids = _say(session, now, "你好", "查电费", "电费咋这么高", "好的", "谢谢", "再见")
        other = _say(session, now, "电费咋这么高啊", cid="web:abc")
        transcripts.set_intent(session, ids[2], "query_bill", 0.41)
        item = _hit(session, now, ids[2], "电费咋这么高")
        assert item is not None
        _hit(session, now + timedelta(minutes=1), other[0], "电费咋这么高啊")
        item_id = item.id
        gone = _hit(session, now, None, "电费咋这么高")
        assert gone is item
    with unit_of_work(session_factory) as session:
        detail = nlu_inbox.get_item(session, item_id, settings=INBOX)
        assert detail.item.count == 3
        newest, web, first = detail.hits
        assert newest.hit.message_id is None
        assert newest.messages == []
        assert [(m.sender, m.text) for m in web.messages] == [
            ("customer", "电费咋这么高啊"),
            ("bot", "答：电费咋这么高啊"),
        ]
        # two messages before, the hit, two after (customer and bot alternate)
        assert [(m.direction, m.text, m.is_hit) for m in first.messages] == [
            ("in", "查电费", False),
            ("out", "答：查电费", False),
            ("in", "电费咋这么高", True),
            ("out", "答：电费咋这么高", False),
            ("in", "好的", False),
        ]
        hit_message = first.messages[2]
        assert (hit_message.intent, hit_message.confidence) == ("query_bill", pytest.approx(0.41))
        assert hit_message.at == now
        assert len(nlu_inbox.get_item(session, item_id, settings=INBOX, max_hits=1).hits) == 1
        with pytest.raises(nlu_inbox.NotFound):
            nlu_inbox.get_item(session, 424242, settings=INBOX)


def test_deleted_messages_leave_their_hits(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        (mid,) = _say(session, now, "表计有问题")
        item = _hit(session, now, mid, "表计有问题")
        assert item is not None
        session.delete(session.get(Message, mid))
        session.flush()
        session.expire_all()
        hit = session.scalars(select(NluInboxHit)).one()
        assert hit.message_id is None
        assert nlu_inbox.get_item(session, item.id, settings=INBOX).hits[0].messages == []


def test_messages_before_a_handoff(session_factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        ids = _say(session, now, "查电费", "电费咋这么高", "嗯嗯嗯")
        transcripts.set_intent(session, ids[1], "query_bill", 0.55)
        conversation = transcripts.get_conversation(session, "telegram:42")
        assert conversation is not None
        # not answered by the bot: a message kept pending, and one only the gateway answered
        transcripts.record_inbound(session, conversation, text="在吗", now=now, status="pending")
        refused = transcripts.record_inbound(session, conversation, text="x" * 5, now=now)
        transcripts.record_outbound(
            session, conversation, [OutboundText("太长了")], now=now, sender="system",
            in_reply_to=refused.id,
        )  # fmt: skip
        _say(session, now, "别的会话", cid="web:zz")
        items = inbox.add_handoff_hits(session, conversation_pk=conversation.id, settings=INBOX)
        assert [i.text for i in items] == ["电费咋这么高", "嗯嗯嗯"]
        assert items[0].reasons == ("handoff",)
        assert (items[0].predicted_intent, items[0].confidence) == ("query_bill", 0.55)
        assert items[1].predicted_intent is None
        # the same handoff reported twice counts nothing twice
        again = inbox.add_handoff_hits(session, conversation_pk=conversation.id, settings=INBOX)
        assert [i.count for i in again] == [1, 1]
        hit = session.scalars(select(NluInboxHit).order_by(NluInboxHit.id)).first()
        assert hit is not None
        assert (hit.conversation_id, hit.message_id) == ("telegram:42", ids[1])
        off = replace(INBOX, before_handoff=0)
        assert inbox.add_handoff_hits(session, conversation_pk=conversation.id, settings=off) == []


def test_an_agent_flags_a_bot_reply(session_factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        agent = _staff(session, now)
        (asked,) = _say(session, now, "我家电表跑得飞快")
        transcripts.set_intent(session, asked, "query_bill", 0.72)
        bot_reply = session.scalars(select(Message).where(Message.in_reply_to_id == asked)).one()
        conversation = transcripts.get_conversation(session, "telegram:42")
        assert conversation is not None
        (notice,) = transcripts.record_outbound(
            session, conversation, [OutboundText("系统繁忙")], now=now, sender="system",
            in_reply_to=asked,
        )  # fmt: skip
        (unprompted,) = transcripts.record_outbound(
            session, conversation, [OutboundText("您的工单已派单")], now=now
        )
        item = inbox.flag_reply(
            session, reply_id=bot_reply.id, by=agent, note="应该是电表校验", settings=INBOX
        )
        assert item is not None
        assert (item.text, item.reasons, item.note) == (
            "我家电表跑得飞快",
            ("flagged",),
            "应该是电表校验",
        )
        assert (item.predicted_intent, item.confidence, item.count) == ("query_bill", 0.72, 1)
        hit = session.scalars(select(NluInboxHit)).one()
        assert (hit.flagged_by, hit.message_id, hit.reason) == (agent, asked, "flagged")
        with pytest.raises(nlu_inbox.NotFound):
            inbox.flag_reply(session, reply_id=99999, by=agent, note=None, settings=INBOX)
        for not_a_reply in (asked, notice.id, unprompted.id):
            with pytest.raises(nlu_inbox.NotABotReply):
                inbox.flag_reply(session, reply_id=not_a_reply, by=agent, note=None, settings=INBOX)


def test_reopening_merges_into_the_newer_open_item(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        agent = _staff(session, now)
        ids = _say(session, now, "电费贵", "电费贵!", "电费贵。")
        old = _hit(session, now, ids[0], "电费贵", "fallback", note="第一次")
        assert old is not None
        nlu_inbox.mark(session, old, "ignored", by=agent, now=now)
        later = now + timedelta(hours=1)
        new = _hit(session, later, ids[1], "电费贵!", "low_confidence")
        assert new is not None
        assert new.id != old.id
        _hit(session, later, ids[2], "电费贵。")
        # the same message was also counted in the ignored item: not twice after the merge
        session.add(
            NluInboxHit(item_id=old.id, message_id=ids[1], reason="handoff", created_at=now)
        )
        old_id = old.id
        merged = nlu_inbox.mark(session, old, "open", by=agent, now=later)
        assert merged is new
        assert (merged.count, merged.reasons) == (3, ("fallback", "low_confidence"))
        assert (merged.first_seen_at, merged.last_seen_at, merged.note) == (now, later, "第一次")
        assert session.get(NluInboxItem, old_id) is None
        assert sorted(h.message_id or 0 for h in merged.hits) == ids
        assert nlu_inbox.list_items(session).items == [merged]


def test_concurrent_captures_of_one_text_meet_in_one_item(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    barrier = threading.Barrier(4)

    def capture(n: int) -> int:
        with unit_of_work(session_factory) as session:
            nlu_inbox.list_items(session)  # everyone looks before anyone writes
            barrier.wait(timeout=10)
            item = _hit(session, now, None, f"户号33010000{n:02d}查电费")
            assert item is not None
            return item.id

    with ThreadPoolExecutor(4) as pool:
        item_ids = set(pool.map(capture, range(4)))
    assert len(item_ids) == 1
    with unit_of_work(session_factory) as session:
        (item,) = nlu_inbox.list_items(session).items
        assert item.count == 4
