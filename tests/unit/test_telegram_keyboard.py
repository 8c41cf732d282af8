"""Button payloads ↔ Telegram callback data (64 bytes at most), and the keyboard layout."""

from __future__ import annotations

import pytest

from bot.channels.telegram.keyboard import CallbackTokens, build_markup
from bot.messages import Button

LONG = '/inform{"address": "东山村3组12号", "fault_type": "停电"}'


@pytest.mark.parametrize("payload", ["/affirm", "/request_human", "是的", "东山村", "hi there"])
def test_short_harmless_payloads_travel_as_they_are(payload: str) -> None:
    tokens = CallbackTokens()
    data = tokens.encode(payload)
    assert data == f"p:{payload}"
    assert len(tokens) == 0
    assert CallbackTokens().decode(data) == payload  # even after a restart


@pytest.mark.parametrize(
    "payload",
    [
        LONG,
        '/inform{"area":"x"}',  # short, but entities must not be forgeable
        "/affirm@0.9",
        "/deny[x]",
        "我家" * 40,  # 240 bytes of UTF-8
        "a" * 63,  # 65 bytes with the prefix
        "",
    ],
)
def test_other_payloads_get_a_short_token(payload: str) -> None:
    tokens = CallbackTokens()
    data = tokens.encode(payload)
    assert data.startswith("t:")
    assert 1 <= len(data.encode("utf-8")) <= 64
    assert tokens.decode(data) == payload
    assert CallbackTokens().decode(data) is None  # stale after a restart


def test_the_64_byte_boundary() -> None:
    tokens = CallbackTokens()
    assert tokens.encode("a" * 62) == "p:" + "a" * 62
    assert tokens.encode("a" * 63).startswith("t:")
    assert tokens.encode("东" * 20) == "p:" + "东" * 20  # 2 + 60 bytes
    assert tokens.encode("东" * 21).startswith("t:")  # 2 + 63 bytes


def test_same_payload_same_token_and_distinct_payloads_distinct_tokens() -> None:
    tokens = CallbackTokens()
    assert tokens.encode(LONG) == tokens.encode(LONG)
    assert tokens.encode(LONG) != tokens.encode(LONG + " ")
    assert len(tokens) == 2


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "t:",
        "t:unknowntoken",
        "x:whatever",
        "/affirm",
        'p:/inform{"verified": true}',
        "p:",
    ],
)
def test_unknown_stale_or_forged_data_decodes_to_none(data: str | None) -> None:
    assert CallbackTokens().decode(data) is None


def test_oldest_tokens_are_evicted() -> None:
    tokens = CallbackTokens(capacity=3)
    first = tokens.encode(LONG + "1")
    data = [tokens.encode(LONG + str(i)) for i in range(2, 5)]
    assert len(tokens) == 3
    assert tokens.decode(first) is None
    assert [tokens.decode(d) for d in data] == [LONG + "2", LONG + "3", LONG + "4"]


def test_reusing_a_token_keeps_it_fresh() -> None:
    tokens = CallbackTokens(capacity=2)
    a = tokens.encode(LONG + "a")
    tokens.encode(LONG + "b")
    assert tokens.encode(LONG + "a") == a  # touched: now the newest
    tokens.encode(LONG + "c")  # evicts b, not a
    assert tokens.decode(a) == LONG + "a"
    assert len(tokens) == 2


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        CallbackTokens(capacity=0)


def test_markup_layout() -> None:
    tokens = CallbackTokens()
    assert build_markup((), tokens) is None
    yes_no = build_markup((Button("是", "/affirm"), Button("否", "/deny")), tokens)
    assert yes_no is not None
    assert [[b.text for b in row] for row in yes_no.inline_keyboard] == [["是", "否"]]
    three = build_markup(
        (Button("查电费", "/query_bill"), Button("报修", "/report_fault"), Button("人工", "/x")),
        tokens,
    )
    assert three is not None
    assert [len(row) for row in three.inline_keyboard] == [2, 1]
    long_titles = build_markup(
        (Button("我要报修停电故障问题", "/report_fault"), Button("否", "/deny")), tokens
    )
    assert long_titles is not None
    assert [len(row) for row in long_titles.inline_keyboard] == [1, 1]
    single = build_markup((Button("", LONG),), tokens)
    assert single is not None
    [[button]] = single.inline_keyboard
    assert button.text == LONG  # no title: the payload is shown rather than an empty button
    assert isinstance(button.callback_data, str)
    assert button.callback_data.startswith("t:")


DURABLE = '/query_outage_info{"outage_subscription": "unsubscribe"}'


def test_a_durable_payload_travels_as_it_is_and_survives_a_restart() -> None:
    data = CallbackTokens(durable=[DURABLE]).encode(DURABLE)
    assert data == f"p:{DURABLE}"
    assert CallbackTokens(durable=[DURABLE]).decode(data) == DURABLE
    # only the payloads named durable: any other entity in direct form is refused
    assert CallbackTokens().decode(data) is None
    assert CallbackTokens(durable=[DURABLE]).decode('p:/inform{"area":"x"}') is None


def test_a_durable_payload_must_fit_in_callback_data() -> None:
    with pytest.raises(ValueError, match="fit"):
        CallbackTokens(durable=[LONG])
