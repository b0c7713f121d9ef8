"""Standardise, resolve and publish whenever any source has landed a new raw batch.

Wiring only: each task calls the `cityhub.pipeline` step the CLI uses; the steps meet in the lake.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetAny, Param, dag, task

from cityhub.orchestration import PUBLISHED_ASSET_URI, raw_asset_uri, source_names

DOC = """
### cityhub resolve and publish

Runs when any `cityhub://raw/<source>` Asset is updated. Standardises every source's current records
(checking `current = standardised + quarantined` per stream), links them into residents with golden
records, and publishes the shared layer in one transaction: if anything fails, the previous
published version stays live. Updates `cityhub://published/resident` for subscribers. Then scores
each department (provider scorecard history, `<run>/quality/scorecard.html`); quality warnings are
in that task's log and return value.

Param `incremental` (trigger with config): re-match only the records new or changed since the
published run and the residents they could join, carrying everything else (a first run is always
full). Scheduled runs resolve in full.
"""


def _context(airflow_context):
    from cityhub.config import load_settings
    from cityhub.context import RunContext
    from cityhub.orchestration import run_id_from_airflow

    return RunContext(load_settings(), run_id=run_id_from_airflow(airflow_context["run_id"]))


@dag(
    dag_id="cityhub_resolve_publish",
    schedule=AssetAny(*(Asset(raw_asset_uri(source)) for source in source_names())),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["cityhub", "resolve", "publish"],
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    doc_md=DOC,
    max_active_runs=1,
    params={"incremental": Param(False, type="boolean", description="Re-match only what changed since the published run.")},
)
def cityhub_resolve_publish():
    @task
    def standardise(**context) -> dict:
        from cityhub.pipeline import standardise_and_reconcile

        return {"streams": len(standardise_and_reconcile(_context(context))["reconciliation"])}

    @task
    def validate_standardised(**context) -> dict:
        from cityhub.pipeline import validate_standardised_step

        return validate_standardised_step(_context(context))

    @task
    def quality_gate(**context) -> dict:
        from cityhub.pipeline import gate_step

        return gate_step(_context(context))  # publish reads the decision and leaves out what it held

    @task
    def validate_published(published: dict, **context) -> dict:
        from cityhub.pipeline import validate_published_step
        from cityhub.quality.gates import read_gate

        ctx = _context(context)
        gate = read_gate(ctx.run_dir)
        result = validate_published_step(ctx, published)
        if gate is not None and not gate.passed:
            raise RuntimeError(gate.message())  # after publishing what passed, the held dataset and rule fail the task
        return {"success": result.get("success"), "failed": result.get("failed")}

    @task
    def resolve(**context) -> dict:
        from cityhub.pipeline import resolve_step

        result = resolve_step(_context(context), incremental=bool(context["params"]["incremental"]))
        return {"residents": result.get("residents"), **(result.get("incremental") or {})}  # an incremental run's counts

    @task(outlets=[Asset(PUBLISHED_ASSET_URI)])
    def publish(**context) -> dict:
        from cityhub.pipeline import publish_step

        result = publish_step(_context(context))
        return {"versions": result.get("versions"), "rows": result.get("rows"), "skipped": result.get("skipped", False)}

    @task
    def scorecard(**context) -> dict:
        from cityhub.pipeline import scorecard_step

        result = scorecard_step(_context(context))
        if "error" in result:
            raise RuntimeError(f"provider scorecard failed: {result['error']}")
        return {"html": result["html"], "anomalies": result["anomalies"]}

    published = publish()
    standardise() >> validate_standardised() >> resolve() >> quality_gate() >> published
    validate_published(published) >> scorecard()


cityhub_resolve_publish()
