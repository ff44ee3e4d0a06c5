"""compose.yaml cannot run here (no Docker engine); check that it describes this project's real parts."""

from __future__ import annotations

from pathlib import Path

import yaml

from claimline.cli import SERVICES, build_parser

REPO = Path(__file__).resolve().parent.parent
compose = yaml.safe_load((REPO / "compose.yaml").read_text())


def test_compose_runs_kafka_4_and_postgres():
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["postgres"]["image"].startswith("postgres:")


def test_every_claimline_service_in_compose_exists_in_the_project():
    named = {n: s for n, s in compose["services"].items() if n not in ("kafka", "postgres")}
    assert set(named) == set(SERVICES)
    parser = build_parser()
    for name, service in named.items():
        command = service["command"]
        assert command[:3] == ["claimline", "run", name]
        args = parser.parse_args(command[1:])  # the CLI accepts exactly this command
        assert args.service == name
        package = "queues/gateway" if name == "gateway" else name
        assert (REPO / "services" / package).is_dir()
        port = command[command.index("--port") + 1]
        assert f"localhost:{port}/health/ready" in " ".join(service["healthcheck"]["test"])
        assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert service["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_the_image_compose_builds_has_a_dockerfile_that_copies_the_services():
    dockerfile = (REPO / "Dockerfile").read_text()
    for folder in ("claimline", "shared", "services"):
        assert f"COPY {folder} ./{folder}" in dockerfile
