"""One ingest DAG per department source: land new records in the raw layer, then update its Asset.

Wiring only: the work is `cityhub.pipeline.extract_step`, the same function `cityhub run` calls.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task

from cityhub.orchestration import raw_asset_uri, source_names

DOC = """
### cityhub ingest: {source}

Extracts new and changed records of the **{source}** department system since its bookmark and lands
them as one raw Parquet batch (batch id = this run's id, so a retry of the same run is idempotent).
On success the `{uri}` Asset is updated, which schedules `cityhub_resolve_publish`.
A source that stays down after the connector's own retries fails this DAG run only.
"""


def build_ingest_dag(source: str):
    """The ingest DAG of one source."""
    asset = Asset(raw_asset_uri(source))

    @dag(
        dag_id=f"cityhub_ingest_{source}",
        schedule="@daily",
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["cityhub", "ingest", source],
        default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
        doc_md=DOC.format(source=source, uri=asset.uri),
        max_active_runs=1,
    )
    def ingest():
        @task(outlets=[asset])
        def extract(**context) -> dict:
            from cityhub.config import load_settings
            from cityhub.context import RunContext
            from cityhub.orchestration import run_id_from_airflow
            from cityhub.pipeline import extract_step

            run_id = run_id_from_airflow(context["run_id"])
            result = extract_step(RunContext(load_settings(), run_id=run_id), source, batch_id=run_id)
            return {"source": source, "batch_id": run_id, "rows": result.get("total_rows")}

        extract()

    return ingest()


for _source in source_names():
    globals()[f"cityhub_ingest_{_source}"] = build_ingest_dag(_source)
