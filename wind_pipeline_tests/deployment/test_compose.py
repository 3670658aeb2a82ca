"""docker-compose.yml, the Dockerfiles and .env.example, read as Docker Compose reads them."""

from __future__ import annotations

import re
import subprocess
import sys

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
    assert services["bootstrap"]["command"] == ["python", "-m", "wind_pipeline.bootstrap"]


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
        assert services[name]["build"] == code["build"]
    for name in ("dagster-webserver", "dagster-daemon"):
        assert services[name]["build"]["target"] == "dagster"
        assert services[name]["image"] != code["image"]
    # An image set in .env changes both together.
    env = {**read_env_file(ENV_EXAMPLE), "WIND_CODE_IMAGE": "registry.example/wind/code:1.2.3"}
    moved = compose_config(env)["services"]["code-location"]
    assert moved["image"] == environment_of(moved)["DAGSTER_CURRENT_IMAGE"]
    assert moved["image"] == "registry.example/wind/code:1.2.3"


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


def test_images_are_pinned_and_run_as_a_non_root_user(services):
    for name in ("target-db", "dagster-db"):
        assert PINNED_IMAGE.match(services[name]["image"]), name
    dockerfiles = [DOCKERFILE, REPO_ROOT / "docker" / "source-db.Dockerfile"]
    for dockerfile in dockerfiles:
        text = dockerfile.read_text()
        args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
        for base in re.findall(r"^FROM (\S+)", text, re.MULTILINE):
            base = args.get(base.strip("${}"), base)
            if base in ("base",):  # an earlier stage
                continue
            assert PINNED_IMAGE.match(base), f"{dockerfile.name}: FROM {base} is not pinned"
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


def test_the_dagster_image_carries_the_event_log_storage_its_dagster_yaml_names(tmp_path):
    """The webserver/daemon image has no project install: it copies the one module that
    dagster.yaml's event log storage needs. That module, alone beside an empty package,
    imports with nothing but Dagster's packages (as in the image)."""
    stage = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.MULTILINE)
    (dagster_stage,) = [s for s in stage if s.split("\n", 1)[0].endswith("AS dagster")]
    assert "wind_pipeline/dagster_storage.py" in dagster_stage
    assert "ENV PYTHONPATH=/opt/dagster/app" in dagster_stage
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    module = config["event_log_storage"]["module"]
    assert module == "wind_pipeline.dagster_storage"

    package = tmp_path / "wind_pipeline"
    package.mkdir()
    for name in ("__init__.py", "dagster_storage.py"):
        (package / name).write_text((REPO_ROOT / "wind_pipeline" / name).read_text())
    probe = (
        "import sys, wind_pipeline.dagster_storage as m; "
        f"assert m.__file__.startswith({str(tmp_path)!r}), m.__file__; "
        "own = sorted(n for n in sys.modules if n.startswith('wind_pipeline')); "
        "assert own == ['wind_pipeline', 'wind_pipeline.dagster_storage'], own; "
        f"print(m.{config['event_log_storage']['class']}.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "PooledPostgresEventLogStorage"
