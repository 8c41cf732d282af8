"""The inbox's grouping: what `normalise_for_grouping` keeps, how `similarity` scores."""

from __future__ import annotations

import pytest

from nlu.inbox import group_key, similarity
from nlu.rules import normalise_for_grouping
from store.services.nlu_inbox_capture import GROUP_KEY_CHARS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的户号３３０１０００００２，电费多少？😊", "我的户号#电费多少"),
        ("我的户号3301000005 电费多少", "我的户号#电费多少"),
        ("  Hello,  World!! 👍🏽 ", "helloworld"),
        ("ＡＢＣ　ｄｅｆ", "abcdef"),
        ("手机13905716666，户号3303301000004", "手机#户号#"),
        ("停电了！！！", "停电了"),
        ("电费\t多少\n", "电费多少"),
        ("👨‍👩‍👧 ❤️", ""),
        ("¥100元", "#元"),
        ("", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise_for_grouping(text) == expected


def test_normalise_groups_different_numbers_together() -> None:
    assert normalise_for_grouping("户号3301000001查电费") == normalise_for_grouping(
        "户号 3301000002 查电费。"
    )
    assert normalise_for_grouping("No.12") == normalise_for_grouping("no 345") == "no#"


def test_similarity() -> None:
    assert similarity("电费多少", "电费多少") == 1.0
    assert similarity("", "") == 1.0
    assert similarity("电费", "") == 0.0
    assert similarity("ab", "ba") == 0.0
    # 我家停电了 / 我家停电了吗: bigrams 4 shared of 5
    assert similarity("我家停电了", "我家停电了吗") == pytest.approx(0.8)
    assert similarity("我家停电了吗", "我家停电了") == similarity("我家停电了", "我家停电了吗")
    # one-character texts compare as their character
    assert similarity("好", "好") == 1.0
    assert similarity("好", "好的") == 0.0
    assert 0.0 < similarity("查下上个月电费", "查一下上个月的电费") < 0.8


def test_long_texts_are_cut_for_the_key() -> None:
    assert len(group_key("电" * 5000)) == GROUP_KEY_CHARS
