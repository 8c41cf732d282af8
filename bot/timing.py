"""Where a request's time went, for its `Server-Timing` header: waiting for Rasa, or the
gateway's own work (storing, deciding, formatting).

The JSON API starts a `RequestTiming` for each message; the Rasa client adds the time of each
request it makes on that message's behalf (`waiting_for_rasa`), found through a context
variable, so nothing has to be passed down the router. `make bench` reads the header: the
client's latency minus the time in Rasa is what the gateway added to that very message, a
figure the noise in Rasa's own time does not blur.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar

_current: ContextVar[RequestTiming | None] = ContextVar("request_timing", default=None)


class RequestTiming:
    """One request's clock: started on creation; `rasa` accumulates seconds spent in Rasa."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.rasa = 0.0

    def header(self) -> str:
        """`rasa;dur=<ms>, gateway;dur=<ms>`: the time in Rasa requests and the rest of the
        request's time so far (W3C Server Timing, durations in milliseconds)."""
        total = time.perf_counter() - self.started
        own = max(0.0, total - self.rasa)
        return f"rasa;dur={self.rasa * 1000:.2f}, gateway;dur={own * 1000:.2f}"


def start_request() -> RequestTiming:
    """A new clock for the current request (its task and the tasks it starts from now on)."""
    timing = RequestTiming()
    _current.set(timing)
    return timing


@contextmanager
def waiting_for_rasa() -> Iterator[None]:
    """Count the block's time as time in Rasa for the current request, if one is timed."""
    timing = _current.get()
    if timing is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        timing.rasa += time.perf_counter() - started


def parse_server_timing(header: str) -> dict[str, float]:
    """{'rasa': 78.3, 'gateway': 4.1} from a Server-Timing header (names without a valid
    `dur` are left out)."""
    durations: dict[str, float] = {}
    for metric in header.split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "dur" and name:
                with suppress(ValueError):
                    durations[name] = float(value.strip().strip('"'))
    return durations
