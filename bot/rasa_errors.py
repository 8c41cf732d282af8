"""How a call to a Rasa worker failed, as far as the gateway can tell, and so what it may do next.

Several Rasa workers share the conversations (the SQL tracker store, the Redis lock store:
docs/scaling.md), so a message a worker did not take can go to another one at once. What
matters is whether the failed attempt may have changed the conversation:

- `RasaNotReached`: the request never reached a worker (connection refused or not made in
  time, no model loaded there): nothing happened; the next worker of the pool takes it now.
- `RasaTurnFailed`: the worker answered that it could not run the turn (our gateway channel,
  rasa_addons/gateway_channel.py: the action server, the lock store or the tracker store
  failed). Rasa saved nothing of an unfinished turn; what a finished one saved is found
  again by the retry. Every worker shares that cause: the gateway waits and retries.
  `ActionsUnavailable` is the action server's case.
- `RasaUnavailable` itself: anything else (no answer in time, the connection dropped half-way,
  an error page): the worker may still be running the turn, or may have died in it. The
  message waits; its retry is flagged and Rasa checks, under the conversation's lock, whether
  it was answered before (never run twice).
- `RasaRejected`: the worker refused the request (4xx); sending it again would not help.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp


class RasaUnavailable(Exception):
    """Rasa did not answer usefully: connection refused, timeout, 5xx or a malformed body."""


class RasaNotReached(RasaUnavailable):
    """The request never reached a worker that could run it: another worker may take it now."""


class RasaTurnFailed(RasaUnavailable):
    """The worker could not run the turn because something every worker shares failed."""


class ActionsUnavailable(RasaTurnFailed):
    """The action server could not be reached during the turn (nothing of it was saved)."""

    def __init__(self, detail: str = "the action server is down") -> None:
        # "action server" in the text: the handoff desk's failure kind (bot/turn.py)
        super().__init__(detail if "action server" in detail else f"the action server: {detail}")


class RasaRejected(Exception):
    """Rasa refused the request (4xx): sending it again would not help."""


NO_MODEL = "no_model"
ACTIONS_UNAVAILABLE = "actions_unavailable"
TRACKER_STORE_UNAVAILABLE = "tracker_store_unavailable"
TURN_FAILED = "turn_failed"
"""The error codes of the gateway channel's failure answers (rasa_addons/gateway_channel.py)."""


def error_code(body: str) -> str | None:
    """The gateway channel's `{"error": {"code": ...}}` of a failure answer, if it is one."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def server_failure(status: int, body: str) -> RasaUnavailable:
    """The exception for a 5xx answer of the webhook: what the channel said, or ambiguous."""
    code = error_code(body)
    if code == NO_MODEL:
        return RasaNotReached(f"webhook answered HTTP {status}: no model loaded")
    if code == ACTIONS_UNAVAILABLE:
        return ActionsUnavailable()
    if code == TRACKER_STORE_UNAVAILABLE:
        return RasaTurnFailed(f"webhook answered HTTP {status}: the tracker store failed")
    if code == TURN_FAILED:
        return RasaTurnFailed(f"webhook answered HTTP {status}: the turn failed")
    return RasaUnavailable(f"webhook answered HTTP {status}")


NOT_REACHED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
"""No connection was made: the request cannot have reached Rasa (another worker may take it)."""
UNSENT = "Can not write request body"
"""aiohttp's ClientOSError when the body could not be written (a kept-alive connection the
worker had closed, e.g. it just died): Rasa never got a whole request, so never ran it."""


def transport_failure(
    exc: aiohttp.ClientError | TimeoutError, url: str, what: str
) -> RasaUnavailable:
    """The exception for a request to `url` that failed on the way (`what`: webhook, tracker)."""
    name = exc.__class__.__name__
    if isinstance(exc, NOT_REACHED) or (
        isinstance(exc, aiohttp.ClientOSError) and UNSENT in str(exc)
    ):
        return RasaNotReached(f"{url} not reached: {name}")
    if isinstance(exc, TimeoutError):
        return RasaUnavailable(f"{what}: no answer in time ({name})")
    return RasaUnavailable(f"{what} unreachable: {name}")
