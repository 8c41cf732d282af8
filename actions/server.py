"""The action server: rasa-sdk's app, on loopback by default, answering only Rasa.

Rasa POSTs the whole tracker to `/webhook` and the actions act on what it says (the sender id,
the slots), so nobody else may call it:

- it listens on ACTION_HOST [127.0.0.1]; a container sets 0.0.0.0 on its internal network;
- every request except `GET /health` must carry `Authorization: Bearer $ACTION_SERVER_TOKEN`
  (Rasa sends it: endpoints.yml), compared in constant time; otherwise 401 with a JSON error,
  logged with the method, path and client address, never the token;
- `/health` stays open and cheap (the process answers; no database) for probes.

rasa-sdk's own runner has no host option (it reads SANIC_HOST, defaulting to every interface)
and starts worker processes that would not get the check, so the app is run here, in one
process, with Sanic's `host`.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app_for_serve, create_ssl_config
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from store.config import ConfigError

log = logging.getLogger(__name__)

FORMS_LOGGER = "rasa_sdk.forms"
TOKEN_ENV = "ACTION_SERVER_TOKEN"
HOST_ENV = "ACTION_HOST"
DEFAULT_HOST = "127.0.0.1"
MIN_TOKEN_CHARS = 16
OPEN_PATHS = frozenset({"/health"})
"""Answered without the token: liveness only, nothing about any conversation."""


@dataclass(frozen=True)
class ServerSettings:
    host: str
    token: str


def server_settings(environ: Mapping[str, str] = os.environ) -> ServerSettings:
    """From the environment, validated: no token, no server (ConfigError says why)."""
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(
            f"{TOKEN_ENV} is not set: the action server answers only Rasa, which sends it"
            " (endpoints.yml). `make run` generates one into var/secrets.env."
        )
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"{TOKEN_ENV} is too short: at least {MIN_TOKEN_CHARS} characters")
    host = environ.get(HOST_ENV, "").strip() or DEFAULT_HOST
    return ServerSettings(host=host, token=token)


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries the token (constant-time comparison)."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode("utf-8"), token.encode("utf-8"))


def unauthorized() -> HTTPResponse:
    return response.json(
        {
            "error": {
                "code": "unauthorized",
                "message": "missing or wrong Authorization: Bearer token",
            }
        },
        status=401,
    )


def require_token(app: Sanic[Any, Any], token: str) -> None:
    """Refuse every request without the token, except the open paths."""

    async def authenticate(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS and request.method in ("GET", "HEAD"):
            return None
        if bearer_matches(request.headers.get("authorization"), token):
            return None
        reason = "wrong" if request.headers.get("authorization") else "missing"
        log.warning(
            "action server: %s %s from %s refused: %s token",
            request.method, request.path, request.ip, reason,
        )  # fmt: skip
        return unauthorized()

    registrar: Any = app  # Sanic's middleware decorators are loosely typed
    registrar.on_request(authenticate, priority=100)


def build_app(
    executor: ActionExecutor, token: str, *, cors: Any = None, endpoints: str = "endpoints.yml"
) -> Sanic[Any, Any]:
    """rasa-sdk's app with the token check in front of it."""
    app: Sanic[Any, Any] = create_app_for_serve(executor, cors_origins=cors, endpoints=endpoints)
    require_token(app, token)
    return app


class QuietUnvalidatedSlots(logging.Filter):
    """Drops rasa-sdk's "Skipping validation for `<slot>`: there is no validation method
    specified." A slot without a `validate_<slot>` method needs none (an entity's value such as
    the survey's rating, a slot its `extract_<slot>` method filled already cleaned), yet
    rasa-sdk warns on every message that sets one, which buried what an operator needs to see.
    Only that message goes: the logger's other warnings stay."""

    MESSAGE = re.compile(
        r"Skipping validation for `[^`]+`: there is no validation method specified\."
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return self.MESSAGE.fullmatch(record.getMessage()) is None


def _configure_logging(args: Any) -> None:
    """What rasa-sdk's own runner configures (colours, optional log file, library levels),
    without rasa-sdk's warning about slots that need no validation."""
    logging.getLogger(FORMS_LOGGER).addFilter(QuietUnvalidatedSlots())
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
        args.log_file,
        args.loglevel,
        args.logging_config_file,
    )
    utils.update_sanic_log_level()


def serve(args: Any, settings: ServerSettings) -> None:
    """Run the action server in this process until SIGINT/SIGTERM."""
    _configure_logging(args)
    executor = ActionExecutor()
    executor.register_package(args.actions_module or args.actions)
    app = build_app(executor, settings.token, cors=args.cors, endpoints=args.endpoints)
    ssl = create_ssl_config(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    scheme = "https" if ssl else "http"
    log.info("action server on %s://%s:%s (token required)", scheme, settings.host, args.port)
    run = partial(app.run, host=settings.host, port=args.port, ssl=ssl)
    run(single_process=True, motd=False, access_log=False)
