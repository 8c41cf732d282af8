"""Run the gateway: `python -m bot [--host HOST] [--port PORT]` (defaults: GATEWAY_HOST/PORT).

SIGINT/SIGTERM stop it gracefully: no new connections, messages being handled finish (at most
GATEWAY_SHUTDOWN_TIMEOUT seconds), then the core closes. Phone and account numbers are masked
in every log line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace

from aiohttp import web

from bot.app import create_app
from bot.clientaddr import AccessLogger
from bot.settings import ConfigError, GatewaySettings
from store.config import ConfigError as StoreConfigError
from store.logmask import install_log_masking


def main(argv: list[str] | None = None) -> int:
    install_log_masking()
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("--host", help="interface to listen on (default: $GATEWAY_HOST)")
    parser.add_argument("--port", type=int, help="port (default: $GATEWAY_PORT or 8080)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    env = dict(os.environ)
    if args.host:
        env["GATEWAY_HOST"] = args.host  # checked like the variable (no open API by accident)
    try:
        settings = GatewaySettings.from_env(env)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 3
    if args.port:
        settings = replace(settings, port=args.port)
    try:
        app = create_app(settings)  # a channel may refuse its configuration already here
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            shutdown_timeout=settings.shutdown_timeout,
            access_log_class=AccessLogger,  # the client's address as the limiters see it
            print=lambda text: logging.getLogger("bot").info("%s", text),
        )
    except (ConfigError, StoreConfigError) as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
