"""A conversation verified as the verify form leaves it: recorded in the database (what the
actions check) and the slots set. Setting the slots alone proves nothing any more."""

from __future__ import annotations

from actions.runtime import Runtime
from store.services import identity
from tests.fakes.rasa_tracker import Conversation


def verify_conversation(convo: Conversation, runtime: Runtime, account_no: str) -> None:
    with runtime.session() as session:
        identity.record(
            session,
            runtime.settings,
            sender_id=convo.sender_id,
            account_no=account_no,
            client_address=None,
            rasa_session="",
            now=runtime.now(),
        )
    convo.slots.update(verified=True, verified_account=account_no)
