"""docker-compose.yml (the production recipe) must stay valid.

`docker compose config -q` parses and validates it without a Docker engine. Skipped
where no compose implementation is installed (the dev machines have only the docker
client, not necessarily its compose plugin).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"


def _compose_cmd() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=60
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_file_is_valid():
    cmd = _compose_cmd()
    if cmd is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    proc = subprocess.run(
        [*cmd, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr or proc.stdout


def test_compose_services_shape():
    """The services and wiring the deployment relies on (plain YAML, no docker needed)."""
    yaml = pytest.importorskip("yaml")
    spec = yaml.safe_load(COMPOSE_FILE.read_text())
    services = spec["services"]
    assert {"kafka", "postgres", "worker", "projector", "api"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:3.9")
    assert services["postgres"]["image"].startswith("postgres:15")
    for name in ("kafka", "postgres", "api"):
        assert "healthcheck" in services[name], name
    for name in ("worker", "projector", "api"):
        svc = services[name]
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
        assert svc["environment"]["ZHONGSHU_BROKER"] == "kafka:9092"
        assert svc["environment"]["ZHONGSHU_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["worker"]["command"][:2] == ["zhongshu", "worker"]
    assert "8040:8040" in services["api"]["ports"]
    assert (REPO / "deploy" / "Dockerfile").is_file()
