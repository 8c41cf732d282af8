"""The Rasa whose internals the fast paths (rasa_addons/fast_*.py) replace, and the switch
that keeps Rasa's own code instead."""

from __future__ import annotations

from collections.abc import Mapping

FAST_SWITCH = "TOWNSHIP_RASA_FAST"
"""Rasa's environment variable: 0 (or false, no, off) and rasa_addons installs none of its fast
paths, so Rasa runs its own code (`make bench`'s profile part measures it so, for the before
and after); unset or anything else, they are installed (the default)."""
OFF = frozenset({"0", "false", "no", "off"})

RASA_VERSION = "3.6.21"
"""requirements/rasa.txt pins it; under another version Rasa keeps its own code."""


def pinned_rasa() -> bool:
    """Whether Rasa is importable here and is the pinned version (the main environment's
    tests of rasa_addons run without Rasa)."""
    try:
        import rasa
    except ImportError:
        return False
    return bool(rasa.__version__ == RASA_VERSION)


def fast_paths_on(environ: Mapping[str, str]) -> bool:
    """Whether rasa_addons installs its fast paths, by FAST_SWITCH of `environ`."""
    return environ.get(FAST_SWITCH, "").strip().lower() not in OFF
