"""Logs never carry a full phone or account number or a web chat's id, whichever logger writes
them and wherever in the record the value sits (message, arguments, traceback, stack)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from store.logmask import install_log_masking, mask_log_text

SESSION = "3f2a6b1c-0d4e-4f5a-8b6c-7d8e9f0a9c1d"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What a plain handler on the root logger writes, with the masking installed as the
    processes install it (the record factory), restored afterwards."""
    original = logging.getLogRecordFactory()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        install_log_masking()
        yield out
    finally:
        logging.setLogRecordFactory(original)
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_masked_in_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    original = logging.getLogRecordFactory()
    try:
        install_log_masking()
        with caplog.at_level(logging.INFO):
            logging.getLogger("sanic.access").info(
                "verify %s phone %s", "3301000001", "13905710001"
            )
            logging.getLogger("anything").warning("account 3303301000004 failed")
    finally:
        logging.setLogRecordFactory(original)
    text = caplog.text
    assert "3301000001" not in text
    assert "13905710001" not in text
    assert "3303301000004" not in text
    assert "139****0001" in text


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("1380-1234-5678", "13********78"),
        ("+86 138 1234 5678", "+86 138****5678"),
        ("１３８ １２３４ ５６７８", "138****5678"),
        ("3301 0000 01", "33******01"),
        ("3303 3010 000 04", "33*********04"),
        ("6222 0212 3456 7890 123", "62***************23"),
        ("13905710001 138 1234 5678", "13******************78"),  # side by side: one number
    ],
)
def test_numbers_written_in_groups_are_masked(
    log_output: io.StringIO, written: str, masked: str
) -> None:
    logging.getLogger("bot").info("customer wrote %s here", written)
    assert log_output.getvalue() == f"INFO bot: customer wrote {masked} here\n"


@pytest.mark.parametrize(
    "kept",
    [
        "2026-11-23 10:00:00",  # dates and times are no numbers of anyone's
        "T2611230001",
        "A2611230001",
        "127.0.0.1:5005",
        "took 1234 ms for 56 rows",
        "2026-11-23 13:05 ticket 12 of 345",
    ],
)
def test_dates_times_and_work_numbers_are_kept(log_output: io.StringIO, kept: str) -> None:
    logging.getLogger("bot").info("%s", kept)
    assert log_output.getvalue() == f"INFO bot: {kept}\n"


def test_web_chat_ids_are_shortened(log_output: io.StringIO) -> None:
    log = logging.getLogger("bot.channels.webchat")
    log.info("message from web:%s", SESSION)
    log.info("socket of session %s gone", SESSION)
    log.info("GET /api/v1/conversations/web%%3A%s/messages", SESSION.upper())
    text = log_output.getvalue()
    assert SESSION not in text
    assert SESSION.upper() not in text
    assert "0d4e-4f5a-8b6c" not in text.lower()
    assert text.splitlines() == [
        "INFO bot.channels.webchat: message from web:3f2a…9c1d",
        "INFO bot.channels.webchat: socket of session 3f2a…9c1d gone",
        "INFO bot.channels.webchat: GET /api/v1/conversations/web%3A3F2A…9C1D/messages",
    ]


class LookupFailedError(Exception):
    pass


def _look_up(phone: str, chat: str) -> None:
    raise LookupFailedError(f"no account for {phone} in {chat}")


def test_tracebacks_are_masked(log_output: io.StringIO) -> None:
    try:
        try:
            _look_up("13905710001", f"web:{SESSION}")
        except LookupFailedError as exc:
            raise RuntimeError("while verifying account 3301 0000 01") from exc
    except RuntimeError:
        logging.getLogger("actions").exception("action failed for %s", "138-1234-5678")
    text = log_output.getvalue()
    assert "Traceback (most recent call last)" in text  # the traceback is still there
    assert "LookupFailedError: no account for 139****0001 in web:3f2a…9c1d" in text
    assert "RuntimeError: while verifying account 33******01" in text
    assert "action failed for 138****5678" in text
    for secret in ("13905710001", SESSION, "3301 0000 01", "1234-5678"):
        assert secret not in text


def test_a_traceback_is_masked_for_every_handler(log_output: io.StringIO) -> None:
    """The raw exception is gone from the record: a handler with its own formatter cannot
    format it again unmasked."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    logging.getLogger().addHandler(keep)
    try:
        try:
            _look_up("13905710001", "api:me")
        except LookupFailedError:
            logging.getLogger("x").error("failed", exc_info=True, stack_info=True)
    finally:
        logging.getLogger().removeHandler(keep)
    [record] = seen
    assert record.exc_info is None
    assert "139****0001" in str(record.exc_text)
    assert "13905710001" not in logging.Formatter().format(record)


def test_mask_log_text_leaves_plain_text_alone() -> None:
    text = "用户说：东山村3组停电了 (intent report_fault, 0.93)"
    assert mask_log_text(text) == text
