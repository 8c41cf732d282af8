"""Numbers as customers type them, and masking in logs (pure)."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from store.ids import (
    MaskingFilter,
    format_number,
    mask_account,
    mask_phone,
    mask_text,
    normalise_account_no,
    normalise_application_no,
    normalise_phone,
    normalise_ticket_no,
    parse_number,
)


def test_format_and_parse_round_trip() -> None:
    number = format_number("T", date(2026, 11, 23), 7)
    assert number == "T2611230007"
    parsed = parse_number(number)
    assert parsed is not None
    assert (parsed.prefix, parsed.day, parsed.sequence) == ("T", date(2026, 11, 23), 7)
    assert str(parsed) == number


@pytest.mark.parametrize("sequence", [0, 10000])
def test_sequence_range(sequence: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        format_number("T", date(2026, 11, 23), sequence)


@pytest.mark.parametrize(
    "typed",
    [
        "T2611230001",
        "t2611230001",
        "Ｔ２６１１２３０００１",
        "ｔ２６１１２３-０００１",
        " T 261123 0001 ",
    ],
)
def test_ticket_numbers_are_normalised(typed: str) -> None:
    assert normalise_ticket_no(typed) == "T2611230001"


@pytest.mark.parametrize(
    "typed", ["A2611230001", "T261123001", "T26112300012", "T2613400001", "T2611230000", "", "x"]
)
def test_non_ticket_numbers_are_refused(typed: str) -> None:
    assert normalise_ticket_no(typed) is None


def test_application_numbers() -> None:
    assert normalise_application_no("ａ２６１１２２０００２") == "A2611220002"
    assert normalise_application_no("T2611220002") is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("3301000001", "3301000001"),
        ("３３０１０００００１", "3301000001"),
        ("3301 0000 01", "3301000001"),
        ("3303301000004", "3303301000004"),
        ("330-330-100-0004", "3303301000004"),
        ("33010000011", None),  # 11 digits
        ("330100000", None),
        ("33010000a1", None),
    ],
)
def test_account_numbers(typed: str, expected: str | None) -> None:
    assert normalise_account_no(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("13905710001", "13905710001"),
        ("１３９０５７１０００１", "13905710001"),
        ("139-0571-0001", "13905710001"),
        ("+86 139 0571 0001", "13905710001"),
        ("8613905710001", "13905710001"),
        ("12905710001", None),  # 12x is not a mobile prefix
        ("1390571000", None),
    ],
)
def test_phone_numbers(typed: str, expected: str | None) -> None:
    assert normalise_phone(typed) == expected


def test_masks() -> None:
    assert mask_phone("13905710001") == "139****0001"
    assert mask_account("3301000001") == "33******01"
    assert mask_account("3303301000004") == "33*********04"
    assert mask_phone("１３９０５７１０００１") == "139****0001"


def test_mask_text_masks_phones_and_accounts_but_not_ticket_numbers() -> None:
    text = "户号3301000001 手机13905710001 工单T2611230001 全角１３９０５７１０００２"
    masked = mask_text(text)
    assert masked == "户号33******01 手机139****0001 工单T2611230001 全角139****0002"


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args or None, None)


def test_masking_filter_masks_message_and_arguments() -> None:
    record = _record("verify %s with phone %s", "3303301000004", 13905710004)
    assert MaskingFilter().filter(record) is True
    assert record.getMessage() == "verify 33*********04 with phone 139****0004"


def test_masking_filter_in_a_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test_store_ids")
    masking = MaskingFilter()
    logger.addFilter(masking)
    try:
        with caplog.at_level(logging.INFO, logger="test_store_ids"):
            logger.info("account %s", "3301000002")
    finally:
        logger.removeFilter(masking)
    assert "3301000002" not in caplog.text
    assert "33******02" in caplog.text
