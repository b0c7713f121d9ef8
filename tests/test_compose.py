"""docker-compose.yml cannot run here (no Docker engine), so check its wiring by parsing it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
REQUIRED = {
    "postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
    "airflow-triggerer", "spark-master", "spark-worker", "sim-civil-affairs", "sim-health",
}
ONE_SHOT = {"airflow-init", "city-init"}


def test_every_required_service_is_declared():
    assert REQUIRED <= set(SERVICES), REQUIRED - set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_name_declared_services(name):
    depends = SERVICES[name].get("depends_on", {})
    assert set(depends) <= set(SERVICES), f"{name} depends on undeclared {set(depends) - set(SERVICES)}"
    for target, rule in (depends.items() if isinstance(depends, dict) else []):
        if rule.get("condition") == "service_healthy":
            assert "healthcheck" in SERVICES[target], f"{name} waits for {target} to be healthy, but it has no healthcheck"
        if rule.get("condition") == "service_completed_successfully":
            assert target in ONE_SHOT, f"{name} waits for {target} to complete, but it is a long-running service"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_volumes_env_files_and_builds_exist(name):
    service = SERVICES[name]
    for volume in service.get("volumes", []):
        source = volume.split(":", 1)[0]
        if source.startswith((".", "/")):
            assert (REPO / source).exists(), f"{name}: bind mount {source} does not exist"
        else:
            assert source in COMPOSE.get("volumes", {}), f"{name}: named volume {source} is not declared"
    for env_file in service.get("env_file", []):
        assert (REPO / env_file).is_file(), f"{name}: env file {env_file} does not exist"
    build = service.get("build")
    if build:
        assert (REPO / build["context"] / build["dockerfile"]).is_file(), f"{name}: Dockerfile missing"
    assert "image" in service or build, f"{name}: neither image nor build"


@pytest.mark.parametrize("name", sorted(set(SERVICES) - ONE_SHOT - {"spark-worker"}))
def test_long_running_services_have_health_checks(name):
    assert "healthcheck" in SERVICES[name], f"{name} has no healthcheck"


def test_simulators_and_airflow_get_the_source_settings():
    env = dict(line.split("=", 1) for line in (REPO / "docker/cityhub.env").read_text().splitlines() if line and not line.startswith("#"))
    for definition in (REPO / "connectors/sources").glob("*.yaml"):
        text = definition.read_text(encoding="utf-8")
        for variable in ("CITYHUB_PUBLIC_SECURITY_URL", "CITYHUB_CIVIL_AFFAIRS_URL", "CITYHUB_HEALTH_URL", "CITYHUB_HOUSING_DROP",
                         "CITYHUB_CIVIL_AFFAIRS_TOKEN", "CITYHUB_HEALTH_API_KEY"):
            if variable in text:
                assert variable in env, f"{definition.name} needs {variable}, which docker/cityhub.env does not set"
