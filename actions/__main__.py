"""Start the action server with privacy-safe logging: `python -m actions [rasa-sdk options]`.

Phone and account numbers are masked in every log record, whichever library writes it, by
wrapping the log record factory before rasa-sdk configures its handlers.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from rasa_sdk.__main__ import main_from_args
from rasa_sdk.endpoint import create_argument_parser

from store.ids import MaskingFilter


def install_log_masking() -> None:
    masking = MaskingFilter()
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        masking.filter(record)
        return record

    logging.setLogRecordFactory(masked_record)


def main(argv: list[str] | None = None) -> None:
    install_log_masking()
    parser = create_argument_parser()
    args = parser.parse_args(
        ["--actions", "actions", *(argv if argv is not None else sys.argv[1:])]
    )
    main_from_args(args)


if __name__ == "__main__":
    main()
