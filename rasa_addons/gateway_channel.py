"""The gateway's input channel: Rasa's REST webhook that also says what NLU understood.

`POST /webhooks/gateway/webhook` takes the REST webhook's body ({"sender", "message",
"metadata", "input_channel"}) and answers

    {"messages": [... as the REST webhook ...],
     "latest_message": {"text", "intent", "intent_ranking", "entities", ..., "metadata"}}

`latest_message` has the shape of the tracker's (GET /conversations/<id>/tracker): the parse
data of *this* message with its metadata. The gateway needs it after every turn (the recorded
intent, the NLU inbox, the handoff triggers); reading it back from the tracker cost Rasa a
second request per turn (the tracker rebuilt from its store and serialised) and the gateway a
second round trip.

How: the message is parsed here, with the processor that will handle it, and handed to Rasa
with that parse data (`UserMessage.parse_data`, which Rasa's processor uses instead of parsing
again); Rasa's own REST channel does the rest exactly as for `rest`. NLU runs once per message
either way. When no model is loaded, or another model was loaded while the message was being
parsed, Rasa parses it itself and `latest_message` is null (the gateway then reads the tracker).

A turn that could not be completed is answered as a failure the gateway can act on, never as
an empty answer (which would look like a turn the bot chose to answer with nothing):

- 503 `{"error": {"code": "no_model"}}`: no model is loaded yet (nothing happened: another
  worker may take the message);
- 503 `actions_unavailable`: the action server could not be reached; nothing of the turn was
  saved (rasa_addons/turns.py), the gateway sends the message again later;
- 503 `tracker_store_unavailable`: the tracker store could not read or save the conversation
  (PostgreSQL restarting); the turn was abandoned (rasa_addons/turns.py), the gateway sends the
  message again later, answered from the tracker if its turn was saved after all;
- 500 `turn_failed`: anything else went wrong (the lock store is away); what a finished turn
  saved is found again by the gateway's retry.

A message the gateway sends again (metadata `gateway_retry`) is answered from the tracker when
an earlier attempt ran it (rasa_addons/turns.py): with several Rasa workers sharing the
conversations, it never runs twice.

Registering this channel also puts the Host header check (rasa_addons/host_check.py) in front
of every route of Rasa's server: no DNS rebinding.
"""

import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_addons import host_check, turns

logger = logging.getLogger(__name__)


class GatewayInput(RestInput):
    """credentials.yml: `rasa_addons.gateway_channel.GatewayInput:` (no settings)."""

    @classmethod
    def name(cls) -> str:
        return "gateway"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """`on_new_message` (Rasa's `Agent.handle_message`) is not called: turns.run_turn does
        what it does, with the retry's look into the tracker under the same lock."""
        webhook = Blueprint("gateway_webhook", __name__)
        host_check.install(webhook)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            sender_id = body.get("sender")
            text = body.get("message")
            if not isinstance(sender_id, str) or not sender_id or not isinstance(text, str):
                return response.json(
                    {"error": "a JSON object with 'sender' and 'message' strings"}, status=400
                )
            metadata = body.get("metadata")
            metadata = metadata if isinstance(metadata, dict) else None
            input_channel = body.get("input_channel") or self.name()
            agent = _ready_agent(request)
            if agent is None:
                return _failure(503, "no_model", "no model is loaded yet")
            collector = CollectingOutputChannel()
            parse_data = await _parse(request, text, sender_id, input_channel, metadata)
            message = UserMessage(
                text,
                collector,
                sender_id,
                input_channel=input_channel,
                metadata=metadata,
                parse_data=parse_data,
            )
            retry = bool(metadata and metadata.get(turns.RETRY_KEY))
            try:
                recorded = await turns.run_turn(agent, message, retry=retry)
            except turns.ActionServerUnreachable as exc:
                logger.warning("gateway channel: turn abandoned, nothing saved (%s)", exc)
                return _failure(503, "actions_unavailable", "the action server is unreachable")
            except turns.TrackerStoreUnavailable as exc:
                logger.warning("gateway channel: turn abandoned, tracker store failed (%s)", exc)
                return _failure(503, "tracker_store_unavailable", "the tracker store failed")
            except Exception:
                logger.exception("gateway channel: the message could not be handled")
                return _failure(500, "turn_failed", "the turn failed")
            if recorded is not None:
                messages, recorded_latest = recorded
                return response.json({"messages": messages, "latest_message": recorded_latest})
            latest = None
            if parse_data is not None:
                latest = copy.deepcopy(parse_data)
                latest["metadata"] = metadata
            return response.json({"messages": collector.messages, "latest_message": latest})

        return webhook


def _failure(status: int, code: str, message: str) -> HTTPResponse:
    """A turn that did not complete (bot/rasa_errors.py reads the code)."""
    return response.json({"error": {"code": code, "message": message}}, status=status)


def _ready_agent(request: Request) -> Any:
    """The agent that runs the turn, None while no model is loaded."""
    agent = getattr(request.app.ctx, "agent", None)
    if agent is None or not agent.is_ready():
        return None
    return agent


async def _parse(
    request: Request,
    text: str,
    sender_id: str,
    input_channel: str,
    metadata: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """NLU's parse data of the message, or None when Rasa should parse it itself."""
    agent = getattr(request.app.ctx, "agent", None)
    processor = getattr(agent, "processor", None)
    if agent is None or processor is None or not agent.is_ready():
        return None
    message = UserMessage(text, None, sender_id, input_channel=input_channel, metadata=metadata)
    try:
        parse_data = await processor.parse_message(message)
    except Exception:
        logger.exception("gateway channel: parsing failed; Rasa parses the message itself")
        return None
    if agent.processor is not processor:  # a new model came in meanwhile: its NLU decides
        return None
    return parse_data if isinstance(parse_data, dict) else None
