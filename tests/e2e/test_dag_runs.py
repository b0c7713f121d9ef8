"""Real Airflow DAG runs (`dag.test()`) of the ingest and resolve-publish DAGs on a small city."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def airflow_dagbag():
    """Airflow's metadata DB migrated in the test run's throwaway AIRFLOW_HOME, and the project's DAGs."""
    airflow = Path(sys.executable).with_name("airflow")
    completed = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, env=os.environ.copy(), timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag


def test_ingest_then_resolve_publish_dag_runs(airflow_dagbag, fresh_city, tmp_path, monkeypatch, spark):
    from simulators.runtime import CitySystems

    from cityhub.demo import truth_coverage

    home = tmp_path / "home"
    monkeypatch.setenv("CITYHUB_HOME", str(home))
    with CitySystems(fresh_city) as systems:
        for name, value in systems.env.items():
            monkeypatch.setenv(name, value)
        for source in ("public_security", "civil_affairs", "housing", "health"):
            run = airflow_dagbag.dags[f"cityhub_ingest_{source}"].test()
            assert run.state == "success", source
            assert any((home / "lake" / "raw" / source).rglob("*.parquet")), f"{source} landed nothing"
        run = airflow_dagbag.dags["cityhub_resolve_publish"].test()
        assert run.state == "success"

    url = f"sqlite:///{home / 'shared.db'}"
    with sa.create_engine(url).connect() as connection:
        versions = dict(connection.execute(sa.text("select dataset, max(version) from dataset_version group by dataset")).all())
        residents = connection.execute(sa.text("select count(*) from resident")).scalar()
    assert versions.get("resident") == 1 and residents > 200
    assert list((home / "runs").glob("*/quality/scorecard.html")), "the scorecard task writes the run's HTML"
    coverage = truth_coverage(url, fresh_city)
    assert coverage["missing"] == 0 and coverage["duplicated"] == 0, coverage
