"""The WeChat channel's store services on SQLite and PostgreSQL: the token's refresh lease and
its compare-and-sets, and the followers' state by event time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from store.db import unit_of_work
from store.services import wechat, wechat_tokens

APP = "wx51fa4e0cd2b7a913"
LEASE = timedelta(seconds=30)
MARGIN = timedelta(minutes=5)


def _claim(factory: sessionmaker[Session], owner: str, now: datetime) -> bool:
    with unit_of_work(factory) as session:
        return wechat_tokens.claim_refresh(
            session, APP, owner=owner, now=now, lease=LEASE, margin=MARGIN
        )


def test_one_replica_at_a_time_refreshes_and_a_fresh_token_is_not_fetched_again(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    assert _claim(session_factory, "a", now)
    assert not _claim(session_factory, "b", now)  # a holds the lease
    assert _claim(session_factory, "b", now + LEASE + timedelta(seconds=1))  # a's lapsed
    with unit_of_work(session_factory) as session:
        wechat_tokens.store(session, APP, token="T1", expires_at=now + timedelta(hours=2), now=now)
    assert not _claim(session_factory, "a", now)  # fresh: nobody fetches
    with unit_of_work(session_factory) as session:
        current = wechat_tokens.current(session, APP, now=now, margin=MARGIN)
        assert current is not None
        assert current.token == "T1"
        due = now + timedelta(hours=2) - MARGIN
        assert wechat_tokens.current(session, APP, now=due, margin=MARGIN) is None


def test_a_refused_token_is_retired_only_while_it_is_the_current_one(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    later = now + timedelta(hours=2)
    assert _claim(session_factory, "a", now)
    with unit_of_work(session_factory) as session:
        wechat_tokens.store(session, APP, token="T2", expires_at=later, now=now)
        assert not wechat_tokens.retire(session, APP, "T1", now=now)  # an old copy
        assert wechat_tokens.current(session, APP, now=now, margin=MARGIN) is not None
        assert wechat_tokens.retire(session, APP, "T2", now=now)
        assert wechat_tokens.current(session, APP, now=now, margin=MARGIN) is None


def test_followers_follow_the_newest_event_and_leaving_wins_a_tie(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    def record(subscribed: bool, at: datetime) -> bool:
        with unit_of_work(session_factory) as session:
            return wechat.record_subscription(
                session, app_id=APP, openid="o1", subscribed=subscribed, at=at
            )

    assert record(True, now)
    assert not record(True, now)  # redelivered
    assert record(False, now)  # the same second: leaving wins
    assert not record(True, now)  # ... and stays
    assert not record(True, now - timedelta(minutes=1))  # late and older
    assert record(True, now + timedelta(minutes=1))
    with unit_of_work(session_factory) as session:
        row = wechat.follower(session, app_id=APP, openid="o1")
        assert row is not None
        assert row.subscribed
        assert row.unsubscribed_at == now
