"""rasa_addons/serve.py: Rasa gets its token from the environment, and only from there."""

from __future__ import annotations

import pytest

from rasa_addons.serve import LaunchError, rasa_argv


def test_the_token_moves_from_the_environment_into_rasas_own_arguments() -> None:
    environ = {"RASA_TOKEN": "-starts-with-a-dash", "OTHER": "kept"}
    argv = rasa_argv(["--enable-api", "--port", "5005"], environ)
    assert argv == [
        "rasa",
        "run",
        "--enable-api",
        "--port",
        "5005",
        "--auth-token=-starts-with-a-dash",
    ]
    assert environ == {"OTHER": "kept"}  # nothing Rasa starts inherits it


@pytest.mark.parametrize("given", [["--auth-token", "x"], ["-t", "x"], ["--auth-token=x"]])
def test_a_token_on_the_command_line_is_refused(given: list[str]) -> None:
    with pytest.raises(LaunchError, match="RASA_TOKEN"):
        rasa_argv(["--enable-api", *given], {"RASA_TOKEN": "t"})


@pytest.mark.parametrize("environ", [{}, {"RASA_TOKEN": "  "}])
def test_no_token_no_server(environ: dict[str, str]) -> None:
    """Rasa's API without a token would answer anybody on the machine."""
    with pytest.raises(LaunchError, match="not set"):
        rasa_argv(["--enable-api"], environ)
