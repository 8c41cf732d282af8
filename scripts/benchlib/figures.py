"""Latency statistics of the two paths (the gateway, Rasa alone) and the verdicts against the
issue's targets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_OVERHEAD_MS = 10.0
"""Target: the gateway adds at most this much latency at p50 over Rasa alone."""
MIN_THROUGHPUT_RATIO = 0.90
"""Target: the gateway keeps at least this share of Rasa's messages per second."""
MAX_GATEWAY_MB = 150.0
"""Target: the gateway's memory (peak resident set) stays under this."""
MAX_RETRAIN_TO_DEPLOYED_S = 180.0
"""Target: an operator's retraining, evaluated, guarded and deployed in under this."""

GATEWAY, RASA = "gateway", "rasa"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile, interpolating between closest ranks (numpy's default); NaN if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0-100, got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Latencies:
    """The error count, p50 and p95 of a measurement's `latencies_ms` and `errors_by_kind`
    (a closed-loop path, an open-loop rate)."""

    latencies_ms: tuple[float, ...]
    errors_by_kind: tuple[tuple[str, int], ...]

    @property
    def errors(self) -> int:
        return sum(count for _, count in self.errors_by_kind)

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies_ms, 95)


@dataclass(frozen=True)
class PathRun(Latencies):
    """One path (the gateway, or Rasa directly) at one level, its rounds taken together."""

    path: str
    customers: int
    latencies_ms: tuple[float, ...]
    """Send to reply, of every answered message."""
    seconds: float
    """Time spent driving this path, drains included."""
    errors_by_kind: tuple[tuple[str, int], ...] = ()
    """Failed messages: refused, timed out, not 200, malformed, or (gateway) degraded."""
    off_script: int = 0
    peak_rss_mb: float | None = None
    """The gateway's largest resident set sampled while this path ran (gateway path only)."""
    own_ms: tuple[float, ...] = ()
    """Gateway path: per answered message, the client's latency minus the time the gateway
    waited for Rasa (its Server-Timing header): what the gateway added to that message."""

    @property
    def messages(self) -> int:
        return len(self.latencies_ms)

    @property
    def own_p50(self) -> float:
        return percentile(self.own_ms, 50)

    @property
    def own_p95(self) -> float:
        return percentile(self.own_ms, 95)

    @property
    def rate(self) -> float:
        """Answered messages per second."""
        return self.messages / self.seconds if self.seconds > 0 else math.nan


@dataclass(frozen=True)
class Level:
    customers: int
    gateway: PathRun
    rasa: PathRun

    @property
    def overhead_ms(self) -> float:
        """What the gateway adds at p50, A/B: gateway p50 - Rasa p50."""
        return self.gateway.p50 - self.rasa.p50

    @property
    def own_ms(self) -> float:
        """What the gateway adds at p50, measured message by message (`PathRun.own_ms`); NaN
        when the gateway did not say (no Server-Timing header)."""
        return self.gateway.own_p50

    @property
    def throughput_ratio(self) -> float:
        """Gateway messages per second / Rasa's."""
        rasa = self.rasa.rate
        return self.gateway.rate / rasa if rasa > 0 else math.nan


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool | None
    """None: not measured."""


def verdict_word(met: bool | None) -> str:
    """The Targets table's verdict column."""
    return "not measured" if met is None else "met" if met else "**not met**"


def _levels_text(levels: Sequence[Level], values: Sequence[str]) -> str:
    counts = " / ".join(str(level.customers) for level in levels)
    return f"{' / '.join(values)} at {counts} customers"


def verdicts(levels: Sequence[Level], gateway_peak_mb: float | None) -> list[Verdict]:
    """The issue's three targets, each met only when every level meets it (NaN never does).

    The p50 target is judged on what the gateway added to each message (client latency minus
    its time waiting for Rasa, p50): the difference of the two paths' p50s is shown beside it,
    but at 1 customer it moves by more than the target from run to run (Rasa's own time varies
    with the message), and where customers queue for Rasa it restates the throughput ratio
    (see `notes`). A level without the gateway's timing header is judged on that difference."""
    overheads = [level.overhead_ms for level in levels]
    own = [level.own_ms for level in levels]
    ratios = [level.throughput_ratio for level in levels]
    ab = _levels_text(levels, [f"{o:+.1f} ms" for o in overheads])
    judged = [o if not math.isnan(o) else d for o, d in zip(own, overheads, strict=True)]
    p50_measured = ab
    if not all(math.isnan(o) for o in own):
        own_text = [f"{o:.1f} ms" if not math.isnan(o) else "n/a" for o in own]
        p50_measured = (
            f"{_levels_text(levels, own_text)}, message by message"
            f" (the difference of the two paths' p50s: {ab})"
        )
    return [
        Verdict(
            f"the gateway adds at most {MAX_OVERHEAD_MS:g} ms at p50 over Rasa alone",
            p50_measured,
            bool(levels) and all(o <= MAX_OVERHEAD_MS for o in judged),
        ),
        Verdict(
            f"the gateway keeps at least {MIN_THROUGHPUT_RATIO:.0%} of Rasa's throughput",
            _levels_text(levels, [f"{r:.0%}" for r in ratios]),
            bool(levels) and all(r >= MIN_THROUGHPUT_RATIO for r in ratios),
        ),
        Verdict(
            f"gateway memory under {MAX_GATEWAY_MB:g} MB",
            "not measured"
            if gateway_peak_mb is None
            else f"{gateway_peak_mb:.0f} MB peak resident (VmHWM)",
            gateway_peak_mb is not None and gateway_peak_mb < MAX_GATEWAY_MB,
        ),
    ]
