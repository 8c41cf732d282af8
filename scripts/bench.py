"""`make bench`: what the gateway costs in front of Rasa (latency, throughput, memory), and on
request how long training and an operator's retrain-to-deployed take.

The gateway part starts its own stack on free loopback ports: a temporary SQLite database,
migrated and seeded with the demo; the action server; `rasa run` with the trained model; the
gateway in front. After a warm-up it drives 1, 10 and 50 simulated customers (scripts/benchlib.py
`Customer`) through the gateway's JSON API and, alternating with it in rounds, straight to
Rasa's REST webhook, samples the gateway's memory, prints the figures and rewrites the generated
part of BENCHMARKS.md with the verdicts against the issue's targets. Every server it started is
stopped at the end, also on failure and on Ctrl-C.

    python -m scripts.bench [--levels 1,10,50] [--duration 20] [--rounds 2] [--warmup 3]
                            [--flood-rate 50] [--flood-seconds 30] [--flood-customers 10]
                            [--only gateway|flood|training] [--note TEXT] [--output BENCHMARKS.md]

After the levels, on the same stack, the flood part (scripts/benchflood.py): the customers'
p50 while console logins flood the gateway, against their p50 without the flood in the same
run; `--only flood` measures only that (after the warm-up), `--flood-rate 0` leaves it out.

The training part (scripts/benchtrain.py, several minutes) runs first with BENCH_TRAIN=1, or
alone with `--only training`: a full training of the shipped data with an empty Rasa cache, then
an operator's retraining after a few new examples, evaluated, guarded and deployed into a
running Rasa, all in a scratch copy of the project (models/current.tar.gz stays as it is).
A part this run does not measure is carried over from the previous BENCHMARKS.md, and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import aiohttp

from bot.timing import parse_server_timing
from scripts import floodlib
from scripts.benchflood import FloodFigures, measure_flood, protections_text
from scripts.benchlib import (
    GATEWAY,
    RASA,
    CarriedGateway,
    Customer,
    GatewayRun,
    Level,
    Machine,
    Part,
    PathRun,
    Report,
    RunInfo,
    command_line,
    conditions_text,
    cpu_model_and_cores,
    lost_gateway_figures,
    meminfo_total_gib,
    merge_benchmarks,
    os_name,
    percentile,
    phone_number,
    previous_gateway,
    previous_training,
    render_markdown,
    summary_text,
    training_summary,
)
from scripts.benchstack import (
    BENCH_GATEWAY_ENV,
    MODEL,
    RASA_BIN,
    RASA_PYTHON,
    ROOT,
    SAMPLE_EVERY,
    BenchError,
    CpuWatch,
    MemorySampler,
    Servers,
    Stack,
    read,
    say,
    start_stack,
)
from scripts.benchtrain import measure_training

REQUEST_TIMEOUT = 60.0
"""Seconds a client waits for one reply before counting a timeout."""
SETTLE = 1.0
"""Pause before each run, so the gateway's background work of the previous one is done."""


class Failed(Exception):
    """One message got no usable answer; `kind` is how it failed."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


# --- driving the customers ---------------------------------------------------------------------

Send = Callable[[aiohttp.ClientSession, str, str], Awaitable[tuple[str, float | None]]]
"""Send one message: the reply texts and, from the gateway, its time waiting for Rasa (ms)."""


def _texts(replies: object) -> str:
    if not isinstance(replies, list):
        raise Failed("malformed answer")
    return "\n".join(str(r.get("text") or "") for r in replies if isinstance(r, dict))


def via_gateway(base: str) -> Send:
    url = f"{base}/api/v1/messages"

    async def send(
        session: aiohttp.ClientSession, sender: str, text: str
    ) -> tuple[str, float | None]:
        async with session.post(url, json={"sender": sender, "text": text}) as response:
            body = await response.read()
            if response.status != 200:
                raise Failed(f"HTTP {response.status}")
            rasa_ms = parse_server_timing(response.headers.get("Server-Timing", "")).get("rasa")
        try:
            data = json.loads(body)
        except ValueError:
            raise Failed("malformed answer") from None
        if not isinstance(data, dict):
            raise Failed("malformed answer")
        if data.get("degraded"):
            raise Failed("degraded (系统繁忙)")
        return _texts(data.get("replies")), rasa_ms

    return send


def via_rasa(base: str) -> Send:
    url = f"{base}/webhooks/rest/webhook"

    async def send(
        session: aiohttp.ClientSession, sender: str, text: str
    ) -> tuple[str, float | None]:
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            body = await response.read()
            if response.status != 200:
                raise Failed(f"HTTP {response.status}")
        try:
            return _texts(json.loads(body)), None
        except ValueError:
            raise Failed("malformed answer") from None

    return send


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    own_ms: list[float] = field(default_factory=list)
    """Gateway path: latency minus the gateway's time waiting for Rasa, per message."""
    errors: Counter[str] = field(default_factory=Counter)
    off_script: int = 0
    conversations: int = 0
    seconds: float = 0.0
    peak_rss_kib: int | None = None

    def add(self, other: Tally) -> None:
        self.latencies_ms += other.latencies_ms
        self.own_ms += other.own_ms
        self.errors += other.errors
        self.off_script += other.off_script
        self.conversations += other.conversations
        self.seconds += other.seconds
        if other.peak_rss_kib is not None:
            self.peak_rss_kib = max(self.peak_rss_kib or 0, other.peak_rss_kib)

    def run(self, path: str, customers: int) -> PathRun:
        peak = None if self.peak_rss_kib is None else self.peak_rss_kib / 1024
        return PathRun(
            path=path,
            customers=customers,
            latencies_ms=tuple(self.latencies_ms),
            errors_by_kind=tuple(sorted(self.errors.items())),
            off_script=self.off_script,
            seconds=self.seconds,
            peak_rss_mb=peak,
            own_ms=tuple(self.own_ms),
        )


async def customer(
    session: aiohttp.ClientSession,
    send: Send,
    tag: str,
    deadline: float,
    tally: Tally,
    phones: Iterator[int],
    *,
    offset: int = 0,
    conversations: int | None = None,
) -> None:
    """One simulated customer: conversation after conversation (each a new sender id, the first
    one starting at phase `offset` of the script), the next message as soon as the reply is
    there, no new message after the deadline."""
    for number in itertools.count():
        if time.monotonic() >= deadline or (conversations is not None and number >= conversations):
            return
        script = Customer(phone_number(next(phones)), first_phase=offset if number == 0 else 0)
        sender, reply = f"bench-{tag}-{number}", None
        while (text := script.next_message(reply)) is not None and time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                reply, rasa_ms = await send(session, sender, text)
            except Failed as exc:
                kind = exc.kind
            except TimeoutError:
                kind = "timeout"
            except aiohttp.ClientError as exc:
                kind = type(exc).__name__
            else:
                latency = (time.perf_counter() - started) * 1000
                tally.latencies_ms.append(latency)
                if rasa_ms is not None:
                    tally.own_ms.append(latency - rasa_ms)
                continue
            tally.errors[kind] += 1
            await asyncio.sleep(0.5)  # a failing server is not hammered
            break
        tally.off_script += script.off_script
        tally.conversations += 1


def _short(tally: Tally) -> str:
    p50 = percentile(tally.latencies_ms, 50)
    errors = sum(tally.errors.values())
    return f"{len(tally.latencies_ms)} messages, p50 {p50:.0f} ms, errors {errors}"


@dataclass(frozen=True)
class FloodOptions:
    rate: float
    seconds: float
    customers: int


@dataclass(frozen=True)
class Measured:
    levels: tuple[Level, ...]
    gateway_peak_mb: float | None
    errors_by_kind: tuple[tuple[str, int], ...]
    cpu_shares: tuple[float, float]
    flood: tuple[FloodFigures, tuple[float, float]] | None = None
    """The flood part's figures and the CPU shares while it ran."""


class Driver:
    """Drives simulated customers down one path at a time, on one client session."""

    def __init__(self, session: aiohttp.ClientSession, stack: Stack, sampler: MemorySampler):
        self.session = session
        self.sends = {GATEWAY: via_gateway(stack.gateway_url), RASA: via_rasa(stack.rasa_url)}
        self.sampler = sampler
        self.phones = itertools.count(1)

    async def warm_up(self, conversations: int) -> None:
        """Whole conversations on both paths at once (TensorFlow traces its graphs on first use),
        not counted; any error here stops the bench."""
        say(f"warming up: {conversations} whole conversation(s) on each path ...")
        warm = {path: Tally() for path in self.sends}
        deadline = time.monotonic() + 180
        await asyncio.gather(
            *(
                customer(self.session, send, f"w-{path}-{n}", deadline, warm[path], self.phones,
                         offset=0, conversations=1)
                for path, send in self.sends.items()
                for n in range(conversations)
            )
        )  # fmt: skip
        for path, tally in warm.items():
            say(f"warm-up {path}: {_short(tally)}, off-script {tally.off_script}")
            if tally.errors:
                raise BenchError(f"the {path} path fails already in the warm-up: {tally.errors}")

    async def drive(self, path: str, customers: int, seconds: float, tag: str) -> Tally:
        """`customers` at once down `path` for `seconds` (then the replies still due)."""
        await asyncio.sleep(SETTLE)
        tally = Tally()
        self.sampler.reset()
        started, deadline = time.perf_counter(), time.monotonic() + seconds
        await asyncio.gather(
            *(
                customer(self.session, self.sends[path], f"{tag}-C{n}", deadline, tally,
                         self.phones, offset=n)
                for n in range(customers)
            )
        )  # fmt: skip
        tally.seconds = time.perf_counter() - started
        if path == GATEWAY:
            tally.peak_rss_kib = self.sampler.peak_kib
        return tally

    async def level(self, customers: int, duration: float, rounds: int) -> Level:
        """Both paths, alternating round by round (gateway first, then Rasa first, ...), so
        the machine's other work falls on both alike."""
        tallies = {path: Tally() for path in self.sends}
        for round_no in range(rounds):
            for path in (GATEWAY, RASA) if round_no % 2 == 0 else (RASA, GATEWAY):
                tag = f"{path}-L{customers}-R{round_no}"
                part = await self.drive(path, customers, duration / rounds, tag)
                say(f"{customers} customers, {path}, round {round_no + 1}: {_short(part)}")
                tallies[path].add(part)
        return Level(
            customers,
            tallies[GATEWAY].run(GATEWAY, customers),
            tallies[RASA].run(RASA, customers),
        )


async def measure(
    stack: Stack,
    groups: set[int],
    levels: list[int],
    duration: float,
    rounds: int,
    warmup: int,
    flood: FloodOptions | None,
) -> Measured:
    sampler = MemorySampler(stack.gateway_pid)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sampling = asyncio.create_task(sampler.run())
        try:
            driver = Driver(session, stack, sampler)
            await driver.warm_up(warmup)
            cpu = CpuWatch(groups)
            results = [await driver.level(n, duration, rounds) for n in levels]
            shares = cpu.shares()
            high_water = sampler.high_water_kib()  # before the flood: its hashes take 64 MiB
            flooded = None
            if flood is not None:
                flood_cpu = CpuWatch(groups)
                figures = await _flood(driver, session, stack, flood)
                flooded = (figures, flood_cpu.shares())
        finally:
            sampling.cancel()
    errors: Counter[str] = Counter()
    for level in results:
        for run in (level.gateway, level.rasa):
            for kind, count in run.errors_by_kind:
                errors[f"{run.path}: {kind}"] += count
    return Measured(
        tuple(results),
        None if high_water is None else high_water / 1024,
        tuple(sorted(errors.items())),
        shares,
        flooded,
    )


async def _flood(
    driver: Driver, session: aiohttp.ClientSession, stack: Stack, flood: FloodOptions
) -> FloodFigures:
    say(
        f"flood: {flood.customers} customers, {flood.seconds / 2:g} s quiet, {flood.seconds:g} s"
        f" with {flood.rate:g} logins/s, {flood.seconds / 2:g} s quiet ..."
    )
    figures = await measure_flood(
        driver,
        session,
        stack.gateway_url,
        GATEWAY,
        customers=flood.customers,
        rate=flood.rate,
        seconds=flood.seconds,
        settle=SETTLE,
    )
    say(f"flood: logins answered {dict(figures.logins)}")
    return figures


# --- facts for the report ---------------------------------------------------------------------


def machine_facts() -> Machine:
    model, cores = cpu_model_and_cores(read("/proc/cpuinfo"))
    versions = subprocess.run(
        [str(RASA_PYTHON), "-c", "import importlib.metadata as m, platform;"
         " print(platform.python_version(), m.version('rasa'))"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    rasa_python, rasa = versions if len(versions) == 2 else ("unknown", "unknown")
    return Machine(
        cpu=model,
        cores=cores or os.cpu_count() or 0,
        ram_gib=meminfo_total_gib(read("/proc/meminfo")),
        os=f"{os_name(read('/etc/os-release')) or platform.system()}, Linux {platform.release()}",
        python=platform.python_version(),
        rasa_python=rasa_python,
        rasa=rasa,
    )


def git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit} (with uncommitted changes in the work tree)" if dirty else commit


GATEWAY_KNOBS = ("RASA_TIMEOUT", "NOTIFY_INTERVAL", "RASA_RETRY_MAX_BACKOFF", "MAX_TEXT_CHARS")


def setup_text(levels: list[int], duration: float, rounds: int, warmup: int) -> str:
    counts = ", ".join(map(str, levels))
    knobs = ", ".join(f"{k}={os.environ[k]}" for k in GATEWAY_KNOBS if os.environ.get(k))
    gateway = f"the gateway ({f'default settings but {knobs}' if knobs else 'default settings'})"
    return (
        "Setup: one `rasa run` (the trained `models/current.tar.gz`, in-memory tracker store),"
        f" the action server and {gateway} on loopback, sharing"
        " a freshly seeded temporary SQLite database; the bench's client runs on the same machine."
        " Each simulated customer has its own sender id and follows the script of"
        " `scripts/benchlib.py` (greeting, an outage report in 东山村 answering the fault form,"
        " the tariff, the bill with identity verification, thanks: about 9 messages), then starts"
        " a new conversation; the next message goes out as soon as the reply is in."
        f" For each level ({counts} customers at once) each path is driven for {duration:g} s in"
        f" {rounds} rounds of {duration / rounds:g} s alternating gateway and Rasa alone (ABBA),"
        f" after a warm-up of {warmup} whole conversations per path."
        " Latency: send to complete reply, at the client. The gateway's own time: a message's"
        " latency minus the time the gateway spent waiting for Rasa on its behalf (its"
        " `Server-Timing` header), i.e. what the gateway added to that very message: storing,"
        " deciding, formatting, its HTTP hop, and any wait for the conversation's earlier"
        " message; Rasa's own ups and downs are not in it. msg/s: answered messages per second of"
        f" driving. Errors: refused, timed out ({REQUEST_TIMEOUT:g} s), not 200, or answered"
        " '系统繁忙' (degraded). Off-script: replies without what the script expected."
        f" Gateway RSS: the largest VmRSS sampled every {SAMPLE_EVERY:g} s while the gateway path"
        " ran; the memory target is judged on VmHWM, the gateway's peak since it started."
    )


# --- main -------------------------------------------------------------------------------------


def _levels(raw: str) -> list[int]:
    try:
        levels = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("levels are whole numbers, e.g. 1,10,50") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("levels are whole numbers of at least 1, e.g. 1,10,50")
    return levels


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--levels", type=_levels, default=[1, 10, 50], help="customers at once")
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds per path and level [20]"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternations per level [2]")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up conversations per path [3]")
    parser.add_argument(
        "--flood-rate", type=float, default=50.0, help="console logins a second [50]; 0: no flood"
    )
    parser.add_argument(
        "--flood-seconds", type=float, default=30.0, help="seconds of the flood [30]"
    )
    parser.add_argument(
        "--flood-customers", type=int, default=10, help="customers chatting meanwhile [10]"
    )
    parser.add_argument(
        "--only",
        choices=("gateway", "flood", "training"),
        help="measure only this part (training: no BENCH_TRAIN=1 needed); the others are"
        " carried over from the previous report",
    )
    parser.add_argument("--note", default="", help="conditions worth recording in the report")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.rounds < 1 or args.warmup < 1:
        parser.error("--duration must be more than 0, --rounds and --warmup at least 1")
    if args.flood_rate < 0 or args.flood_seconds <= 0 or args.flood_customers < 1:
        parser.error(
            "--flood-rate must be 0 or more, --flood-seconds more than 0,"
            " --flood-customers at least 1"
        )
    if args.only == "flood" and args.flood_rate == 0:
        parser.error("--only flood needs a --flood-rate above 0")
    return args


def flood_options(args: argparse.Namespace) -> FloodOptions | None:
    """The flood part, when this run measures it."""
    if args.only in ("gateway", "training") or args.flood_rate == 0:
        return None
    return FloodOptions(args.flood_rate, args.flood_seconds, args.flood_customers)


def measure_stack(
    run: RunInfo, args: argparse.Namespace
) -> tuple[GatewayRun | None, floodlib.FloodRun | None]:
    """The parts measured on the running stack: the gateway's levels (unless --only flood) and
    the flood (unless left out)."""
    if not MODEL.exists():
        raise BenchError(f"{MODEL} is missing: run `make train`")
    load_before = read("/proc/loadavg").split(" ")[0] or "unknown"
    model_date = datetime.fromtimestamp(MODEL.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    levels = [] if args.only == "flood" else args.levels
    flood = flood_options(args)
    with tempfile.TemporaryDirectory(prefix="bench-") as work, Servers(Path(work)) as servers:
        stack = start_stack(servers, Path(work))
        measured = asyncio.run(
            measure(stack, servers.groups(), levels, args.duration, args.rounds, args.warmup, flood)
        )
        servers.check()  # every server still up at the end, or the figures are suspect
        say("stopping the servers ...")
    cores = cpu_model_and_cores(read("/proc/cpuinfo"))[1] or os.cpu_count() or 0
    gateway = None
    if levels:
        gateway = GatewayRun(
            run=run,
            model=f"`models/current.tar.gz`, trained {model_date}",
            conditions=conditions_text(load_before, measured.cpu_shares, cores, args.note),
            setup=setup_text(args.levels, args.duration, args.rounds, args.warmup),
            levels=measured.levels,
            gateway_peak_mb=measured.gateway_peak_mb,
            errors_by_kind=measured.errors_by_kind,
        )
    flood_run = None
    if flood is not None and measured.flood is not None:
        figures, shares = measured.flood
        flood_run = floodlib.FloodRun(
            run=run,
            conditions=conditions_text(load_before, shares, cores, args.note),
            protections=protections_text({**os.environ, **BENCH_GATEWAY_ENV}),
            customers=flood.customers,
            rate=flood.rate,
            flood_seconds=flood.seconds,
            quiet_seconds=flood.seconds,
            quiet_ms=figures.quiet_ms,
            flood_ms=figures.flood_ms,
            customer_errors=figures.customer_errors,
            logins=figures.logins,
            login_ms=figures.login_ms,
        )
    return gateway, flood_run


def flood_part(flood: floodlib.FloodRun | None, existing: str) -> Part:
    """The flood section: measured now, carried over, or not measured yet."""
    if flood is not None:
        return floodlib.part(flood)
    return floodlib.previous_flood(existing) or floodlib.not_measured()


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    if not RASA_BIN.exists():
        raise BenchError(".venv-rasa is missing: run `make setup`")
    began = time.monotonic()
    existing = read(args.output) or None
    bench_train = os.environ.get("BENCH_TRAIN") == "1"
    train = args.only == "training" or (bench_train and args.only != "gateway")
    info = RunInfo(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=command_line(argv, make=bool(os.environ.get("MAKELEVEL")), trained=bench_train),
        commit=git_commit(),
    )
    if args.only in ("training", "flood") and lost_gateway_figures(existing or ""):
        raise BenchError(
            f"{args.output} holds gateway figures of an older format, which --only {args.only}"
            " cannot carry over: run the whole bench once (BENCH_TRAIN=1 make bench)"
        )
    if args.only != "training" and not MODEL.exists():
        raise BenchError(f"{MODEL} is missing: run `make train`")
    training = measure_training(info, args.note) if train else previous_training(existing or "")
    measured: GatewayRun | None = None
    flood: floodlib.FloodRun | None = None
    if args.only != "training":
        measured, flood = measure_stack(info, args)
    gateway: GatewayRun | CarriedGateway | None = measured
    if measured is not None:
        print(summary_text(measured.levels, measured.gateway_peak_mb))
    else:
        gateway = previous_gateway(existing or "")
    if flood is not None:
        print(floodlib.summary(flood))
    if train and training is not None:
        print(training_summary(training))
    parts = (flood_part(flood, existing or ""),)
    report = Report(info, machine_facts(), gateway, training, parts)
    output = merge_benchmarks(existing, render_markdown(report))
    partial = args.output.with_name(args.output.name + ".partial")
    partial.write_text(output, encoding="utf-8")
    partial.replace(args.output)
    say(f"wrote {args.output} ({time.monotonic() - began:.0f} s)")
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM/SIGHUP: stop the servers as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except BenchError as exc:
        say(f"failed: {exc}")
        return 1
    except KeyboardInterrupt:
        say("interrupted; the servers are stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
