"""Real Airflow DAG runs (`dag.test()`) of the ingest and resolve-publish DAGs on a small city."""

from __future__ import annotations

import json
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
            assert task_states(run) == {"extract": "success", "validate_raw": "success"}, source
            assert any((home / "lake" / "raw" / source).rglob("*.parquet")), f"{source} landed nothing"
            raw = raw_outcomes(home, run)
            assert raw and {o["source"] for o in raw} == {source} and not [o for o in raw if o["severity"] == "critical" and not o["success"]]
            assert asset_events(run, source) == 1, "a batch that passed updates the source's Asset"
        run = airflow_dagbag.dags["cityhub_resolve_publish"].test()
        assert run.state == "success"

    url = f"sqlite:///{home / 'shared.db'}"
    query = sa.text("select resident_id, name, id_number, record_count from resident order by resident_id")
    with sa.create_engine(url).connect() as connection:
        versions = dict(connection.execute(sa.text("select dataset, max(version) from dataset_version group by dataset")).all())
        residents = connection.execute(sa.text("select count(*) from resident")).scalar()
        published = connection.execute(query).all()
    assert versions.get("resident") == 1 and residents > 200
    # Triggered with config: an incremental run against the one just published. Nothing changed, so it carries every resident.
    run = airflow_dagbag.dags["cityhub_resolve_publish"].test(run_conf={"incremental": True})
    assert run.state == "success"
    assert returned(run, "resolve") == {"residents": residents, "records_changed": 0, "records_rematched": 0, "residents_rebuilt": 0}
    with sa.create_engine(url).connect() as connection:
        assert connection.execute(query).all() == published
    assert list((home / "runs").glob("*/quality/scorecard.html")), "the scorecard task writes the run's HTML"
    coverage = truth_coverage(url, fresh_city)
    assert coverage["missing"] == 0 and coverage["duplicated"] == 0, coverage


def test_a_batch_with_a_duplicated_record_fails_validate_raw_naming_the_rule_and_updates_no_asset(airflow_dagbag, tmp_path, monkeypatch, caplog):
    home, drop = tmp_path / "home", tmp_path / "drop"
    drop.mkdir()
    row = "浙(2024)杭州市不动产权第0000001号,U1,张三,居民身份证,110101199003070011,单独所有,杭州市西湖区文三路1号,88.5,2024/01/01,2024-01-01 10:00:00"
    header = "登记编号,不动产单元号,权利人,证件类型,证件号码,共有情况,房屋坐落,建筑面积,登记日期,更新时间"
    (drop / "property_20240101.csv").write_text("\r\n".join([header, row, row]) + "\r\n", encoding="utf-8")  # the exporter wrote a row twice
    monkeypatch.setenv("CITYHUB_HOME", str(home))
    monkeypatch.setenv("CITYHUB_HOUSING_DROP", str(drop))

    with caplog.at_level("ERROR"):
        run = airflow_dagbag.dags["cityhub_ingest_housing"].test()

    assert run.state == "failed"
    assert task_states(run) == {"extract": "success", "validate_raw": "failed"}, "failed for good: a retry cannot mend the data"
    assert "property: record_hash_unique(_record_hash) [2 unexpected]" in caplog.text, "the failed rule is in the task's log"
    assert asset_events(run, "housing") == 0, "resolve_publish must not hear of a batch that failed"
    failed = [o for o in raw_outcomes(home, run) if not o["success"] and o["severity"] == "critical"]
    assert [(o["dataset"], o["rule"]) for o in failed] == [("property", "record_hash_unique")]
    assert not list((home / "lake" / "raw" / "housing").rglob("*.parquet")), "the batch is withdrawn from the raw layer"
    state = json.loads((home / "state" / "housing.json").read_text(encoding="utf-8"))
    assert state["streams"]["property"]["bookmark"] is None, "the file is read again once the bureau fixes it"


def returned(run, task_id: str):
    """What a task of the DAG run returned (its XCom)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        value = session.execute(XComModel.get_many(run_id=run.run_id, key="return_value", task_ids=task_id)).scalars().one().value
    return json.loads(value) if isinstance(value, str) else value


def task_states(run) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}


def asset_events(run, source: str) -> int:
    """Events of the source's raw Asset emitted by this DAG run."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    from cityhub.orchestration import raw_asset_uri

    with create_session() as session:
        query = sa.select(sa.func.count()).select_from(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id).where(
            AssetModel.uri == raw_asset_uri(source), AssetEvent.source_run_id == run.run_id)
        return session.execute(query).scalar()


def raw_outcomes(home: Path, run) -> list[dict]:
    """The raw layer's rows of the ingest run's outcomes.json (its run folder is named after the Airflow run id)."""
    from cityhub.orchestration import run_id_from_airflow

    path = home / "runs" / run_id_from_airflow(run.run_id) / "quality" / "outcomes.json"
    return [row for row in json.loads(path.read_text(encoding="utf-8")) if row["layer"] == "raw"] if path.exists() else []
