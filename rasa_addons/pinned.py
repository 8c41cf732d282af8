"""The Rasa whose internals fast_load.py and fast_action_check.py replace."""

from __future__ import annotations

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
