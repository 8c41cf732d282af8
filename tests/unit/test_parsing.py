"""What customers type → canonical numbers and periods (no I/O)."""

from datetime import date

import pytest

from actions.parsing import (
    find_account_no,
    find_application_no,
    find_last4,
    find_phone,
    find_ticket_no,
    normalise_digits,
    parse_billing_period,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("户号3301000001", "3301000001"),
        ("３３０１０００００１", "3301000001"),  # full-width
        ("我的户号是 3303301000004 谢谢", "3303301000004"),  # 13 digits with province prefix
        ("3301 0000 01", "3301000001"),  # spaces inside
        ("13905710001", None),  # an 11-digit phone is not an account
        ("330100000", None),  # 9 digits
        ("33010000012", None),  # 11 digits
        ("abc", None),
        ("", None),
        ("'; DROP TABLE accounts; --", None),
    ],
)
def test_find_account_no(text: str, expected: str | None) -> None:
    assert find_account_no(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("电话13905710001", "13905710001"),
        ("139-0571-0001", "13905710001"),
        ("幺三九零五七幺零零零幺", "13905710001"),  # spoken digits
        ("12905710001", None),  # second digit must be 3-9
        ("1390571000", None),
    ],
)
def test_find_phone(text: str, expected: str | None) -> None:
    assert find_phone(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0001", "0001"),
        ("后四位是０００１", "0001"),
        ("尾号是1234吧", "1234"),
        ("13905710001", "0001"),
        ("123", None),
        ("12345", None),
        ("没有", None),
    ],
)
def test_find_last4(text: str, expected: str | None) -> None:
    assert find_last4(text) == expected


def test_ticket_and_application_numbers() -> None:
    assert find_ticket_no("查下t2611230007到哪了") == "T2611230007"
    assert find_ticket_no("单号 T 2611230007") == "T2611230007"
    assert find_ticket_no("T261123000") is None
    assert find_ticket_no("AT2611230007") is None
    assert find_application_no("a2611200003") == "A2611200003"
    assert find_application_no("T2611200003") is None


def test_normalise_digits_keeps_words() -> None:
    assert normalise_digits("东山村３组") == "东山村3组"
    assert normalise_digits("三月份") == "三月份"  # short numeral words are not numbers


TODAY = date(2026, 3, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("上个月", "2026-02"),
        ("上上个月电费", "2026-01"),
        ("这个月", "2026-03"),
        ("3月份", "2026-03"),
        ("三月份的", "2026-03"),
        ("十二月", "2025-12"),  # a later month means last year
        ("去年5月", "2025-05"),
        ("2025年11月", "2025-11"),
        ("2025-07", "2025-07"),
        ("last month", "2026-02"),
        ("13月", None),
        ("电费多少", None),
    ],
)
def test_parse_billing_period(text: str, expected: str | None) -> None:
    assert parse_billing_period(text, TODAY) == expected


def test_january_last_month_is_previous_december() -> None:
    assert parse_billing_period("上个月", date(2026, 1, 5)) == "2025-12"
