"""Machine facts parsed from /proc text, and how busy the machine was during a measurement."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


def cpu_model_and_cores(cpuinfo: str) -> tuple[str, int]:
    """('AMD EPYC', 2) from /proc/cpuinfo: the first model name, the number of processors."""
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    cores = len(re.findall(r"^processor\s*:", cpuinfo, re.MULTILINE))
    return (models[0].strip() if models else "unknown"), cores


def meminfo_total_gib(meminfo: str) -> float | None:
    found = re.search(r"^MemTotal:\s*(\d+)\s*kB", meminfo, re.MULTILINE)
    return int(found.group(1)) / 1024**2 if found else None


def os_name(os_release: str) -> str | None:
    found = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', os_release, re.MULTILINE)
    return found.group(1) if found else None


def status_kib(status: str, field: str) -> int | None:
    """A kB field of /proc/<pid>/status (VmRSS: resident now, VmHWM: its peak)."""
    found = re.search(rf"^{re.escape(field)}:\s*(\d+)\s*kB", status, re.MULTILINE)
    return int(found.group(1)) if found else None


def machine_ticks(proc_stat: str) -> tuple[int, int]:
    """(busy, total) CPU ticks of all cores since boot, from /proc/stat's 'cpu' line."""
    found = re.search(r"^cpu\s+(.+)$", proc_stat, re.MULTILINE)
    if found is None:
        raise ValueError("no 'cpu' line in /proc/stat")
    ticks = [int(x) for x in found.group(1).split()]
    user, nice, system, idle, iowait, irq, softirq, steal = (ticks + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal  # guest time is inside user already
    return busy, busy + idle + iowait


def process_ticks(pid_stat: str) -> tuple[int, int]:
    """(process group, user + system CPU ticks) from /proc/<pid>/stat. The command name in
    parentheses may hold spaces, so the fields are counted from the last ')'."""
    fields = pid_stat.rsplit(")", 1)[1].split()
    return int(fields[2]), int(fields[11]) + int(fields[12])


def cpu_shares(start: tuple[int, int, int], end: tuple[int, int, int]) -> tuple[float, float]:
    """(the bench's share, the other processes' share) of all cores' time between two readings
    of (machine busy ticks, machine total ticks, the bench's own ticks)."""
    busy0, total0, ours0 = start
    busy, total, ours = end
    elapsed = max(total - total0, 1)
    mine = max(ours - ours0, 0) / elapsed
    return mine, max((busy - busy0) / elapsed - mine, 0.0)


@dataclass(frozen=True)
class CpuUse:
    """How busy the cores were over a measurement, and which processes kept them busy."""

    cores: int
    busy: float
    """The share of all cores' time anything ran (every process on the machine)."""
    by_process: tuple[tuple[str, float], ...]
    """(name, share of one core) of the processes watched, busiest first."""

    def of(self, name: str) -> float:
        return dict(self.by_process).get(name, 0.0)

    def shares(self) -> tuple[float, float]:
        """(the watched processes' share, the others' share) of all cores' time, as
        `cpu_shares` gives them (`conditions_text`)."""
        ours = sum(share for _, share in self.by_process) / max(self.cores, 1)
        return ours, max(self.busy - ours, 0.0)


def cpu_use(
    start: tuple[int, int, Mapping[str, int]], end: tuple[int, int, Mapping[str, int]], cores: int
) -> CpuUse:
    """CpuUse between two readings of (machine busy ticks, machine total ticks, ticks of each
    watched name). A name's share of one core is its ticks over one core's ticks in the
    stretch (all cores' ticks ÷ cores): 1.0 is a core kept busy throughout."""
    busy0, total0, names0 = start
    busy, total, names = end
    elapsed = max(total - total0, 1)
    per_core = elapsed / max(cores, 1)
    shares = {name: max(ticks - names0.get(name, 0), 0) / per_core for name, ticks in names.items()}
    ordered = tuple(sorted(shares.items(), key=lambda item: (-item[1], item[0])))
    return CpuUse(cores, max(busy - busy0, 0) / elapsed, ordered)


BUSY = "busy: "
"""How the conditions start when other processes took at least a tenth of the cores' time."""


def conditions_text(
    load_before: str,
    shares: tuple[float, float],
    cores: int,
    note: str,
    *,
    started: str = "the stack started",
    ours: str = "the bench's stack and client",
) -> str:
    """The 'conditions' row: how busy the machine was, and with what."""
    mine, others = shares
    busy = BUSY if others >= 0.10 else ""
    text = (
        f"{busy}1-minute load average {load_before} before {started}; during the"
        f" measurement {ours} used {mine:.0%} of the {cores} cores' time,"
        f" other processes {others:.0%} (a machine shared with other engineers)"
    )
    return f"{text}; {note}" if note else text
