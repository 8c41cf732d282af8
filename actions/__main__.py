"""Start the action server with privacy-safe logging: `python -m actions [rasa-sdk options]`.

Phone and account numbers are masked in every log record, whichever library writes it, by
wrapping the log record factory (store.logmask, shared with the gateway) before rasa-sdk
configures its handlers.
"""

from __future__ import annotations

import sys

from rasa_sdk.__main__ import main_from_args
from rasa_sdk.endpoint import create_argument_parser

from store.logmask import install_log_masking

__all__ = ["install_log_masking", "main"]


def main(argv: list[str] | None = None) -> None:
    install_log_masking()
    parser = create_argument_parser()
    args = parser.parse_args(
        ["--actions", "actions", *(argv if argv is not None else sys.argv[1:])]
    )
    main_from_args(args)


if __name__ == "__main__":
    main()
