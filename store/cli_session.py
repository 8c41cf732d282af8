"""One way for the store's commands to change the database: a unit of work, what it did said on
stdout, a refusal on stderr (store/crew_cli.py, store/team_cli.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from sqlalchemy.orm import Session

from store.db import make_engine, make_session_factory, unit_of_work


def run_refusable(url: str, refusal: type[Exception], work: Callable[[Session], str | None]) -> int:
    """`work` in one unit of work on the database at `url`, then what it returns printed: exit
    status 0. A `refusal` it raises undoes it all and is printed on stderr as "Refused: ...":
    exit status 1."""
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            said = work(session)
    except refusal as exc:
        print(f"Refused: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if said:
        print(said)
    return 0
