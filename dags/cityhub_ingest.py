"""One ingest DAG per department source: land new records in the raw layer, validate them, then update its Asset.

Wiring only: the work is `cityhub.pipeline.extract_step` and `validate_raw_step`, the functions `cityhub run` calls.
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
`validate_raw` then checks that batch with the `raw_{source}` Great Expectations suite (provenance on
every row, each record once, primary key present, as many rows as extract reported; Data Docs and
`quality/outcomes.json` in this run's folder). Only a batch that passes updates the `{uri}` Asset,
which schedules `cityhub_resolve_publish`.
A source that stays down after the connector's own retries fails this DAG run only. A batch that
breaks a critical raw rule fails `validate_raw` without retries, naming the stream and rule in its log;
the batch is withdrawn and the bookmarks put back, so the next run reads those records again.
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
        @task
        def extract(**context) -> dict:
            from cityhub.config import load_settings
            from cityhub.context import RunContext
            from cityhub.orchestration import run_id_from_airflow
            from cityhub.pipeline import extract_step

            run_id = run_id_from_airflow(context["run_id"])
            result = extract_step(RunContext(load_settings(), run_id=run_id), source, batch_id=run_id)
            streams = {name: {"rows": entry.get("rows", 0)} for name, entry in (result.get("streams") or {}).items()}
            return {"source": source, "batch_id": run_id, "rows": result.get("total_rows"), "streams": streams}

        # The Asset is updated here, not by extract: resolve_publish must only hear of a batch that passed.
        @task(outlets=[asset])
        def validate_raw(extracted: dict, **context) -> dict:
            from airflow.sdk.exceptions import AirflowFailException

            from cityhub.config import load_settings
            from cityhub.context import RunContext
            from cityhub.orchestration import run_id_from_airflow
            from cityhub.pipeline import validate_raw_step
            from cityhub.quality.raw import RawBatchRejected

            ctx = RunContext(load_settings(), run_id=run_id_from_airflow(context["run_id"]))
            try:
                return validate_raw_step(ctx, source, extracted)
            except RawBatchRejected as exc:
                # A retry cannot mend the data, and the batch is already withdrawn: fail for good, rule in the log.
                raise AirflowFailException(str(exc)) from exc

        validate_raw(extract())

    return ingest()


for _source in source_names():
    globals()[f"cityhub_ingest_{_source}"] = build_ingest_dag(_source)
