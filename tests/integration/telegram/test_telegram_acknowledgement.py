"""Telegram updates are confirmed to Telegram only once their message is stored: long polling's
next getUpdates offset and a webhook's 200 wait for the router's `on_stored`, an update that
could not be stored is delivered again, and one fetched but not stored when the gateway stops
comes again to the next start. The real python-telegram-bot against the fake Bot API
(tests/fakes/telegram_api.py), with the channel tests' fake router (its `stored_at` says when
each message counted as stored).
"""

from __future__ import annotations

import asyncio
import time

from bot.channels.telegram.config import TelegramConfig
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_channel import FakeRouter, running_gateway


def offsets(fake: FakeTelegram) -> list[tuple[float, int]]:
    """(time, offset) of every getUpdates call so far."""
    return [(c.at, int(c.params.get("offset") or 0)) for c in fake.calls_of("getUpdates")]


async def test_polling_confirms_an_update_only_once_its_message_is_stored(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> None:
    router.store_delay = 1.0  # a slow database
    async with running_gateway(fake, router, config, "polling"):
        update = fake.text_update("东山村停电了")
        key = str(update["update_id"])
        await fake.queue_update(update)
        await fake.wait_for(lambda: key in router.stored_at, within=10)
        await fake.wait_for(lambda: any(o > update["update_id"] for _, o in offsets(fake)))
        confirmed = [at for at, offset in offsets(fake) if offset > update["update_id"]]
        assert min(confirmed) >= router.stored_at[key]
        await fake.wait_for_messages(1)


async def test_a_slow_turn_does_not_hold_polling_up(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> None:
    """Stored at once, confirmed at once: other customers' updates are fetched while the
    first one's turn still runs."""
    router.delay = 3.0
    async with running_gateway(fake, router, config, "polling"):
        first = fake.text_update("停电了", user=fake.user(1001))
        await fake.queue_update(first)
        await router.wait_for(1)
        second = fake.text_update("也停电了", user=fake.user(1002))
        await fake.queue_update(second)
        await router.wait_for(2, within=2)  # well before the first turn ends


async def test_an_update_that_cannot_be_stored_is_delivered_again(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> None:
    router.store_error = RuntimeError("database down")
    async with running_gateway(fake, router, config, "polling"):
        update = fake.text_update("东山村停电了")
        await fake.queue_update(update)
        await router.wait_for(1)
        await fake.settle(0.5)
        assert all(offset <= update["update_id"] for _, offset in offsets(fake))
        assert update in fake.pending  # not confirmed: Telegram keeps it
        assert not fake.sent  # no apology yet: it is not given up
        router.store_error = None
        [sent] = await fake.wait_for_messages(1, within=10)  # asked for again, answered
        assert sent["text"] == "收到：东山村停电了"
        assert [m.external_id for m in router.inbound].count(str(update["update_id"])) >= 2


async def test_an_update_fetched_but_not_stored_at_shutdown_comes_again(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> None:
    router.store_delay = 1.0
    update = fake.text_update("东山村停电了")
    async with running_gateway(fake, router, config, "polling"):
        await fake.queue_update(update)
        await router.wait_for(1)  # fetched, being stored: the gateway stops now
    assert update in fake.pending  # never confirmed
    assert len(fake.sent) == 1  # the turn in progress was finished and answered
    router.store_delay = 0
    async with running_gateway(fake, router, config, "polling"):
        await router.wait_for(2, within=10)  # the next start gets it again
        await fake.wait_for(lambda: update not in fake.pending, within=10)
        await fake.settle()
    assert router.inbound[1].external_id == str(update["update_id"])
    assert len(fake.sent) == 1  # answered once: the second delivery is a duplicate


async def test_the_webhook_answers_only_once_the_message_is_stored(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> None:
    async with running_gateway(fake, router, config, "webhook"):
        router.store_delay = 0.5
        started = time.monotonic()
        update = fake.text_update("东山村停电了")
        assert await fake.push_update(update) == 200
        assert time.monotonic() >= router.stored_at[str(update["update_id"])] >= started
        await fake.wait_for_messages(1)

        router.store_delay = 0
        router.store_error = RuntimeError("database down")
        again = fake.text_update("还没来电")
        assert await fake.push_update(again) == 503  # Telegram delivers it again later
        router.store_error = None
        assert await fake.push_update(again) == 200
        sent = await fake.wait_for_messages(2)
        assert sent[1]["text"] == "收到：还没来电"


async def test_an_update_that_never_stores_is_given_up_with_an_apology(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> None:
    """A bad update must not hold back the ones behind it for ever: after a few deliveries
    it is confirmed and the customer asked to try again."""
    router.store_error = RuntimeError("this update breaks the router")
    async with running_gateway(fake, router, config, "webhook"):
        update = fake.text_update("东山村停电了")
        statuses = [await fake.push_update(update) for _ in range(5)]
        assert statuses == [503, 503, 503, 503, 200]
        [sent] = await fake.wait_for_messages(1)
        assert sent["text"].startswith("抱歉，系统出了点问题")
        router.store_error = None
        assert await fake.push_update(fake.text_update("又停电了")) == 200
        await fake.wait_for_messages(2)


async def test_concurrent_updates_of_one_chat_are_all_stored_before_the_first_turn_ends(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> None:
    router.delay = 0.3
    async with running_gateway(fake, router, config, "webhook"):
        updates = [fake.text_update(text) for text in ("一", "二", "三")]
        started = time.monotonic()
        statuses = await asyncio.gather(*(fake.push_update(u) for u in updates))
        assert statuses == [200, 200, 200]
        assert time.monotonic() - started < 0.6  # not one turn after another
        sent = await fake.wait_for_messages(3)
        assert sorted(m["text"] for m in sent) == ["收到：一", "收到：三", "收到：二"]
