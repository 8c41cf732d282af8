"""`python -m scripts.supervisor`: the process supervisor behind `make run` (scripts/run.sh).

    spec NAME --listen HOST:PORT --ready URL [...] -- COMMAND...   one line of a servers file
    check-ports SERVERS                                            every port free? (else exit 2)
    run SERVERS --logs DIR [--status FILE] [--banner FILE|-]       run the stack until Ctrl-C

Restart policy and timeouts: RUN_RESTART_LIMIT [5] restarts of one server within
RUN_RESTART_WINDOW [300] s, then the stack stops (a crash loop); RUN_RESTART_MAX_DELAY [30] s,
the longest back-off; RUN_START_TIMEOUT [240] s to become ready; RUN_STOP_TIMEOUT [30] s from
SIGTERM to SIGKILL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from scripts.supervisor.policy import Policy, PolicyError
from scripts.supervisor.ports import Address, AddressError
from scripts.supervisor.spec import Readiness, Server, SpecError, load
from scripts.supervisor.stack import Journal, Stack, ports_free
from scripts.supervisor.status import StatusFile


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.supervisor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    spec = commands.add_parser("spec", help="print one server's line of a servers file")
    spec.add_argument("name")
    spec.add_argument("--listen", required=True, help="HOST:PORT the server listens on")
    spec.add_argument("--setting", help="the variable that sets the port (named if it is taken)")
    spec.add_argument("--ready", required=True, help="URL answering 200 once the server is ready")
    spec.add_argument("--ready-any-status", action="store_true", help="any HTTP answer counts")
    spec.add_argument("--ready-token-env", help="add ?token=<this variable's value> to --ready")
    spec.add_argument("--after", help="start once this server is ready")
    ports = commands.add_parser("check-ports", help="exit 2 naming the holder of a taken port")
    ports.add_argument("servers", type=Path)
    run = commands.add_parser("run", help="start the servers and keep them up until Ctrl-C")
    run.add_argument("servers", type=Path)
    run.add_argument("--logs", type=Path, required=True, help="directory of the servers' logs")
    run.add_argument("--status", type=Path, help="status file (shown by the gateway's /health)")
    run.add_argument("--banner", help="file (- for standard input) printed once all are ready")
    return parser


def _spec(args: argparse.Namespace, command: list[str]) -> int:
    if not command:
        raise SpecError(f"{args.name}: no command after --")
    server = Server(
        name=args.name,
        listen=Address.parse(args.listen),
        ready=Readiness(args.ready, args.ready_any_status, args.ready_token_env),
        command=tuple(command),
        after=args.after,
        setting=args.setting,
    )
    print(server.to_json())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:  # spec's server command: everything after `--`, options included
        command = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    args = _parser().parse_args(argv)
    journal = Journal(None)
    try:
        if args.command == "spec":
            return _spec(args, command)
        servers = load(args.servers)
        if args.command == "check-ports":
            return 0 if ports_free(servers, journal) else 2
        policy = Policy.from_env(os.environ)
    except (SpecError, AddressError, PolicyError, OSError) as error:
        journal.error(str(error))
        return 2
    banner = ""
    if args.banner == "-":
        banner = sys.stdin.read()
    elif args.banner:
        banner = Path(args.banner).read_text(encoding="utf-8")
    args.logs.mkdir(parents=True, exist_ok=True)
    stack = Stack(servers, logs=args.logs, status=StatusFile(args.status), policy=policy)
    return asyncio.run(stack.run(banner))


if __name__ == "__main__":
    sys.exit(main())
