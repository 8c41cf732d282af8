"""Privacy-safe logging for every process of the assistant (action server, gateway, CLI).

Phone and account numbers must never reach a log file, whichever library writes the record
(sanic, aiohttp, SQLAlchemy, our own code), nor may a web chat's id: `web:<uuid>` is a bearer
secret (whoever holds it resumes that customer's chat), so a log shows it as `web:3f2a…9c1d`,
the short form the agent console shows too (store/conversation_refs.py).

A logging *filter* only covers the handlers it is attached to, and libraries add handlers of
their own, so the masking wraps the log record factory instead: every record is masked as it is
created, before any handler or formatter sees it. Masked are the message with its arguments
(SQLAlchemy's logged statement parameters are arguments), the traceback of `exc_info` (its
exception messages quote values: a failed INSERT quotes its parameters) and `stack_info`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from store.ids import MaskingFilter, mask_account, mask_phone, mask_text, normalise_phone

__all__ = ["MaskingFilter", "RecordMasking", "install_log_masking", "mask_log_text", "mask_record"]

_INSTALLED_MARK = "_assistant_masking"

_D = "[0-9０-９]"
_SEP = "[ \t\u3000\\-‐‑‒–—－]{1,3}"
#: Digits written in groups (138 1234 5678, 1380-1234-5678, 3301 0000 01): every group but
#: the last has 3 digits or more, so dates (2026-11-23) and times never join into one number.
_GROUPED = re.compile(rf"(?<![0-9０-９A-Za-z])(?:{_D}{{3,}}{_SEP})+{_D}{{2,}}(?![0-9０-９A-Za-z])")
#: Grouped digits that make up at least this many digits are masked (an account number has 10).
_GROUPED_MIN_DIGITS = 10
_HEX = "[0-9a-fA-F]"
#: Any UUID: a web chat's session id is a bare UUID in some log lines, `web:<uuid>` in others
#: (`web%3A<uuid>` in a URL).
_UUID = re.compile(
    rf"(?:(?<=%3[aA])|(?<![0-9a-fA-F]))({_HEX}{{4}}){_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}"
    rf"-{_HEX}{{8}}({_HEX}{{4}})(?![0-9a-fA-F])"
)
_PLAIN = logging.Formatter()


def _mask_grouped(match: re.Match[str]) -> str:
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", match.group(0)) if ch.isdigit())
    if len(digits) < _GROUPED_MIN_DIGITS:
        return match.group(0)
    phone = normalise_phone(digits)
    return mask_phone(phone) if phone else mask_account(digits)


def mask_log_text(text: str) -> str:
    """Every UUID shortened to its first and last 4 hex digits, phone and account numbers
    masked, also when written in groups with spaces or dashes."""
    text = _UUID.sub(lambda m: f"{m.group(1)}…{m.group(2)}", text)
    text = _GROUPED.sub(_mask_grouped, text)
    return mask_text(text)


def mask_record(record: logging.LogRecord) -> None:
    """Mask the record in place: its message is rendered and masked (no arguments are kept),
    its traceback is formatted, masked and kept as text only (`exc_info` is dropped, so no
    handler can format the raw exception again)."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = f"{record.msg} {record.args}"
    record.msg = mask_log_text(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = _PLAIN.formatException(record.exc_info)
    record.exc_info = None
    if record.exc_text:
        record.exc_text = mask_log_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_log_text(record.stack_info)


class RecordMasking(logging.Filter):
    """`mask_record` as a filter, for a handler of a short command (store/cli.py) that should
    not change the process's record factory (its tests run it in-process)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def install_log_masking() -> None:
    """Mask every log record created from now on in this process (idempotent)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, _INSTALLED_MARK, False):
        return

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        mask_record(record)
        return record

    setattr(masked_record, _INSTALLED_MARK, True)
    logging.setLogRecordFactory(masked_record)
