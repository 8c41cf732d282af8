"""The supervisor's parts that need no process: back-off and crash-loop counting, the servers
file, readiness URLs, exit reasons, the `spec` command line (tests/integration/test_make_run.py
runs the whole of it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.health import supervisor_status
from scripts.supervisor.__main__ import main
from scripts.supervisor.policy import Policy, PolicyError, Restarts
from scripts.supervisor.ports import Address, AddressError
from scripts.supervisor.process import exit_reason
from scripts.supervisor.spec import Readiness, Server, SpecError, check, load

RASA = Server(
    name="rasa",
    listen=Address("127.0.0.1", 5005),
    ready=Readiness("http://127.0.0.1:5005/status", token_env="RASA_TOKEN"),
    command=("env", "-u", "GATEWAY_API_TOKEN", "python", "-m", "rasa_addons.serve"),
    setting="RASA_PORT",
)


def test_the_back_off_doubles_up_to_its_cap() -> None:
    policy = Policy(max_delay=30)
    assert [policy.delay(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_one_restart_more_than_the_limit_within_the_window_is_a_crash_loop() -> None:
    restarts = Restarts(Policy(limit=2, window=60))
    assert restarts.next_delay(0) == 1
    restarts.record(0)
    assert restarts.next_delay(10) == 2
    restarts.record(10)
    assert restarts.next_delay(20) is None  # a third restart within 60 s
    assert restarts.next_delay(61) == 2  # the first one has left the window
    assert restarts.next_delay(71) == 1  # both have: a fresh start
    assert restarts.total == 2


def test_the_policy_comes_from_the_environment_and_names_a_wrong_setting() -> None:
    policy = Policy.from_env({"RUN_RESTART_LIMIT": "3", "RUN_RESTART_WINDOW": "60.5"})
    assert (policy.limit, policy.window, policy.start_timeout) == (3, 60.5, 240)
    with pytest.raises(PolicyError, match="RUN_RESTART_LIMIT='three' is not a number"):
        Policy.from_env({"RUN_RESTART_LIMIT": "three"})
    with pytest.raises(PolicyError, match="RUN_STOP_TIMEOUT='0' must be more than 0"):
        Policy.from_env({"RUN_STOP_TIMEOUT": "0"})


def test_addresses() -> None:
    assert Address.parse("127.0.0.1:5005") == Address("127.0.0.1", 5005)
    assert Address.parse("[::1]:8080") == Address("::1", 8080)
    assert str(Address("::1", 8080)) == "[::1]:8080"
    for wrong in ("5005", "host:", "host:99999", ":80"):
        with pytest.raises(AddressError):
            Address.parse(wrong)


def test_a_readiness_url_gets_the_token_only_when_asked() -> None:
    env = {"RASA_TOKEN": "t/k n"}
    assert RASA.ready.url_with(env) == "http://127.0.0.1:5005/status?token=t%2Fk+n"
    assert (
        Readiness("http://h/s?a=1", token_env="RASA_TOKEN").url_with(env).endswith("&token=t%2Fk+n")
    )
    assert Readiness("http://h/health").url_with(env) == "http://h/health"
    assert RASA.ready.url_with({}) == "http://127.0.0.1:5005/status"


def test_the_servers_file_round_trips_and_is_checked(tmp_path: Path) -> None:
    gateway = Server("gateway", Address("127.0.0.1", 8080), Readiness("http://x", True), ("bot",))
    standby = Server(
        "rasa-standby", Address("127.0.0.1", 5006), RASA.ready, RASA.command, after="rasa"
    )
    path = tmp_path / "servers.jsonl"
    path.write_text("\n".join(s.to_json() for s in (RASA, standby, gateway)) + "\n")
    assert load(path) == [RASA, standby, gateway]
    with pytest.raises(SpecError, match="rasa: listed twice"):
        check([RASA, RASA])
    with pytest.raises(SpecError, match="after 'rasa', which is not listed before"):
        check([standby, RASA])
    with pytest.raises(SpecError, match="both want port 5005"):
        check([RASA, Server("other", RASA.listen, RASA.ready, ("x",))])
    path.write_text('{"name": "x"}\n')
    with pytest.raises(SpecError, match=r"servers\.jsonl, line 1"):
        load(path)


def test_exit_reasons() -> None:
    assert exit_reason(-9) == "killed by SIGKILL"
    assert exit_reason(3) == "exit status 3"


def test_spec_prints_a_line_whose_command_keeps_its_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    options = ["--listen", "127.0.0.1:5005", "--setting", "RASA_PORT"]
    options += ["--ready", "http://127.0.0.1:5005/status", "--ready-token-env", "RASA_TOKEN"]
    assert main(["spec", "rasa", *options, "--", *RASA.command]) == 0
    assert Server.from_json(capsys.readouterr().out) == RASA
    assert main(["spec", "x", "--listen", "127.0.0.1:1", "--ready", "http://x", "--"]) == 2
    assert "x: no command after --" in capsys.readouterr().err


def test_the_gateway_shows_the_status_file_or_says_it_cannot(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.json"
    assert supervisor_status(path) == {
        "state": "unknown",
        "error": "supervisor.json unreadable: FileNotFoundError",
    }
    path.write_text(json.dumps({"state": "running", "servers": {"rasa": {"restarts": 2}}}))
    assert supervisor_status(path)["servers"]["rasa"]["restarts"] == 2
