"""Start the action server: `python -m actions [rasa-sdk options]`.

It listens on ACTION_HOST [127.0.0.1] and answers only requests carrying ACTION_SERVER_TOKEN
(actions/server.py). Phone and account numbers are masked in every log record, whichever
library writes it, by wrapping the log record factory (store.logmask, shared with the gateway)
before rasa-sdk configures its handlers.
"""

from __future__ import annotations

import sys

from rasa_sdk.endpoint import create_argument_parser

from actions.server import serve, server_settings
from store.config import ConfigError
from store.logmask import install_log_masking

__all__ = ["install_log_masking", "main"]


def main(argv: list[str] | None = None) -> None:
    install_log_masking()
    parser = create_argument_parser()
    args = parser.parse_args(
        ["--actions", "actions", *(argv if argv is not None else sys.argv[1:])]
    )
    if getattr(args, "grpc", False):
        parser.error("--grpc is not supported: Rasa calls the actions over HTTP with a token")
    try:
        settings = server_settings()
    except ConfigError as exc:
        sys.exit(f"action server: {exc}")
    serve(args, settings)


if __name__ == "__main__":
    main()
