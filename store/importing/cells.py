"""Reading one cell as its column needs it. Billing exports and hand-edited spreadsheets write
the same value many ways: full-width digits (１２３), thousands separators, "¥" and "元",
"2026年10月" or "202610" for a period, Excel's serial numbers for dates, 是/否 for flags. Every
parser takes the cell's text and returns the value or raises CellError with a reason staff can
act on."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from store.ids import normalise_account_no, normalise_phone
from store.importing.errors import CellError

MAX_INT = 2_000_000_000
"""Below the databases' 32-bit integer columns."""
MAX_MONEY = Decimal("9999999999.99")
"""Numeric(12, 2)."""
EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL = re.compile(r"\d{5}(\.\d+)?$")
_PERIOD = re.compile(r"(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*月?|(\d{2}))(?:[-/.]?\d{1,2}日?)?$")
_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$|(\d{4})(\d{2})(\d{2})$"
)
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}$")
_TRUE = frozenset(
    {"是", "y", "yes", "true", "1", "√", "✓", "有", "已缴", "已缴费", "已交", "已结清"}
)
_FALSE = frozenset(
    {"否", "n", "no", "false", "0", "×", "✗", "无", "未缴", "未缴费", "未交", "欠费"}
)


def clean(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII), trimmed, inner runs of white space
    made one space."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _digits(text: str) -> str:
    """A number without thousands separators, currency signs or units."""
    value = clean(text).replace(",", "").replace(" ", "")
    for mark in ("¥", "元", "kWh", "kwh", "度"):
        value = value.replace(mark, "")
    return value


def integer(text: str, *, minimum: int = 0) -> int:
    """A whole number; Excel's "120.0" is 120."""
    value = _digits(text)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CellError(f"“{text}”不是数字", "not_a_number") from None
    if not number.is_finite():
        raise CellError(f"“{text}”不是数字", "not_a_number")
    if number != number.to_integral_value():
        raise CellError(f"“{text}”不是整数", "not_an_integer")
    if not minimum <= number <= MAX_INT:
        raise CellError(f"“{text}”超出范围（{minimum} 至 {MAX_INT}）", "out_of_range")
    return int(number)


def money(text: str, *, signed: bool = False) -> Decimal:
    """An amount in yuan, rounded to the fen (an Excel float such as 12.300000000000001 too)."""
    value = _digits(text)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CellError(f"“{text}”不是金额", "not_a_number") from None
    if not number.is_finite() or abs(number) > MAX_MONEY:
        raise CellError(f"“{text}”不是有效金额", "out_of_range")
    if number < 0 and not signed:
        raise CellError(f"金额不能为负数：“{text}”", "negative")
    return number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def flag(text: str) -> bool:
    value = clean(text).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise CellError(f"“{text}”应为“是”或“否”", "not_a_flag")


def _serial_date(value: str) -> date | None:
    """Excel's day number (46296 is 2026-10-01) for a cell formatted as a date."""
    if not _SERIAL.match(value):
        return None
    return EXCEL_EPOCH + timedelta(days=int(float(value)))


def period(text: str) -> str:
    """A billing period as 'YYYY-MM' from 2026-10, 2026/10, 202610, 2026年10月, 2026-10-01 or
    an Excel date."""
    value = clean(text)
    serial = _serial_date(value)
    if serial is not None:
        return f"{serial.year:04d}-{serial.month:02d}"
    match = _PERIOD.match(value)
    month = int(match.group(2) or match.group(3)) if match else 0
    if match is None or not 1 <= month <= 12 or not 2000 <= int(match.group(1)) <= 2099:
        raise CellError(f"账期“{text}”格式不对，应为 2026-10 或 2026年10月", "bad_period")
    return f"{int(match.group(1)):04d}-{month:02d}"


def day(text: str) -> date:
    value = clean(text).split(" ")[0]
    serial = _serial_date(value)
    if serial is not None:
        return serial
    match = _DATE.match(value)
    try:
        if match is None:
            raise ValueError(value)
        parts = match.groups()
        y, m, d = (parts[0], parts[1], parts[2]) if parts[0] else (parts[3], parts[4], parts[5])
        return date(int(y), int(m), int(d))
    except ValueError:
        raise CellError(f"日期“{text}”格式不对，应为 2026-11-25", "bad_date") from None


def instant(text: str, tz: ZoneInfo) -> datetime:
    """A date with an optional time of day, in the station's time zone (Excel serials too)."""
    value = clean(text)
    if _SERIAL.match(value):
        whole = float(value)
        base = datetime.combine(EXCEL_EPOCH, time(), tz)
        return base + timedelta(days=int(whole), seconds=round((whole % 1) * 86400))
    date_part, _, time_part = value.replace("T", " ").partition(" ")
    moment = time()
    if time_part:
        match = _TIME.match(time_part.strip())
        if match is None or int(match.group(1)) > 23:
            raise CellError(f"时间“{text}”格式不对，应为 2026-11-25 14:30", "bad_date")
        moment = time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    return datetime.combine(day(date_part), moment, tz)


def account_no(text: str) -> str:
    if "E+" in text.upper():
        raise CellError(f"户号“{text}”被 Excel 转成了科学计数法，请把该列设为文本", "scientific")
    value = normalise_account_no(clean(text))
    if value is None:
        raise CellError(f"户号“{text}”应为 10 位数字（或带省码的 13 位）", "bad_account_no")
    return value


def meter_no(text: str) -> str:
    if "E+" in text.upper():
        raise CellError(f"表号“{text}”被 Excel 转成了科学计数法，请把该列设为文本", "scientific")
    value = clean(text).replace(" ", "").replace("-", "")
    if not value.isascii() or not value.isalnum() or not 6 <= len(value) <= 32:
        raise CellError(f"表号“{text}”应为 6 至 32 位数字或字母", "bad_meter_no")
    return value.upper()


def phone(text: str) -> str:
    value = clean(text).replace(" ", "")
    mobile = normalise_phone(value)
    if mobile is not None:
        return mobile
    if _LANDLINE.match(value):
        return value.replace("-", "")
    raise CellError(f"电话“{text}”不是手机号（11 位）或座机号（区号-号码）", "bad_phone")


def text(value: str, *, limit: int) -> str:
    cleaned = clean(value)
    if len(cleaned) > limit:
        raise CellError(f"内容过长（{len(cleaned)} 字，最多 {limit} 字）", "too_long")
    return cleaned
