"""Numbers customers type and staff read: ticket, application, account and phone numbers.

Customers write them with full-width digits (Ｔ２６１１２３０００１), lowercase letters, spaces and
dashes; everything is normalised before lookup and never guessed. Logs must not carry whole
phone or account numbers, hence `mask_*` and `MaskingFilter`.
"""

from __future__ import annotations

import logging
import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

TICKET_PREFIX = "T"
APPLICATION_PREFIX = "A"
_NUMBER = re.compile(r"^([TA])(\d{2})(\d{2})(\d{2})(\d{4})$")
_SEPARATORS = re.compile(r"[\s\-_.·—－]+")
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_ACCOUNT = re.compile(r"^(\d{10}|\d{13})$")
# In free text: not glued to other letters/digits (so 'T2611230001' is not an account number).
# Full-width digits count too: they are what some phone keyboards produce.
_D = "[0-9０-９]"
_PHONE_IN_TEXT = re.compile(rf"(?<![0-9０-９A-Za-z])[1１][3-9３-９]{_D}{{9}}(?!{_D})")
_ACCOUNT_IN_TEXT = re.compile(rf"(?<![0-9０-９A-Za-z])({_D}{{13}}|{_D}{{10}})(?!{_D})")


def _compact(text: str) -> str:
    """Full-width to ASCII (NFKC) and separators removed."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or "")).strip()


@dataclass(frozen=True)
class WorkNumber:
    """A parsed ticket or application number: prefix, day of creation, sequence of the day."""

    prefix: str
    day: date
    sequence: int

    def __str__(self) -> str:
        return format_number(self.prefix, self.day, self.sequence)


def format_number(prefix: str, day: date, sequence: int) -> str:
    """'T' + YYMMDD + 4-digit sequence of the day, e.g. T2611230001."""
    if prefix not in (TICKET_PREFIX, APPLICATION_PREFIX):
        raise ValueError(f"unknown prefix {prefix!r}")
    if not 1 <= sequence <= 9999:
        raise ValueError(f"sequence {sequence} out of range 1-9999")
    return f"{prefix}{day:%y%m%d}{sequence:04d}"


def parse_number(text: str) -> WorkNumber | None:
    """Parse a ticket or application number; None when it is not one (or not a real date)."""
    match = _NUMBER.match(_compact(text).upper())
    if match is None:
        return None
    prefix, yy, mm, dd, seq = match.groups()
    try:
        day = date(2000 + int(yy), int(mm), int(dd))
    except ValueError:
        return None
    if int(seq) == 0:
        return None
    return WorkNumber(prefix, day, int(seq))


def _normalise_number(text: str, prefix: str) -> str | None:
    parsed = parse_number(text)
    return str(parsed) if parsed is not None and parsed.prefix == prefix else None


def normalise_ticket_no(text: str) -> str | None:
    """'ｔ２６１１２３-０００１' → 'T2611230001'; None if it is not a ticket number."""
    return _normalise_number(text, TICKET_PREFIX)


def normalise_application_no(text: str) -> str | None:
    return _normalise_number(text, APPLICATION_PREFIX)


def normalise_account_no(text: str) -> str | None:
    """A 10-digit account number, or 13 digits with the province prefix; else None."""
    value = _compact(text)
    return value if _ACCOUNT.match(value) else None


def normalise_phone(text: str) -> str | None:
    """A mainland mobile number (1[3-9] + 9 digits), accepting +86 / 86 in front; else None."""
    value = _compact(text).removeprefix("+")
    if len(value) == 13 and value.startswith("86"):
        value = value[2:]
    return value if _PHONE.match(value) else None


def mask_phone(phone: str) -> str:
    """13905710001 → 139****0001."""
    value = _compact(phone)
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_account(account_no: str) -> str:
    """3301000001 → 33******01: recognisable to its owner, useless to anyone else."""
    value = _compact(account_no)
    if len(value) < 6:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_text(text: str) -> str:
    """Mask every phone and account number inside a free text."""
    text = _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
    return _ACCOUNT_IN_TEXT.sub(lambda m: mask_account(m.group(0)), text)


def synthetic_numbers(text: str, rng: random.Random | None = None) -> str:
    """Every phone and account number inside `text` replaced by a made-up one of the same shape:
    the same length and digit width (full-width stays full-width), the first two digits kept
    (a phone still starts 1[3-9]), the rest random. For texts that leave the database, such as
    training examples written into data/: the model learns the shape, no one's number is kept.
    Offsets into the text stay valid."""
    draw = rng or random.SystemRandom()

    def fake(match: re.Match[str]) -> str:
        number = match.group(0)
        out = list(number[:2])
        for ch in number[2:]:
            digit = str(draw.randrange(10))
            out.append(chr(ord("０") + int(digit)) if "０" <= ch <= "９" else digit)
        return "".join(out)

    text = _PHONE_IN_TEXT.sub(fake, text)
    return _ACCOUNT_IN_TEXT.sub(fake, text)


class MaskingFilter(logging.Filter):
    """Logging filter that masks phone and account numbers in messages and their arguments.

    The message is rendered first (so a number split across arguments is still seen) and the
    record keeps the masked text with no arguments.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg} {record.args}"
        record.msg = mask_text(message)
        record.args = None
        return True
