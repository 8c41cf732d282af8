"""The training part's timings, from the (monotonic seconds, stage) progress reports of the
retraining job."""

from __future__ import annotations

from collections.abc import Sequence

EVALUATING_CANDIDATE = "evaluating the candidate on the held-out set"
"""The retraining job's stage while `rasa test nlu` evaluates the candidate (nlu/loop.py)."""


def stage_seconds(events: Sequence[tuple[float, str]], stage: str) -> float | None:
    """How long a job was at `stage`, from its (monotonic seconds, stage) progress reports: from
    the first report of it to the next report of another stage (None: never reported, or no
    other stage came after it)."""
    start: float | None = None
    for at, name in events:
        if start is None:
            if name == stage:
                start = at
        elif name != stage:
            return at - start
    return None


def cache_use(events: Sequence[tuple[float, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(components Rasa restored from its cache, components it trained), each once, in the
    order the job reported them (nlu.training's stages 'restored X' and 'trained X')."""
    found: dict[str, dict[str, None]] = {"restored": {}, "trained": {}}
    for _, stage in events:
        verb, _, name = stage.partition(" ")
        if verb in found and name and " " not in name:
            found[verb][name] = None
    return tuple(found["restored"]), tuple(found["trained"])


def seconds_text(seconds: float) -> str:
    """Whole seconds, '<1' for less than half a second."""
    return "<1" if seconds < 0.5 else f"{seconds:.0f}"


def training_time(events: Sequence[tuple[float, str]], names: Sequence[str]) -> float:
    """Seconds a job spent training the components `names`: from each 'training X' to the
    next 'trained X' (nlu.training's stages)."""
    total = 0.0
    started: dict[str, float] = {}
    for at, stage in events:
        verb, _, name = stage.partition(" ")
        if name not in names:
            continue
        if verb == "training":
            started[name] = at
        elif verb == "trained" and name in started:
            total += at - started.pop(name)
    return total


def minutes(seconds: float) -> str:
    """'3 min 4 s' ('42 s' under a minute), to the second."""
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"
