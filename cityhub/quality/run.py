"""Run the quality suites on a layer: a GX file context under the run's report folder, Data Docs built there.

`validate_standardised` checks the canonical persons of a run on Spark; `validate_published` checks the
shared layer's tables over SQL (SQLite or PostgreSQL); `validate_pandas_frames` checks frames without
Spark (the raw batches an ingest task has just landed). Each returns `QualityResult`s: one outcome per
expectation with its severity and unexpected count, and `blocking` when any critical rule failed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# GX reads this at import: no usage reports leave the machine.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
from great_expectations.checkpoint import UpdateDataDocsAction  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

from cityhub.lake import Lake  # noqa: E402

from .suites import CRITICAL, PUBLISHED_DATASETS, STANDARDISED_PERSONS, load_suite  # noqa: E402

DATA_DOCS_INDEX = Path("gx") / "uncommitted" / "data_docs" / "local_site" / "index.html"
RESULT_FORMAT = {"result_format": "SUMMARY"}


@dataclass(frozen=True)
class ExpectationOutcome:
    """How one expectation of one suite fared on one batch."""

    suite: str
    expectation: str
    target: str
    severity: str
    success: bool
    unexpected_count: int | None
    element_count: int | None
    error: str | None = None
    rule: str | None = None  # meta.rule: the row rule or dataset rule this expectation checks


@dataclass(frozen=True)
class QualityResult:
    """Every expectation's outcome of a validation, and where its Data Docs are."""

    outcomes: tuple[ExpectationOutcome, ...]
    data_docs: Path | None

    @property
    def success(self) -> bool:
        """True when every expectation passed."""
        return all(outcome.success for outcome in self.outcomes)

    @property
    def blocking(self) -> bool:
        """True when a critical expectation failed: the layer must not be passed on."""
        return any(not outcome.success and outcome.severity == CRITICAL for outcome in self.outcomes)

    def failures(self, severity: str | None = None) -> tuple[ExpectationOutcome, ...]:
        """The failed outcomes, optionally of one severity only."""
        return tuple(o for o in self.outcomes if not o.success and (severity is None or o.severity == severity))

    def outcome(self, suite: str, expectation: str, target: str) -> ExpectationOutcome:
        """The outcome of the expectation of type `expectation` on `target` in `suite`."""
        for candidate in self.outcomes:
            if (candidate.suite, candidate.expectation, candidate.target) == (suite, expectation, target):
                return candidate
        raise KeyError((suite, expectation, target))


def quality_context(report_dir: Path) -> gx.data_context.AbstractDataContext:
    """A GX file context rooted in `report_dir` (suites, results and Data Docs all stay in that folder)."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(report_dir))
    # Progress bars would fill the pipeline's logs with one line per metric.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.save()
    return context


def validate_standardised(spark, lake: Lake, run_id: str, report_dir: Path) -> QualityResult:
    """Validate the run's standardised persons on Spark with the `standardised_persons` suite."""
    # GX makes a Spark job per metric; caching spares a Parquet scan (and UDF inputs) for each of them.
    frame = spark.read.parquet(str(lake.standardised_persons(run_id))).cache()
    try:
        return validate_persons_frame(frame, report_dir, run_id)
    finally:
        frame.unpersist()


def validate_persons_frame(frame, report_dir: Path, run_id: str = "adhoc", suite_name: str = STANDARDISED_PERSONS) -> QualityResult:
    """Validate a Spark DataFrame of canonical person records with a standardised-layer suite."""
    return validate_spark_frame(frame, report_dir, "standardised", load_suite(suite_name), f"standardised-{suite_name}-{run_id}")


def validate_spark_frame(frame, report_dir: Path, layer: str, suite: gx.ExpectationSuite, checkpoint: str) -> QualityResult:
    """Validate one Spark DataFrame with `suite` (an asset of the `layer` Spark source), Data Docs updated."""
    context = quality_context(report_dir)
    definition = _frame_definition(context, context.data_sources.add_or_update_spark(name=layer), suite)
    return _run_checkpoint(context, checkpoint, [definition], {"dataframe": frame}, Path(report_dir))


def validate_pandas_frames(frames: Mapping[str, tuple], report_dir: Path, layer: str) -> dict[str, QualityResult]:
    """Validate pandas DataFrames, `{name: (frame, suite)}`, each with its own suite (assets of the `layer`
    pandas source); Data Docs are built once, after all of them."""
    # A checkpoint hands one batch to all its definitions, and each frame here is its own batch:
    # the definitions run one by one (GX stores each result) and the docs are built at the end.
    context = quality_context(report_dir)
    source = context.data_sources.add_or_update_pandas(name=layer)
    outcomes = {}
    for name, (frame, suite) in frames.items():
        result = _frame_definition(context, source, suite).run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT)
        outcomes[name] = tuple(_outcome(result.suite_name, expectation_result) for expectation_result in result.results)
    context.build_data_docs()
    index = Path(report_dir) / DATA_DOCS_INDEX
    return {name: QualityResult(outcomes=found, data_docs=index if index.exists() else None) for name, found in outcomes.items()}


def _frame_definition(context, source, suite: gx.ExpectationSuite) -> gx.ValidationDefinition:
    """The validation definition of `suite` on a whole-DataFrame asset of `source` named like the suite."""
    asset = next((a for a in source.assets if a.name == suite.name), None) or source.add_dataframe_asset(name=suite.name)
    batch = next((b for b in asset.batch_definitions if b.name == "run"), None) or asset.add_batch_definition_whole_dataframe(name="run")
    suite = context.suites.add_or_update(suite)
    return context.validation_definitions.add_or_update(gx.ValidationDefinition(name=suite.name, data=batch, suite=suite))


def validate_published(url: str, report_dir: Path, suites: dict[str, gx.ExpectationSuite] | None = None) -> QualityResult:
    """Validate the shared layer's published tables at `url` (SQLite or PostgreSQL), one suite per dataset
    (by default the resident datasets' own suites; `suites` maps table names to the suites to run)."""
    from cityhub.sharedlayer.engine import normalise_url

    context = quality_context(report_dir)
    source = _sql_source(context, normalise_url(url))
    definitions = []
    for dataset, suite in (suites or {name: load_suite(name) for name in PUBLISHED_DATASETS}).items():
        asset = source.add_table_asset(name=dataset, table_name=dataset)
        batch = asset.add_batch_definition_whole_table(name="current")
        suite = context.suites.add_or_update(suite)
        definitions.append(
            context.validation_definitions.add_or_update(gx.ValidationDefinition(name=f"published-{dataset}", data=batch, suite=suite))
        )
    return _run_checkpoint(context, "published", definitions, None, Path(report_dir))


def _sql_source(context, url):
    # The dialect's own GX source (SQLite, PostgreSQL) knows its types; other databases get the generic one.
    connection_string = url.render_as_string(hide_password=False)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return context.data_sources.add_or_update_sqlite(name="shared_layer", connection_string=connection_string)
    if backend == "postgresql":
        return context.data_sources.add_or_update_postgres(name="shared_layer", connection_string=connection_string)
    return context.data_sources.add_or_update_sql(name="shared_layer", connection_string=connection_string)


def _run_checkpoint(context, name: str, definitions: list, batch_parameters: dict | None, report_dir: Path) -> QualityResult:
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=definitions,
            actions=[UpdateDataDocsAction(name="data_docs")],
            result_format=RESULT_FORMAT,
        )
    )
    result = checkpoint.run(batch_parameters=batch_parameters)
    outcomes = tuple(
        _outcome(suite_result.suite_name, expectation_result)
        for suite_result in result.run_results.values()
        for expectation_result in suite_result.results
    )
    index = report_dir / DATA_DOCS_INDEX
    return QualityResult(outcomes=outcomes, data_docs=index if index.exists() else None)


def _outcome(suite: str, result) -> ExpectationOutcome:
    configuration = result.expectation_config
    details = result.result or {}
    error = _error_message(result.exception_info)
    unexpected = details.get("unexpected_count")
    if unexpected is None and configuration.type == "unexpected_rows_expectation":
        unexpected = details.get("observed_value")  # the number of rows the query returned
    return ExpectationOutcome(
        suite=suite,
        expectation=configuration.type,
        target=_target(configuration),
        severity=(configuration.meta or {}).get("severity", CRITICAL),
        success=bool(result.success),
        unexpected_count=unexpected,
        element_count=details.get("element_count"),
        error=error,
        rule=(configuration.meta or {}).get("rule"),
    )


def _error_message(info: dict | None) -> str | None:
    # GX reports an expectation's own error flat, a failed metric's error keyed by the metric.
    if not info:
        return None
    if info.get("raised_exception"):
        return info.get("exception_message") or "raised an exception"
    nested = [value.get("exception_message") for value in info.values() if isinstance(value, dict)]
    return next((message for message in nested if message), None)


def _target(configuration) -> str:
    kwargs = configuration.kwargs
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    return (configuration.meta or {}).get("rule") or configuration.description or configuration.type
