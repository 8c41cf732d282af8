"""docker-compose.yml, deploy/ and .dockerignore: what a station's deployment relies on.

The compose file is read as `docker compose` reads it: YAML (anchors and merge keys), then
${VAR} interpolation from the environment (.env), with compose's `:-`/`-` defaults and
`:?`/`?` required values. No Docker needed; no I/O beyond files. `make test-deploy`
(scripts/test-deploy.sh) builds the images and runs the stack for real.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import subprocess
import tomllib
import urllib.error
from email.message import Message
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy import make_url

from bot.settings import ConfigError, GatewaySettings
from store.cli import _parser as _store_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_TEXT = COMPOSE_FILE.read_text(encoding="utf-8")
COMPOSE_RAW: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
ENDPOINTS_FILE = ROOT / "deploy" / "endpoints.compose.yml"
SERVICES = {"postgres", "redis", "migrate", "actions", "rasa", "gateway", "proxy"}
PROXY_DIR = ROOT / "deploy" / "proxy"
PROXY_TEMPLATE = (PROXY_DIR / "nginx.conf.template").read_text(encoding="utf-8")
LONG_RUNNING = SERVICES - {"migrate"}
DATABASE_USERS = {"migrate", "actions", "gateway"}
#: What a station puts into .env (deploy/env.example) for the tests.
SECRETS = {
    "POSTGRES_PASSWORD": "pgsecret123",
    "RASA_TOKEN": "rasatoken456",
    "GATEWAY_API_TOKEN": "gatewaytoken789",
    "ACTION_SERVER_TOKEN": "actionstoken0123456789",
}

_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)"
)


class MissingVariable(Exception):
    pass


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of every string in `value`."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("bare"):
            raise AssertionError(f"write ${{{match.group('bare')}}}, not ${match.group('bare')}")
        name, op, arg = match.group("name", "op", "arg")
        present = name in env
        filled = present and env[name] != ""
        if op is None:
            return env.get(name, "")
        if op == ":-":
            return env[name] if filled else arg
        if op == "-":
            return env[name] if present else arg
        if (op == ":?" and not filled) or (op == "?" and not present):
            raise MissingVariable(f"{name}: {arg}")
        return env[name]

    return _VARIABLE.sub(substitute, value)


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file as `docker compose config` resolves it with `env` as the .env file."""
    return _interpolate(COMPOSE_RAW, SECRETS if env is None else env)


def services(env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose(env)["services"]
    return result


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    assert isinstance(command, list), "exec form: no shell between compose and the program"
    return [str(part) for part in command]


def _option(command: list[str], flag: str) -> str:
    assert flag in command, f"{flag} missing from {command}"
    return command[command.index(flag) + 1]


def _published(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host address, host port, container port) of each short-syntax port."""
    result = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        assert len(parts) == 3, f"give the host address too: {entry}"
        result.append((parts[0], parts[1], parts[2]))
    return result


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / "deploy" / "env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


# --- the services and what is published -----------------------------------------------------------


def test_the_services_of_the_layout() -> None:
    assert set(services()) == SERVICES
    assert services()["postgres"]["image"].startswith("postgres:16")
    assert services()["redis"]["image"].startswith("redis:7")
    assert services()["postgres"]["volumes"][0].split(":")[1] == "/var/lib/postgresql/data"
    assert set(compose()["volumes"]) == {"postgres-data"}


def test_only_the_proxy_publishes_a_port() -> None:
    for name, service in services().items():
        assert "network_mode" not in service, name  # `host` would publish everything
        if name != "proxy":
            assert "ports" not in service, f"{name} must not be published"
    assert _published(services()["proxy"]) == [("0.0.0.0", "8080", "8080")]


def test_only_the_proxy_and_the_gateway_are_on_a_network_with_a_way_out() -> None:
    networks = compose()["networks"]
    for name, service in services().items():
        for network in service["networks"]:
            if not networks[network].get("internal"):
                assert name in ("gateway", "proxy"), f"{name} is on {network}, not internal"
    assert "backend" in services()["gateway"]["networks"]
    assert services()["proxy"]["networks"] == ["frontend"]  # the gateway's, not the backend
    assert "frontend" in services()["gateway"]["networks"]


def test_ports_default_to_8080_5005_5055_and_follow_the_environment() -> None:
    for ports, (gateway, rasa, actions) in (
        ({}, ("8080", "5005", "5055")),
        (
            {"GATEWAY_PORT": "9080", "RASA_PORT": "6005", "ACTION_PORT": "6055"},
            ("9080", "6005", "6055"),
        ),
    ):
        svc = services({**SECRETS, **ports})
        assert _published(svc["proxy"]) == [("0.0.0.0", gateway, gateway)]
        assert svc["gateway"]["environment"]["GATEWAY_PORT"] == gateway
        assert svc["proxy"]["environment"]["GATEWAY_PORT"] == gateway  # listens, forwards to
        assert _option(_command(svc["rasa"]), "--port") == rasa
        assert _option(_command(svc["actions"]), "--port") == actions
        # everyone who calls Rasa or the actions uses the port they listen on
        env = svc["gateway"]["environment"]
        assert env["RASA_URL"] == f"http://rasa:{rasa}"
        assert env["ACTION_SERVER_URL"] == f"http://actions:{actions}"
        assert svc["rasa"]["environment"]["ACTION_ENDPOINT_URL"] == (
            f"http://actions:{actions}/webhook"
        )
        for name, port in (("gateway", gateway), ("rasa", rasa), ("actions", actions)):
            assert f"http://127.0.0.1:{port}/" in " ".join(svc[name]["healthcheck"]["test"])


def test_the_proxy_can_be_published_on_loopback_only() -> None:
    svc = services({**SECRETS, "GATEWAY_BIND_ADDRESS": "127.0.0.1"})
    assert _published(svc["proxy"]) == [("127.0.0.1", "8080", "8080")]


# --- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_refuses_to_start_without_a_secret(secret: str) -> None:
    for missing in ({k: v for k, v in SECRETS.items() if k != secret}, {**SECRETS, secret: ""}):
        with pytest.raises(MissingVariable, match=secret):
            compose(missing)


def test_no_secret_is_written_into_the_compose_files() -> None:
    for text in (COMPOSE_TEXT, ENDPOINTS_FILE.read_text(encoding="utf-8")):
        for value in SECRETS.values():
            assert value not in text
    resolved = yaml.safe_dump(compose({**SECRETS, "POSTGRES_PASSWORD": "zz-unique-zz"}))
    assert "zz-unique-zz" in resolved  # the secrets come from the environment (.env)


def test_env_example_documents_every_variable_and_holds_no_secret() -> None:
    example = _env_example()
    used = {m.group("name") for m in _VARIABLE.finditer(COMPOSE_TEXT) if m.group("name")}
    assert used <= set(example), f"not in deploy/env.example: {sorted(used - set(example))}"
    for secret in SECRETS:
        assert example[secret] == "", f"{secret} must be left for the station to fill in"
    # its values are the compose defaults: the example describes what happens without it
    assert compose({**SECRETS, **{k: v for k, v in example.items() if v}}) == compose(SECRETS)


def test_env_file_is_kept_out_of_git_and_images() -> None:
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    dockerignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert "/.env" in gitignore or ".env" in gitignore
    assert ".env" in dockerignore


# --- the database ---------------------------------------------------------------------------------


def test_every_service_that_needs_the_database_gets_postgres() -> None:
    env = {**SECRETS, "POSTGRES_USER": "station", "POSTGRES_DB": "power"}
    svc = services(env)
    postgres = svc["postgres"]["environment"]
    assert postgres == {
        "POSTGRES_USER": "station",
        "POSTGRES_DB": "power",
        "POSTGRES_PASSWORD": SECRETS["POSTGRES_PASSWORD"],
    }
    for name in DATABASE_USERS:
        url = make_url(svc[name]["environment"]["DATABASE_URL"])
        assert url.drivername == "postgresql+psycopg", name  # the driver pyproject.toml installs
        assert (url.host, url.port, url.database) == ("postgres", 5432, "power"), name
        assert (url.username, url.password) == ("station", SECRETS["POSTGRES_PASSWORD"]), name
        assert svc[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name


def test_migrations_run_once_before_the_services_that_use_the_schema() -> None:
    svc = services()
    migrate = svc["migrate"]
    assert migrate["restart"] == "no"
    assert _command(migrate) == ["sh", "deploy/migrate.sh"]
    for name in ("actions", "gateway"):
        condition = svc[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
    script = [
        line.strip()
        for line in (ROOT / "deploy" / "migrate.sh").read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("python -m store")
    ]
    assert script == [
        "python -m store migrate",
        "python -m store sync-areas",
        "python -m store seed",  # does nothing when the database already has accounts
        "python -m store demo-users",
    ]
    assert migrate["environment"]["SEED_DEMO_DATA"] == "true"
    assert (
        services({**SECRETS, "SEED_DEMO_DATA": "false"})["migrate"]["environment"]["SEED_DEMO_DATA"]
        == "false"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["migrate"],
        ["sync-areas"],
        ["seed"],
        ["demo-users"],
        ["create-user", "wang", "--role", "agent"],  # deploy/env.example tells how to add staff
    ],
)
def test_the_store_commands_the_deployment_uses_exist(argv: list[str]) -> None:
    assert _store_parser().parse_args(argv).command == argv[0]


# --- the gateway ----------------------------------------------------------------------------------


def test_the_gateway_listens_on_all_interfaces_with_its_api_token() -> None:
    env = services()["gateway"]["environment"]
    assert env["GATEWAY_HOST"] == "0.0.0.0"
    assert env["GATEWAY_API_TOKEN"] == SECRETS["GATEWAY_API_TOKEN"]
    assert env["RASA_TOKEN"] == SECRETS["RASA_TOKEN"]
    # the gateway's own start-up check accepts this environment (empty optional values included)
    settings = GatewaySettings.from_env({k: str(v) for k, v in env.items()})
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert settings.api_token == SECRETS["GATEWAY_API_TOKEN"]
    assert settings.rasa_url == "http://rasa:5005"
    assert settings.action_server_url == "http://actions:5055"
    assert settings.telegram_token is None
    # and would refuse it without the token
    without = {k: str(v) for k, v in env.items() if k != "GATEWAY_API_TOKEN"}
    with pytest.raises(ConfigError, match="GATEWAY_API_TOKEN"):
        GatewaySettings.from_env(without)


def test_the_gateway_scales_behind_the_proxy_sharing_redis() -> None:
    """`docker compose up --scale gateway=N`: no fixed name, no published port, the replicas
    share what they must through Redis (GATEWAY_SHARED), in a db of their own beside Rasa's
    lock store, and believe X-Forwarded-For from the proxy's Docker network only."""
    gateway = services()["gateway"]
    assert "container_name" not in gateway
    assert "ports" not in gateway
    assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
    settings = GatewaySettings.from_env({k: str(v) for k, v in gateway["environment"].items()})
    assert settings.shared
    assert settings.redis_url is not None
    url = urlsplit(settings.redis_url)
    assert (url.hostname, url.port) == ("redis", 6379)
    lock_store = yaml.safe_load(ENDPOINTS_FILE.read_text(encoding="utf-8"))["lock_store"]
    assert url.path != f"/{lock_store['db']}", "Rasa's lock store has a db of its own"
    # every network Docker hands out by default (172.17-31/16, 192.168.x/20) holds the proxy
    for docker_network in ("172.17.0.0/16", "172.31.0.0/16", "192.168.240.0/20"):
        network = ipaddress.ip_network(docker_network)
        first, last = network.network_address, network.broadcast_address
        assert any(first in t and last in t for t in settings.trusted_proxies), docker_network
    assert not any(ipaddress.ip_address("203.0.113.7") in t for t in settings.trusted_proxies)
    own = services({**SECRETS, "GATEWAY_TRUSTED_PROXIES": "100.64.0.0/10"})["gateway"]
    assert own["environment"]["TRUSTED_PROXIES"] == "100.64.0.0/10"


def test_telegram_settings_reach_the_gateway() -> None:
    env = {
        **SECRETS,
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_WEBHOOK_URL": "https://x/tg",
        "TELEGRAM_WEBHOOK_SECRET": "s3cret",
    }
    gateway = services(env)["gateway"]["environment"]
    settings = GatewaySettings.from_env({k: str(v) for k, v in gateway.items()})
    assert settings.telegram_token == "123:abc"
    assert settings.telegram_webhook_url == "https://x/tg"
    assert settings.telegram_webhook_secret == "s3cret"


# --- Rasa -----------------------------------------------------------------------------------------


def test_rasa_runs_its_api_with_the_token_and_is_not_published() -> None:
    rasa = services()["rasa"]
    command = _command(rasa)
    assert command[:3] == ["python", "-m", "rasa_addons.serve"]  # `rasa run`, token from env
    assert "--enable-api" in command
    assert not [part for part in command if SECRETS["RASA_TOKEN"] in part]  # not in `ps`
    assert rasa["environment"]["RASA_TOKEN"] == SECRETS["RASA_TOKEN"]
    assert _option(command, "--interface") == "0.0.0.0"  # for the gateway, inside the network
    assert _option(command, "--endpoints") == "deploy/endpoints.compose.yml"
    assert _option(command, "--credentials") == "credentials.yml"
    assert _option(command, "--model") == "models/current.tar.gz"
    assert "ports" not in rasa
    assert rasa["depends_on"]["redis"]["condition"] == "service_healthy"
    assert rasa["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_rasa_endpoints_use_postgres_and_the_redis_lock_store() -> None:
    endpoints = yaml.safe_load(ENDPOINTS_FILE.read_text(encoding="utf-8"))
    tracker = endpoints["tracker_store"]
    assert (tracker["type"], tracker["dialect"], tracker["url"]) == (
        "SQL",
        "postgresql",
        "postgres",
    )
    assert tracker["port"] == 5432
    lock = endpoints["lock_store"]
    assert (lock["type"], lock["url"], lock["port"]) == ("redis", "redis", 6379)
    assert set(services()) >= {tracker["url"], lock["url"]}


def test_rasa_gets_every_variable_its_endpoints_file_needs() -> None:
    text = "\n".join(
        line
        for line in ENDPOINTS_FILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    )
    # Rasa fills ${VARS} only in unquoted values, and stops when one is not set
    assert not re.search(r"""['"][^'"\n]*\$\{""", text)
    needed = set(re.findall(r"\$\{(\w+)\}", text))
    assert needed
    rasa = services({**SECRETS, "POSTGRES_DB": "power", "RASA_TRACKER_DB": "talks"})["rasa"]
    assert needed <= set(rasa["environment"])
    assert all(rasa["environment"][name] for name in needed)
    assert rasa["environment"]["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
    assert rasa["environment"]["POSTGRES_DB"] == "power"  # login_db: where Rasa creates its db
    assert rasa["environment"]["RASA_TRACKER_DB"] == "talks"


def test_rasa_calls_the_action_server_with_its_token() -> None:
    endpoints = yaml.safe_load(ENDPOINTS_FILE.read_text(encoding="utf-8"))
    headers = endpoints["action_endpoint"]["headers"]
    assert headers == {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"}
    both = services()
    token = SECRETS["ACTION_SERVER_TOKEN"]
    assert both["rasa"]["environment"]["ACTION_SERVER_TOKEN"] == token
    actions = both["actions"]["environment"]
    assert actions["ACTION_SERVER_TOKEN"] == token
    # every interface of its container (Rasa is another container), on the internal network
    assert actions["ACTION_HOST"] == "0.0.0.0"
    assert "ports" not in both["actions"]
    assert COMPOSE_RAW["networks"]["backend"]["internal"] is True


# --- health ---------------------------------------------------------------------------------------


def test_every_long_running_service_has_a_healthcheck_and_restarts() -> None:
    for name in LONG_RUNNING:
        service = services()[name]
        test = service["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL"), name
        assert len(test) > 1, name
        assert service["restart"] == "unless-stopped", name
    assert "healthcheck" not in services()["migrate"]


def test_healthchecks_use_the_script_shipped_in_both_images() -> None:
    for name in ("actions", "rasa", "gateway"):
        assert services()[name]["healthcheck"]["test"][1:3] == ["python", "deploy/healthcheck.py"]
    for dockerfile in ("Dockerfile.app", "Dockerfile.rasa"):
        assert "deploy/healthcheck.py" in (ROOT / "deploy" / dockerfile).read_text("utf-8")


# --- the images -----------------------------------------------------------------------------------


def _dockerfile(name: str) -> str:
    return (ROOT / "deploy" / name).read_text(encoding="utf-8")


def _final_stage(text: str) -> str:
    return text[text.rindex("\nFROM ") :]


def test_services_build_their_image_from_the_dockerfiles() -> None:
    svc = services()
    for name in ("migrate", "actions", "gateway"):
        build = svc[name]["build"]
        assert (build["context"], build["dockerfile"]) == (".", "deploy/Dockerfile.app")
        assert build["args"]["PYTHON_IMAGE"] == "python:3.11-slim"
        assert svc[name]["image"] == svc["gateway"]["image"]
    assert svc["rasa"]["build"]["dockerfile"] == "deploy/Dockerfile.rasa"
    assert svc["rasa"]["build"]["args"]["MODEL_SOURCE"] == "train"
    copy = services({**SECRETS, "RASA_MODEL_SOURCE": "copy"})["rasa"]["build"]["args"]
    assert copy["MODEL_SOURCE"] == "copy"
    stages = re.findall(r"^FROM \S+ AS (\S+)$", _dockerfile("Dockerfile.rasa"), re.M)
    assert {"model-train", "model-copy"} <= set(stages)


def test_base_images_are_the_official_ones_unless_the_station_names_others() -> None:
    svc = services()
    assert (svc["postgres"]["image"], svc["redis"]["image"]) == ("postgres:16", "redis:7")
    assert svc["proxy"]["image"] == "nginx:1.27"
    assert services({**SECRETS, "NGINX_IMAGE": "registry.local/nginx:1.27"})["proxy"]["image"] == (
        "registry.local/nginx:1.27"
    )
    assert svc["rasa"]["build"]["args"]["PYTHON_IMAGE"] == "python:3.10-slim"
    own = {
        "APP_PYTHON_IMAGE": "registry.local/python:3.11",
        "RASA_PYTHON_IMAGE": "registry.local/python:3.10",
        "POSTGRES_IMAGE": "registry.local/postgres:16",
        "REDIS_IMAGE": "registry.local/redis:7",
        "PIP_INDEX_URL": "https://pypi.local/simple",
    }
    svc = services({**SECRETS, **own})
    assert (svc["postgres"]["image"], svc["redis"]["image"]) == (
        own["POSTGRES_IMAGE"],
        own["REDIS_IMAGE"],
    )
    for name, base in (("gateway", "APP_PYTHON_IMAGE"), ("rasa", "RASA_PYTHON_IMAGE")):
        args = svc[name]["build"]["args"]
        assert args == {**args, "PYTHON_IMAGE": own[base], "PIP_INDEX_URL": own["PIP_INDEX_URL"]}
    # every stage that installs packages sees the index (an ARG ends with its stage)
    for dockerfile in ("Dockerfile.app", "Dockerfile.rasa"):
        for stage in _dockerfile(dockerfile).split("\nFROM ")[1:]:
            if "pip install" in stage or "pip wheel" in stage:
                assert "\nARG PIP_INDEX_URL=https://pypi.org/simple\n" in stage, dockerfile


def test_the_compose_file_suits_docker_compose_1_29_too() -> None:
    """Debian 12 packages docker-compose 1.29, which refuses a top-level `name:`: the project
    name comes from COMPOSE_PROJECT_NAME in .env instead."""
    assert set(COMPOSE_RAW) <= {"services", "networks", "volumes"} | {
        key for key in COMPOSE_RAW if key.startswith("x-")
    }
    assert _env_example()["COMPOSE_PROJECT_NAME"] == "township-power-assistant"


def test_the_rasa_image_pins_the_version_of_requirements() -> None:
    pins = dict(
        line.split("==")
        for line in (ROOT / "requirements" / "rasa.in").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    )
    text = _dockerfile("Dockerfile.rasa")
    assert re.findall(r"^ARG RASA_VERSION=(\S+)$", text, re.M) == [pins["rasa"]]
    assert re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M) == ["python:3.10-slim"]
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\} AS rasa$", text, re.M)
    assert "-r /tmp/requirements/rasa.in" in text
    assert "-c /tmp/requirements/rasa-constraints.txt" in text
    assert "m.version('rasa')" in text  # the build stops when the installed Rasa differs
    assert "${RASA_VERSION}" in text
    assert "RASA_TELEMETRY_ENABLED=false" in text
    assert re.search(r"^USER rasa$", _final_stage(text), re.M)


def test_the_app_image_installs_the_pinned_dependencies_as_a_non_root_user() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for dependency in project["dependencies"]:
        assert "==" in dependency, f"pin {dependency}: the image installs these as they are"
    assert project["requires-python"] == ">=3.11"
    text = _dockerfile("Dockerfile.app")
    assert re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M) == ["python:3.11-slim"]
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert "['project']['dependencies']" in text
    assert "-c /tmp/app-constraints.txt" in text  # indirect dependencies as the lock has them
    assert "pip install --no-deps" in text
    final = _final_stage(text)
    assert re.search(r"^USER app$", final, re.M)
    assert final.index("USER app") > final.rindex("RUN ")  # nothing runs as root after it
    assert 'CMD ["python", "-m", "bot"]' in final


def test_dockerignore_keeps_local_state_out_and_the_current_model_in() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for excluded in (".venv", ".venv-rasa", "var/", "reports/", ".git", "models/*", ".env"):
        assert excluded in lines
    assert lines.index("!models/current.tar.gz") > lines.index("models/*")  # later lines win
    for needed in ("conf", "data", "deploy", "nlu", "requirements", "store", "bot", "actions"):
        assert not any(line.rstrip("/") == needed for line in lines), needed


def test_the_files_the_dockerfiles_copy_exist() -> None:
    for name in ("Dockerfile.app", "Dockerfile.rasa"):
        for line in _dockerfile(name).splitlines():
            if line.startswith("COPY ") and "--from=" not in line:
                sources = line.split()[1:-1]
                for source in sources:
                    if source != "models/current.tar.gz":  # only with RASA_MODEL_SOURCE=copy
                        assert (ROOT / source).exists(), f"{name}: {source}"


# --- deploy/healthcheck.py ------------------------------------------------------------------------


def _healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy/healthcheck.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Answer:
    def __init__(self, status: int) -> None:
        self.status = status

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *_: object) -> None:
        return None


@pytest.mark.parametrize(
    ("outcome", "accept", "healthy"),
    [
        (200, [], True),
        (204, [], True),
        (503, [], False),
        (503, ["--accept", "503"], True),
        (500, ["--accept", "503"], False),
        ("refused", [], False),
    ],
)
def test_healthcheck_script(
    monkeypatch: pytest.MonkeyPatch, outcome: int | str, accept: list[str], healthy: bool
) -> None:
    module = _healthcheck()

    def urlopen(url: str, timeout: float) -> _Answer:
        assert url == "http://127.0.0.1:1/health"
        if outcome == "refused":
            raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        assert isinstance(outcome, int)
        if outcome >= 400:
            raise urllib.error.HTTPError(url, outcome, "status", Message(), None)
        return _Answer(outcome)

    monkeypatch.setattr(module.urllib.request, "urlopen", urlopen)
    assert module.main([*accept, "http://127.0.0.1:1/health"]) == (0 if healthy else 1)


# --- the proxy (deploy/proxy/) --------------------------------------------------------------------


def _render_proxy(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """deploy/proxy/start.sh with `env`, a stand-in `nginx` that records its arguments: its exit,
    the configuration it wrote (empty when it refused)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "nginx"
    fake.write_text(f'#!/bin/sh\necho "$@" >>{tmp_path / "nginx-calls"}\n', encoding="utf-8")
    fake.chmod(0o755)
    conf = tmp_path / "proxy.conf"
    conf.unlink(missing_ok=True)
    result = subprocess.run(
        ["sh", str(PROXY_DIR / "start.sh")],
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "PROXY_CONF": str(conf), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result, conf.read_text(encoding="utf-8") if conf.exists() else ""


def test_the_proxy_runs_the_official_nginx_image_with_the_files_of_deploy_proxy() -> None:
    proxy = services()["proxy"]
    mount = proxy["volumes"][0].split(":")
    assert (mount[0], mount[2]) == ("./deploy/proxy", "ro")
    assert _command(proxy) == ["sh", f"{mount[1]}/start.sh"]
    assert proxy["healthcheck"]["test"] == ["CMD", "bash", f"{mount[1]}/healthcheck.sh"]
    assert proxy["restart"] == "unless-stopped"
    assert proxy["depends_on"]["gateway"]["condition"] == "service_started"
    env = proxy["environment"]
    assert (env["GATEWAY_PORT"], env["GATEWAY_MAX_BODY_BYTES"], env["TRUSTED_PROXIES"]) == (
        "8080",
        "",
        "",
    )
    # the station's TRUSTED_PROXIES (a TLS proxy in front) is the proxy's, not the gateway's
    front = services({**SECRETS, "TRUSTED_PROXIES": "10.9.9.9"})
    assert front["proxy"]["environment"]["TRUSTED_PROXIES"] == "10.9.9.9"
    assert front["gateway"]["environment"]["TRUSTED_PROXIES"] != "10.9.9.9"


def test_the_proxy_follows_every_replica_and_keeps_websockets_open() -> None:
    """Docker's DNS asked at request time (a variable in proxy_pass): replicas scaled or
    restarted later are found; the next one when one does not take the connection."""
    assert re.search(r"^\s*resolver 127\.0\.0\.11 valid=\d+s", PROXY_TEMPLATE, re.M)
    assert "set $gateway http://gateway:@PORT@;" in PROXY_TEMPLATE
    # no upstream block: nginx resolves one at start-up only (before 1.27.3)
    assert not re.search(r"^\s*upstream ", PROXY_TEMPLATE, re.M)
    passes = re.findall(r"^\s*proxy_pass (\S+);", PROXY_TEMPLATE, re.M)
    assert len(passes) == 3
    assert set(passes) == {"$gateway"}
    assert "proxy_next_upstream error timeout;" in PROXY_TEMPLATE
    assert "non_idempotent" not in PROXY_TEMPLATE  # a POST that reached a replica: not resent
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in PROXY_TEMPLATE  # replaced
    assert "proxy_set_header Host $http_host;" in PROXY_TEMPLATE  # the web chat's origin check
    sockets = set(
        re.findall(
            r"location = (\S+) \{\s*proxy_pass \$gateway;\s*proxy_read_timeout 1h;", PROXY_TEMPLATE
        )
    )
    assert sockets == {"/ws", "/console/ws"}
    sources = (ROOT / "bot" / "channels" / "webchat.py").read_text(encoding="utf-8")
    sources += (ROOT / "bot" / "console" / "__init__.py").read_text(encoding="utf-8")
    for path in sockets:
        assert f'add_get("{path}",' in sources, path  # the gateway's websocket routes
    assert "proxy_set_header Upgrade $http_upgrade;" in PROXY_TEMPLATE


def test_the_proxy_configuration_is_filled_in_at_start(tmp_path: Path) -> None:
    result, conf = _render_proxy(
        tmp_path,
        GATEWAY_PORT="9080",
        GATEWAY_MAX_BODY_BYTES="5000000",
        TRUSTED_PROXIES="10.1.2.3, 192.168.0.0/16",
    )
    assert result.returncode == 0, result.stderr
    assert "@" not in re.sub(r"#.*", "", conf)  # every placeholder filled
    assert "listen 9080;" in conf
    assert "set $gateway http://gateway:9080;" in conf
    assert "client_max_body_size 5000000;" in conf
    assert re.findall(r"set_real_ip_from (\S+);", conf) == ["10.1.2.3", "192.168.0.0/16"]
    assert "real_ip_header X-Forwarded-For;" in conf
    calls = (tmp_path / "nginx-calls").read_text(encoding="utf-8").splitlines()
    assert calls == [
        f"-t -q -c {tmp_path / 'proxy.conf'}",
        f"-c {tmp_path / 'proxy.conf'} -g daemon off;",
    ]


def test_the_proxy_defaults_and_refusals(tmp_path: Path) -> None:
    result, conf = _render_proxy(tmp_path, GATEWAY_MAX_BODY_BYTES="")
    assert result.returncode == 0, result.stderr
    assert "listen 8080;" in conf
    assert "client_max_body_size 1048576;" in conf  # at least nginx's default, 1 MiB
    assert "set_real_ip_from" not in conf
    assert "real_ip_header" not in conf
    for env in ({"TRUSTED_PROXIES": "10.0.0.1;evil"}, {"GATEWAY_PORT": "80; x"}):
        refused, conf = _render_proxy(tmp_path, **env)
        assert refused.returncode == 3, env
        assert conf == "", env
