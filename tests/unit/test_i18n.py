"""Reply language: Chinese first; English only when the customer writes English."""

import pytest

from store.i18n import detect_language, pick


@pytest.mark.parametrize(
    ("text", "previous", "expected"),
    [
        ("俺家停电了咋回事", "zh", "zh"),
        ("停電了", "en", "zh"),
        ("no power at my house", "zh", "en"),
        ("How much is my electricity bill?", "zh", "en"),
        ("I want to change my name on the account", "zh", "en"),
        ("tingdian le", "zh", "zh"),  # pinyin is Chinese
        ("zhuan rengong", "en", "zh"),
        ("dianfei duoshao", "zh", "zh"),
        ("3301000001", "en", "en"),  # digits carry no language: keep the previous one
        ("3301000001", "zh", "zh"),
        ("👍👍", "en", "en"),
        # a lone 'ok' or 'hi' is typed inside Chinese chats too: it keeps the language
        ("ok", "zh", "zh"),
        ("ok", "en", "en"),
        ("hello", "zh", "en"),
        # keyboard mashing and emoji say nothing about the language (issue 13)
        ("asdfgh", "zh", "zh"),
        ("asdfgh 😀", "zh", "zh"),
        ("qwrtzx", "en", "en"),
        ("my lights are off", "zh", "en"),
        ('/rate_service{"rating": 4}', "zh", "zh"),  # a button press carries no language
        ("我的account number是3301000001", "en", "zh"),  # any Chinese → Chinese
    ],
)
def test_detect_language(text: str, previous: str, expected: str) -> None:
    assert detect_language(text, previous) == expected  # type: ignore[arg-type]


def test_pick() -> None:
    assert pick("en", "中", "en") == "en"
    assert pick("zh", "中", "en") == "中"
    assert pick(None, "中", "en") == "中"
