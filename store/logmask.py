"""Privacy-safe logging for every process of the assistant (action server, gateway, CLI).

Phone and account numbers must never reach a log file, whichever library writes the record
(sanic, aiohttp, SQLAlchemy, our own code). A logging *filter* only covers the handlers it is
attached to, and libraries add handlers of their own, so the masking wraps the log record
factory instead: every record is masked as it is created.
"""

from __future__ import annotations

import logging
from typing import Any

from store.ids import MaskingFilter

__all__ = ["MaskingFilter", "install_log_masking"]

_INSTALLED_MARK = "_assistant_masking"


def install_log_masking() -> None:
    """Mask phone and account numbers in every log record created from now on (idempotent)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, _INSTALLED_MARK, False):
        return
    masking = MaskingFilter()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        masking.filter(record)
        return record

    setattr(masked_record, _INSTALLED_MARK, True)
    logging.setLogRecordFactory(masked_record)
