"""rasa_addons/serve.py keeps `-W ignore::DeprecationWarning` (the Rasa image's PYTHONWARNINGS)
in force after Sanic's import, which otherwise turns every deprecation back on "once": in Rasa's
own Python 3.10 environment, with the module whose import warns (sanic_cors)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.processes import RASA_PYTHON, ROOT

IMPORTS_THAT_WARN = "import sanic_cors"  # distutils' LooseVersion: a DeprecationWarning


def _stderr(code: str, *options: str) -> str:
    if not RASA_PYTHON.exists():
        pytest.fail(f"{RASA_PYTHON} is missing: run make setup")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # only `options`
    done = subprocess.run(
        [str(RASA_PYTHON), *options, "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stderr


def test_sanic_turns_deprecations_back_on_without_the_launcher() -> None:
    """The problem itself: if this ever stops warning, the launcher's step can go."""
    stderr = _stderr(f"import sanic; {IMPORTS_THAT_WARN}", "-W", "ignore::DeprecationWarning")
    assert "DeprecationWarning" in stderr


def test_the_launcher_keeps_them_quiet_when_asked() -> None:
    code = (
        "import sys; from rasa_addons.serve import keep_deprecations_quiet as k;"
        f" assert k(sys.warnoptions); {IMPORTS_THAT_WARN}"
    )
    assert "DeprecationWarning" not in _stderr(code, "-W", "ignore::DeprecationWarning")


def test_without_the_option_nothing_is_hidden() -> None:
    code = (
        "import sys; from rasa_addons.serve import keep_deprecations_quiet as k;"
        f" assert not k(sys.warnoptions); import sanic; {IMPORTS_THAT_WARN}"
    )
    assert "DeprecationWarning" in _stderr(code)


def test_the_launcher_makes_the_postgresql_tracker_store_test_its_connections() -> None:
    """After a PostgreSQL restart every pooled connection is dead: with `pool_pre_ping` the
    SQL tracker store replaces one instead of failing the next turn on it (Rasa's engine
    options cannot set it). Rasa's own kwargs stay (the schema's search path, pool size)."""
    code = (
        "import os; os.environ['POSTGRESQL_SCHEMA'] = 's1';"
        " from rasa.core import tracker_store as t; from rasa_addons.serve import"
        " pre_ping_tracker_store as p; url = 'postgresql://u@127.0.0.1:1/db';"
        " assert 'pool_pre_ping' not in t.create_engine_kwargs(url); p(); p();"
        " k = t.create_engine_kwargs(url); assert k['pool_pre_ping'] is True, k;"
        " assert k['connect_args'] == {'options': '-csearch_path=s1'}, k;"
        " assert 'pool_size' in k; assert t.create_engine_kwargs('sqlite:///x.db') == {}"
    )
    _stderr(code)
