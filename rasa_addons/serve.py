"""`rasa run` with its API token taken from the environment, never from the command line.

Rasa 3.6 reads its token only from `--auth-token` (`-t`): on the command line, where every
user of the machine reads it (`ps`, /proc/<pid>/cmdline). So Rasa's server is started through
this launcher, with Rasa's own interpreter:

    RASA_TOKEN=... .venv-rasa/bin/python -m rasa_addons.serve [rasa run options]

It takes the token out of the environment (Rasa and whatever it starts never see it there)
and hands it to Rasa's command-line entry point in this same process, as if it had been typed:
the process's command line is the one above, without the token. A token given on the command
line is refused, so it cannot slip back in by habit.

It also makes the SQL tracker store test a pooled PostgreSQL connection before using it
(`pool_pre_ping`, which Rasa's configuration cannot set): after PostgreSQL restarts, every
pooled connection is dead, and without it each worker's next turn would fail on one
(rasa_addons/turns.py abandons such a turn; the gateway retries it, but the customer would
first read '系统繁忙').
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import MutableMapping, Sequence

TOKEN_ENV = "RASA_TOKEN"
_TOKEN_OPTIONS = ("--auth-token", "-t")


class LaunchError(SystemExit):
    """Why Rasa was not started (exit status 2, the message on stderr)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"rasa_addons.serve: {message}")


def rasa_argv(args: Sequence[str], environ: MutableMapping[str, str]) -> list[str]:
    """The argv Rasa's CLI gets: `rasa run <args> --auth-token=<token>`. The token is removed
    from `environ`."""
    for arg in args:
        if arg in _TOKEN_OPTIONS or arg.startswith("--auth-token="):
            raise LaunchError(f"do not pass the token on the command line: set {TOKEN_ENV}")
    token = environ.pop(TOKEN_ENV, "").strip()
    if not token:
        raise LaunchError(f"{TOKEN_ENV} is not set: Rasa's HTTP API would be open to anyone")
    return ["rasa", "run", *args, f"--auth-token={token}"]  # one word: a token may start with -


IGNORE_DEPRECATIONS = "ignore::DeprecationWarning"


def keep_deprecations_quiet(options: Sequence[str]) -> bool:
    """Sanic, which Rasa imports, puts `filterwarnings("once", DeprecationWarning)` in front of
    the interpreter's own options when it is imported, so an `ignore::DeprecationWarning` given
    with -W or PYTHONWARNINGS (the Rasa image sets it) no longer holds and every start prints a
    dozen deprecations of TensorFlow, matplotlib, jieba ... Applied again after Sanic's import
    when the options ask for it (True then)."""
    if IGNORE_DEPRECATIONS not in options:
        return False
    import sanic  # noqa: F401  # Rasa's environment only: its filter is added now, ours after

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return True


def pre_ping_tracker_store() -> None:
    """`pool_pre_ping` for the SQL tracker store's PostgreSQL engine (see the module doc)."""
    from rasa.core import tracker_store  # Rasa's environment only

    rasa_kwargs = tracker_store.create_engine_kwargs
    if getattr(rasa_kwargs, "pre_ping", False):
        return

    def create_engine_kwargs(url: object) -> dict[str, object]:
        kwargs = dict(rasa_kwargs(url))
        if tracker_store.is_postgresql_url(url):
            kwargs["pool_pre_ping"] = True
        return kwargs

    create_engine_kwargs.pre_ping = True  # type: ignore[attr-defined]
    tracker_store.create_engine_kwargs = create_engine_kwargs


def main(args: Sequence[str] | None = None) -> None:
    sys.argv = rasa_argv(sys.argv[1:] if args is None else args, os.environ)
    keep_deprecations_quiet(sys.warnoptions)
    pre_ping_tracker_store()
    from rasa.__main__ import main as rasa_main  # Rasa's environment only

    rasa_main()


if __name__ == "__main__":
    main()
