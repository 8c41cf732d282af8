"""Which Rasa server answers customers (blue/green deployment with RASA_STANDBY_URL).

A deployment loads the new model into the server that is not serving, then `switch`es this row
to it; every gateway process follows the row (`serving_url`), so customers move to the new
model at once and never wait for a model to load. The server that served before keeps the
previous model: rolling back to it is a switch, not a load.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from store.models import RasaServing
from store.sla import require_aware

NAME = "nlu"


def serving(session: Session) -> RasaServing | None:
    return session.get(RasaServing, NAME)


def serving_url(session: Session) -> str | None:
    row = serving(session)
    return row.url if row is not None else None


def switch(
    session: Session, *, url: str, model_file: str | None, actor_name: str, now: datetime
) -> RasaServing:
    """Point customers at `url` (which runs `model_file`)."""
    require_aware(now)
    row = serving(session)
    if row is None:
        row = RasaServing(name=NAME, url=url, switched_at=now, switched_by=actor_name)
        session.add(row)
    row.url, row.model_file, row.switched_at, row.switched_by = url, model_file, now, actor_name
    session.flush()
    return row
