"""`make bench`: what the gateway costs in front of Rasa (latency, throughput, memory), and on
request how long training and an operator's retrain-to-deployed take.

The gateway part starts its own stack on free loopback ports: a temporary SQLite database,
migrated and seeded with the demo; the action server; `rasa run` with the trained model; the
gateway in front. After a warm-up it drives 1, 10 and 50 simulated customers (scripts/benchload.py,
their script scripts/benchlib/customer.py) through the gateway's JSON API and, alternating with
it in rounds, straight to Rasa's REST webhook, samples the gateway's memory, prints the figures
and rewrites the generated part of BENCHMARKS.md with the verdicts against the issue's targets.
Every server it started is stopped at the end, also on failure and on Ctrl-C.

    python -m scripts.bench [--levels 1,10,50] [--duration 20] [--rounds 2] [--warmup 3]
                            [--rasa-workers 1]
                            [--flood-rate 50] [--flood-seconds 30] [--flood-customers 10]
                            [--trackers memory,sql,postgres|none] [--tracker-customers 10]
                            [--tracker-seconds 20] [--open-rates 5,10,20] [--open-seconds 20]
                            [--profile-seconds 30] [--profile-customers 10] [--profile-rate 100]
                            [--no-profile-stock]
                            [--scaling-seconds 20] [--scaling-customers 20]
                            [--scaling-cells 1x1,2x1,1x2,2x2]
                            [--outage-subscribers 20000] [--outage-customers 10]
                            [--outage-seconds 60]
                            [--quality-repetitions 20]
                            [--only gateway|flood|trackers|profile|scaling|training|import|
                                    outages|quality]
                            [--note TEXT]
                            [--output BENCHMARKS.md]

After the levels, on the same stack, the flood part (scripts/benchflood.py): the customers'
p50 while console logins flood the gateway, against their p50 without the flood in the same
run; `--only flood` measures only that (after the warm-up), `--flood-rate 0` leaves it out.

The tracker part (scripts/benchtrackers.py, about 8 minutes) follows, on stacks of its own, one
after another: Rasa's in-memory tracker store (`memory`), `make run`'s SQL tracker store on a
SQLite file (`sql`), and Docker Compose's PostgreSQL tracker store with the Redis lock store
(`postgres`: on the servers of $BENCH_DATABASE_URL or $TEST_DATABASE_URL and $BENCH_REDIS_URL or
$TEST_REDIS_URL, in scratch databases and keys of its own). Each takes 10 closed-loop customers
through the gateway for 20 s (messages a second, p50, p95), then an open-loop load through the
gateway at 5, 10 and 20 messages a second, 20 s each, whose latencies run from each message's
due time (scripts/benchlib/openloop.py); `--only trackers` measures only it, `--trackers none`
leaves it out.
The profile part (scripts/benchprofile.py, about 4 minutes) follows on stacks of its own with
the `sql` tracker store: 10 closed-loop customers while py-spy records the Rasa worker and the
action server for 30 s, first with stock Rasa (TOWNSHIP_RASA_FAST=0: rasa_addons' fast paths
off), then with the fast paths; where a message's CPU goes, by category, before and after, and
what Rasa runs per message; `--only profile` measures only it, `--profile-seconds 0` leaves it
out, `--no-profile-stock` leaves out the stock run.
The scaling part (scripts/benchscaling.py, about 4 minutes) follows: Docker Compose's
configuration (PostgreSQL + Redis, as the tracker part's `postgres`) with 1 and 2 Rasa workers
behind 1 and 2 gateway replicas (GATEWAY_SHARED=1), 20 closed-loop customers spread over the
replicas for 20 s a cell: messages a second, p50, p95, each process group's CPU, what limits
it on this machine's cores and what it would answer where the cores are not the limit;
`--only scaling` measures only it, `--scaling-seconds 0` leaves it out.

The training part (scripts/benchtrain.py, several minutes) runs first with BENCH_TRAIN=1, or
alone with `--only training`: a full training of the shipped data with an empty Rasa cache, then
an operator's retraining after a few new examples, evaluated, guarded and deployed into a
running Rasa, all in a scratch copy of the project (models/current.tar.gz stays as it is).
The import part (scripts/benchimport.py, about a minute) imports a generated export of 50,000
accounts and their bills on SQLite and on PostgreSQL ($BENCH_DATABASE_URL or $TEST_DATABASE_URL);
`--only import` measures only it (no model, no stack needed).
The outage part (scripts/benchoutage.py, on a stack of its own; about 15 minutes: Telegram's
pace bounds it) fans one outage notice out to 20,000 Telegram subscribers against a fake Bot
API while customers chat; `--only outages` measures only it, `--outage-subscribers 0` leaves it
out.
The quality part (scripts/benchquality.py, on PostgreSQL as the import part; about 10 minutes)
times the service-quality dashboard's views and an annual report on a county's generated year;
`--only quality` measures only it, `--quality-repetitions 0` leaves it out.
A part this run does not measure is carried over from the previous BENCHMARKS.md, and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from scripts import floodlib
from scripts.benchflood import protections_text
from scripts.benchimport import measure_import
from scripts.benchlib.imports import ImportBench, import_part
from scripts.benchlib.imports import summary as import_summary
from scripts.benchlib.machine import (
    conditions_text,
    cpu_model_and_cores,
    meminfo_total_gib,
    os_name,
)
from scripts.benchlib.markdown import (
    lost_gateway_figures,
    merge_benchmarks,
    previous_gateway,
    previous_training,
    render_markdown,
)
from scripts.benchlib.outages import OutageBench, outage_part
from scripts.benchlib.outages import summary as outage_summary
from scripts.benchlib.report import (
    CarriedGateway,
    GatewayRun,
    Machine,
    Part,
    Report,
    RunInfo,
    command_line,
    summary_text,
    training_summary,
)
from scripts.benchload import REQUEST_TIMEOUT, FloodOptions, measure
from scripts.benchoutage import OutageOptions, measure_outages
from scripts.benchprofile import add_arguments as add_profile_arguments
from scripts.benchprofile import profile_section
from scripts.benchquality import add_arguments, quality_section
from scripts.benchscaling import add_arguments as add_scaling_arguments
from scripts.benchscaling import scaling_section
from scripts.benchstack import (
    BENCH_GATEWAY_ENV,
    MODEL,
    RASA_BIN,
    RASA_PYTHON,
    ROOT,
    SAMPLE_EVERY,
    BenchError,
    Servers,
    model_text,
    read,
    say,
    start_stack,
)
from scripts.benchtrackers import add_arguments as add_tracker_arguments
from scripts.benchtrackers import tracker_section
from scripts.benchtrain import measure_training

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


def setup_text(
    levels: list[int], duration: float, rounds: int, warmup: int, rasa_workers: int = 1
) -> str:
    counts = ", ".join(map(str, levels))
    knobs = ", ".join(f"{k}={os.environ[k]}" for k in GATEWAY_KNOBS if os.environ.get(k))
    gateway = f"the gateway ({f'default settings but {knobs}' if knobs else 'default settings'})"
    rasa = (
        "one `rasa run`"
        if rasa_workers == 1
        else f"{rasa_workers} `rasa run` workers (each conversation on one of them, as the"
        " gateway spreads them; Rasa alone: the same spread)"
    )
    return (
        f"Setup: {rasa} (the trained `models/current.tar.gz`, in-memory tracker store),"
        f" the action server and {gateway} on loopback, sharing"
        " a freshly seeded temporary SQLite database; the bench's client runs on the same machine."
        " Each simulated customer has its own sender id and follows the script of"
        " `scripts/benchlib/customer.py` (greeting, an outage report in 东山村 answering the fault"
        " form, the tariff, the bill with identity verification, thanks: about 9 messages), then"
        " starts a new conversation; the next message goes out as soon as the reply is in."
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
        choices=(
            "gateway",
            "flood",
            "trackers",
            "profile",
            "scaling",
            "training",
            "import",
            "outages",
            "quality",
        ),
        help="measure only this part (training: no BENCH_TRAIN=1 needed); the others are"
        " carried over from the previous report",
    )
    parser.add_argument(
        "--rasa-workers",
        type=int,
        default=1,
        help="Rasa workers the gateway spreads conversations over [1] (in-memory trackers: each"
        " conversation stays on its worker)",
    )
    parser.add_argument(
        "--outage-subscribers", type=int, default=20_000, help="the outage part [20000]; 0: none"
    )
    parser.add_argument(
        "--outage-customers", type=int, default=10, help="customers chatting meanwhile [10]"
    )
    parser.add_argument(
        "--outage-seconds", type=float, default=60.0, help="their stretch without / during [60]"
    )
    add_tracker_arguments(parser)
    add_profile_arguments(parser)
    add_scaling_arguments(parser)
    add_arguments(parser)
    parser.add_argument("--note", default="", help="conditions worth recording in the report")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.rounds < 1 or args.warmup < 1 or args.rasa_workers < 1:
        parser.error(
            "--duration must be more than 0, --rounds, --warmup and --rasa-workers at least 1"
        )
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
    levels = [] if args.only == "flood" else args.levels
    flood = flood_options(args)
    with tempfile.TemporaryDirectory(prefix="bench-") as work, Servers(Path(work)) as servers:
        stack = start_stack(servers, Path(work), args.rasa_workers)
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
            model=model_text(),
            conditions=conditions_text(load_before, measured.cpu_shares, cores, args.note),
            setup=setup_text(
                args.levels, args.duration, args.rounds, args.warmup, args.rasa_workers
            ),
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
    stack = args.only in (None, "gateway", "flood")
    rasa = stack or args.only in ("trackers", "profile", "scaling")
    if rasa and not RASA_BIN.exists():
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
    partial_run = (
        "training", "flood", "import", "outages", "quality", "trackers", "profile", "scaling",
    )  # fmt: skip
    if args.only in partial_run and lost_gateway_figures(existing or ""):
        raise BenchError(
            f"{args.output} holds gateway figures of an older format, which --only {args.only}"
            " cannot carry over: run the whole bench once (BENCH_TRAIN=1 make bench)"
        )
    if rasa and not MODEL.exists():
        raise BenchError(f"{MODEL} is missing: run `make train`")
    training = measure_training(info, args.note) if train else previous_training(existing or "")
    measured: GatewayRun | None = None
    flood: floodlib.FloodRun | None = None
    if stack:
        measured, flood = measure_stack(info, args)
    trackers = tracker_section(args, info, existing or "")
    profile = profile_section(args, info, existing or "")
    scaling = scaling_section(args, info, existing or "")
    imports: ImportBench | None = None
    if args.only in (None, "import"):
        imports = measure_import(info, args.note)
    outages: OutageBench | None = None
    if args.only in (None, "outages") and args.outage_subscribers > 0:
        options = OutageOptions(
            args.outage_subscribers, args.outage_customers, args.outage_seconds, args.warmup
        )
        outages = measure_outages(info, options, args.note)
    gateway: GatewayRun | CarriedGateway | None = measured
    if measured is not None:
        print(summary_text(measured.levels, measured.gateway_peak_mb))
    else:
        gateway = previous_gateway(existing or "")
    if flood is not None:
        print(floodlib.summary(flood))
    if train and training is not None:
        print(training_summary(training))
    if imports is not None:
        print(import_summary(imports))
    if outages is not None:
        print(outage_summary(outages))
    parts = (
        flood_part(flood, existing or ""),
        trackers,
        profile,
        scaling,
        import_part(imports, existing or ""),
        outage_part(outages, existing or ""),
        quality_section(args, info, existing or ""),
    )
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
