"""Logs never carry a full phone or account number, whichever logger writes them."""

import logging

import pytest

from store.logmask import install_log_masking


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
