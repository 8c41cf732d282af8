"""Handoff requests queue with their transcript; ratings are 1-5."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.db import unit_of_work
from store.services import handoff_requests, ratings


def test_handoff_requests_queue_in_order(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    transcript = [{"from": "customer", "text": "转人工", "intent": "request_human"}]
    with unit_of_work(session_factory) as session:
        second = handoff_requests.record_request(
            session, sender_id="b", channel="telegram", reason="fallback", transcript=[],
            now=now + timedelta(minutes=1),
        )  # fmt: skip
        first = handoff_requests.record_request(
            session, sender_id="a", channel="rest", reason="customer_request",
            transcript=transcript, now=now,
        )  # fmt: skip
        assert first.id is not None
        assert first.status == "waiting"
    with unit_of_work(session_factory) as session:
        queue = handoff_requests.waiting(session)
        assert [r.id for r in queue] == [first.id, second.id]
        assert queue[0].transcript == transcript
        assert queue[0].created_at == now


def test_ratings(session_factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        row = ratings.record(
            session, sender_id="a", channel="rest", rating=5, comment="非常满意", now=now
        )
        assert row.id is not None
        with pytest.raises(ValueError, match="1-5"):
            ratings.record(session, sender_id="a", channel=None, rating=6, comment=None, now=now)
