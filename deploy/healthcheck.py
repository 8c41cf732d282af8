"""Container health check: `python deploy/healthcheck.py URL [--accept STATUS]...`.

Exit 0 when URL answers with a 2xx status (or one given with --accept), 1 otherwise. Standard
library only, Python 3.10 and 3.11: it runs in both images, which have no curl.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request


def check(url: str, accept: frozenset[int] = frozenset(), timeout: float = 5.0) -> str | None:
    """None when `url` is healthy, else what is wrong."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:  # an answer, with a status of 400 or more
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:  # no answer
        return f"{url}: {exc}"
    if 200 <= status < 300 or status in accept:
        return None
    return f"{url}: HTTP {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="healthcheck.py", description=__doc__)
    parser.add_argument("url")
    parser.add_argument(
        "--accept",
        type=int,
        action="append",
        default=[],
        help="another status that counts as alive (the gateway's /health: 503 while Rasa is down)",
    )
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    problem = check(args.url, frozenset(args.accept), args.timeout)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
