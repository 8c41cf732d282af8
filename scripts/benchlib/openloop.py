"""The pure half of `make bench`'s open-loop load (scripts/benchload.py `open_loop` drives it):
when each message is due, which simulated conversation says it, and the figures of one rate.

Closed-loop customers send their next message when the reply is in, so a slow server slows
the load down with it and a message's wait before it is sent is never measured (coordinated
omission). Here the rate sets the pace: message i is due at `i / rate` seconds, whatever the
replies do, and its latency runs from that due time, not from when it was actually sent. Each
due message is the next line of a conversation whose previous reply is in; when every
conversation is still waiting for a reply, a new one starts, so a slow server is met with more
conversations at once, as a township's customers would. No I/O: tests/unit/test_bench_trackers.py.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass

from scripts.benchlib.customer import PHASES, Customer, phone_number
from scripts.benchlib.figures import Latencies


def schedule(rate: float, seconds: float) -> list[float]:
    """When each message is due, in seconds from the start: `rate` a second for `seconds`."""
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"a rate and a duration above 0 are needed, got {rate} and {seconds}")
    return [i / rate for i in range(max(1, math.floor(rate * seconds + 1e-9)))]


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, sent when it is due."""

    conversation: int
    sender: str
    text: str


class Conversations:
    """The open loop's simulated conversations (scripts/benchlib/customer.py's script each).

    `take()` gives the next message to send: the next line of the conversation whose reply came
    in first among those waiting for their turn, else the first line of a new conversation. New
    conversations start at the script's phases in turn (the first at the greeting, the next at
    the fault report, ...; each phase stands on its own), so the mix of messages stays the
    script's even when an overloaded server makes the loop start many. `answered(turn, reply)`
    puts the conversation back in line with what it says next (or ends it: the script is done);
    `failed(turn)` ends it, as a customer gives up on an error."""

    def __init__(self, tag: str, phones: Iterator[int]) -> None:
        self.tag = tag
        self.phones = phones
        self.started = 0
        self.finished = 0
        self.off_script = 0
        self._scripts: dict[int, Customer] = {}
        self._ready: deque[tuple[int, str]] = deque()

    def take(self) -> Turn:
        if self._ready:
            number, text = self._ready.popleft()
        else:
            number = self.started
            self.started += 1
            script = Customer(phone_number(next(self.phones)), first_phase=number % len(PHASES))
            self._scripts[number] = script
            first = script.next_message(None)
            if first is None:  # pragma: no cover - every phase has a first line
                raise ValueError("the customer's script has no first message")
            text = first
        return Turn(number, f"open-{self.tag}-{number}", text)

    def answered(self, turn: Turn, reply: str) -> None:
        script = self._scripts[turn.conversation]
        following = script.next_message(reply)
        if following is None:
            self._end(turn.conversation)
        else:
            self._ready.append((turn.conversation, following))

    def failed(self, turn: Turn) -> None:
        self._end(turn.conversation)

    def _end(self, number: int) -> None:
        script = self._scripts.pop(number)
        self.off_script += script.off_script
        self.finished += 1

    def close(self) -> None:
        """The end of the load: the conversations still under way count as ended."""
        self._ready.clear()
        for number in list(self._scripts):
            self._end(number)

    @property
    def waiting(self) -> int:
        """Conversations whose reply is in and whose next line is not yet due."""
        return len(self._ready)


@dataclass(frozen=True)
class OpenRate(Latencies):
    """One rate of the open loop: what was offered, what came back, how long it took."""

    offered: float
    """Messages a second the schedule sent."""
    seconds: float
    """How long the schedule ran (the last message was due just before its end)."""
    sent: int
    latencies_ms: tuple[float, ...]
    """From each answered message's due time to its complete reply."""
    elapsed: float
    """From the first message's due time to the last reply (or failure), and at least the
    schedule's `seconds`: the time the answers took, the replies still due at the end
    included (so a stack that keeps up achieves the offered rate, not a little more)."""
    errors_by_kind: tuple[tuple[str, int], ...] = ()
    off_script: int = 0
    conversations: int = 0
    late_ms: float = 0.0
    """The most a message went out after its due time: the client's own lag, which must stay
    small for the offered rate to be the one sent (it is inside the latencies either way)."""

    @property
    def answered(self) -> int:
        return len(self.latencies_ms)

    @property
    def achieved(self) -> float:
        """Answered messages a second, over `elapsed`: the offered rate when the stack keeps
        up, what it can answer when it does not."""
        return self.answered / self.elapsed if self.elapsed > 0 else math.nan


def open_rate(
    offered: float,
    seconds: float,
    due: list[float],
    done: list[tuple[float, float]],
    errors: Counter[str],
    conversations: Conversations,
    *,
    last: float,
    late: float,
) -> OpenRate:
    """The figures of one rate from its raw timings, in seconds on one clock: `due` every
    message's due time, `done` (due, replied) of each answered one, `last` when the last answer
    or failure came, `late` the largest lag of a send behind its due time. Conversations still
    under way are ended first."""
    conversations.close()
    first = due[0] if due else last
    elapsed = max(last - first, seconds)
    return OpenRate(
        offered=offered,
        seconds=seconds,
        sent=len(due),
        latencies_ms=tuple((replied - at) * 1000 for at, replied in done),
        elapsed=elapsed,
        errors_by_kind=tuple(sorted(errors.items())),
        off_script=conversations.off_script,
        conversations=conversations.started,
        late_ms=late * 1000,
    )
