"""Application stage rules derived from conf/applications.yml: pure functions, no I/O.

Main stages are passed in order (optional ones may be skipped); a side stage (need_more_docs,
rectification_required) is entered from the stages listed for it and returns to the stage it
came from or goes on to the next one; any unfinished application may be withdrawn.
"""

from __future__ import annotations

from collections.abc import Sequence

from store.config import ApplicationType, StageSpec
from store.configuration.applications import CANCELLED

__all__ = ["CANCELLED", "allowed_stages", "is_finished", "waits_on_customer"]


def _following(main: Sequence[StageSpec], index: int) -> list[str]:
    """The next stage, plus the ones after it while the skipped ones are optional."""
    result = []
    for spec in main[index + 1 :]:
        result.append(spec.code)
        if not spec.optional:
            break
    return result


def is_finished(app_type: ApplicationType, stage: str) -> bool:
    return stage in (CANCELLED, app_type.final_stage)


def waits_on_customer(app_type: ApplicationType, stage: str) -> bool:
    """Side stages and customer stages stop the station's clock."""
    spec = app_type.stage(stage)
    return stage in app_type.side_stages or (spec is not None and spec.customer)


def allowed_stages(
    app_type: ApplicationType, voltage: str, current: str, history: Sequence[str]
) -> tuple[str, ...]:
    """Stages an application at `current` may move to; `history` is its stages so far, oldest
    first (used to find where a side stage returns to)."""
    if is_finished(app_type, current):
        return ()
    main = app_type.stages_for(voltage)
    codes = [s.code for s in main]
    if current in app_type.side_stages:
        origin = next((s for s in reversed(history) if s in codes), codes[0])
        index = codes.index(origin)
        return (origin, *_following(main, index), CANCELLED)
    if current not in codes:
        raise ValueError(f"{current!r} is not a stage of {app_type.code} ({voltage} voltage)")
    index = codes.index(current)
    sides = [name for name, origins in app_type.side_stages.items() if current in origins]
    return (*_following(main, index), *sides, CANCELLED)
