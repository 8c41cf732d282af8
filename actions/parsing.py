"""Pull numbers and periods out of what customers type.

Customers type full-width digits (３３０１), Chinese numerals (幺三九…, 三月份), spaces and dashes
inside numbers, or several numbers in one message; this module turns such text into canonical
values or None. It never guesses: a malformed number gives None and the form asks again.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_CN_DIGITS = str.maketrans("零〇一幺二两三四五六七八九", "0011223456789")
_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?!\d)")
_TICKET = re.compile(r"(?<![A-Za-z0-9])([Tt])\s*(\d{10})(?!\d)")
_APPLICATION = re.compile(r"(?<![A-Za-z0-9])([Aa])\s*(\d{10})(?!\d)")
_CN_NUMERAL_RUN = re.compile(r"[零〇一幺二两三四五六七八九]{4,}")


def normalise_digits(text: str) -> str:
    """Full-width to ASCII (NFKC), runs of 4+ Chinese numerals to digits, separators dropped
    between digits ("139 0571-0001" → "13905710001")."""
    text = unicodedata.normalize("NFKC", text)
    text = _CN_NUMERAL_RUN.sub(lambda m: m.group(0).translate(_CN_DIGITS), text)
    return re.sub(r"(?<=\d)[\s\-－—]+(?=\d)", "", text)


def digit_runs(text: str) -> list[str]:
    return _DIGIT_RUN.findall(normalise_digits(text))


def find_account_no(text: str) -> str | None:
    """The first 10- or 13-digit run that is not a mobile number."""
    for run in digit_runs(text):
        if len(run) in (10, 13):
            return run
    return None


def find_phone(text: str) -> str | None:
    for run in digit_runs(text):
        if re.fullmatch(r"1[3-9]\d{9}", run):
            return run
    return None


def find_last4(text: str) -> str | None:
    """Four digits on their own ("0001", "后四位是0001"), or the tail of a full phone number."""
    runs = digit_runs(text)
    for run in runs:
        if len(run) == 4:
            return run
    phone = find_phone(text)
    return phone[-4:] if phone else None


def find_ticket_no(text: str) -> str | None:
    match = _TICKET.search(normalise_digits(text))
    return f"T{match.group(2)}" if match else None


def find_application_no(text: str) -> str | None:
    match = _APPLICATION.search(normalise_digits(text))
    return f"A{match.group(2)}" if match else None


_CN_SMALL = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def _cn_month(token: str) -> int | None:
    """一..十二 → 1..12."""
    if token.isdigit():
        return int(token)
    if token == "十":
        return 10
    if token.startswith("十") and len(token) == 2:
        return 10 + _CN_SMALL.get(token[1], 99)
    if len(token) == 1:
        return _CN_SMALL.get(token)
    return None


_MONTH = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2}|十[一二]?|[一二两三四五六七八九])\s*月")
_PERIOD_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})")


def _shift(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def parse_billing_period(text: str, today: date) -> str | None:
    """'上个月' / '3月份' / '去年12月' / '2026-03' / 'last month' → 'YYYY-MM'; None if absent.

    A bare month later than the current one means last year's (in March, '12月' is December).
    """
    iso = _PERIOD_ISO.search(unicodedata.normalize("NFKC", text))
    text = normalise_digits(text).lower()
    if any(k in text for k in ("上上个月", "上上月")):
        year, month = _shift(today.year, today.month, -2)
        return f"{year:04d}-{month:02d}"
    if any(k in text for k in ("上个月", "上月", "last month", "previous month")):
        year, month = _shift(today.year, today.month, -1)
        return f"{year:04d}-{month:02d}"
    if any(k in text for k in ("这个月", "本月", "this month", "当月")):
        return f"{today.year:04d}-{today.month:02d}"
    if match := iso:
        year, month = int(match.group(1)), int(match.group(2))
        return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else None
    if match := _MONTH.search(text):
        named = _cn_month(match.group(2))
        if named is None or not 1 <= named <= 12:
            return None
        month = named
        if match.group(1):
            year = int(match.group(1))
        elif "去年" in text:
            year = today.year - 1
        else:
            year = today.year if month <= today.month else today.year - 1
        return f"{year:04d}-{month:02d}"
    return None
