"""Shared fixtures: one Spark session per test run, one small simulated city, the test PostgreSQL."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import logging

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Airflow reads its configuration once, at first import: point it at a throwaway home (SQLite
# metadata DB, the project's DAG folder) before any test imports it.
REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="cityhub-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# One small Spark driver for the whole run, whichever test builds the session first.
os.environ.setdefault("CITYHUB_SPARK_DRIVER_MEMORY", "2g")
os.environ.setdefault("CITYHUB_SPARK_SHUFFLE_PARTITIONS", "1")
# py4j logs from finalisers after pytest has closed its streams; keep the end of the run clean.
logging.getLogger("py4j").setLevel(logging.WARNING)
logging.getLogger("py4j.clientserver").setLevel(logging.WARNING)

TEST_DATABASE_URL = os.environ.get("CITYHUB_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SMALL_CITY_RESIDENTS = 400
SMALL_CITY_SEED = 7


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """The one local Spark session of the test run (shuffle.partitions=1, UI off)."""
    from cityhub.config import Settings
    from transforms.spark import get_spark

    settings = Settings(home=tmp_path_factory.mktemp("spark-home"), spark_shuffle_partitions=1, spark_driver_memory="2g")
    session = get_spark(settings)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def small_city(tmp_path_factory) -> Path:
    """A small simulated city (fixed seed) generated once per test run; treat it as read-only."""
    from simulators.city import generate_city

    out = tmp_path_factory.mktemp("city")
    generate_city(out, residents=SMALL_CITY_RESIDENTS, seed=SMALL_CITY_SEED)
    return out


@pytest.fixture
def fresh_city(tmp_path) -> Path:
    """A small simulated city of the test's own, for tests that change the department systems."""
    from simulators.city import generate_city

    out = tmp_path / "city"
    generate_city(out, residents=SMALL_CITY_RESIDENTS, seed=SMALL_CITY_SEED)
    return out


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The real PostgreSQL of the integration tests; skips (locally) or fails (CI) when it is down."""
    import sqlalchemy as sa

    try:
        with sa.create_engine(TEST_DATABASE_URL).connect() as connection:
            connection.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means the same thing here
        if os.environ.get("CI"):
            raise RuntimeError(f"PostgreSQL at {TEST_DATABASE_URL} is required in CI: {exc}") from exc
        pytest.skip(f"PostgreSQL not reachable at {TEST_DATABASE_URL}: {exc}")
    return TEST_DATABASE_URL


def pytest_unconfigure(config):
    """py4j closes its sockets from finalisers after pytest closed the log streams; don't print that."""
    logging.raiseExceptions = False
