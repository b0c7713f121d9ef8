"""Quality gates of a run: the standardised layer per department, the resolved datasets before publishing,
the published tables after it; every outcome written to `<run_dir>/quality/outcomes.json`
(the raw layer, validated after each source's extract, is `cityhub.quality.raw`).

- Standardised: each department's accepted *and* quarantined person records are validated with its own
  suite (`standardised_<source>.json`, which includes the common person rules). An expectation with a
  `meta.rule` checks a row rule the standardiser applied with the same function, so its unexpected
  count must equal the rows quarantined (critical) or flagged (warning) under that rule: the run
  fails when they differ.
- Resolved (the gate): the run's resolved Parquet is validated on Spark *before* publishing, so a
  failed dataset is never written and the previous version stays live without any rollback.
  `resident`, `resident_xref` and `resident_lineage` are one group: xref, lineage and every fact
  table point at residents, so a critical failure in the group holds the whole publish; a failing
  `fact_<source>` holds only that table (its previous version stays, the others publish).
- Published: the same dataset suites over SQL (SQLite or PostgreSQL) after commit, plus row counts
  reconciled against the resolved layer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import great_expectations as gx

from cityhub.lake import Lake

from .quarantine import rejected_persons_path
from .rules import QUALITY_FLAG_PREFIX, ROW_RULES
from .run import ExpectationOutcome, QualityResult, validate_published, validate_spark_frame
from .suites import CRITICAL, FACT_SUITE, PUBLISHED_DATASETS, standardised_suite, suite_expectations

RAW = "raw"
STANDARDISED = "standardised"
RESOLVED = "resolved"
PUBLISHED = "published"
RESIDENT_GROUP = PUBLISHED_DATASETS  # published together or not at all
OUTCOMES_FILE = "outcomes.json"
GATE_FILE = "gate.json"
MISSING_PRIMARY_KEY = "missing_primary_key"  # the standardiser's own structural rule, checked by GX as record_key not null


class QuarantineCountError(RuntimeError):
    """GX counted a different number of rows breaking a row rule than the standardiser quarantined or flagged."""


class QualityGateError(RuntimeError):
    """A critical dataset rule failed: the dataset named in the message was not published."""


def quality_dir(run_dir: Path) -> Path:
    """The run's quality folder: GX file context, Data Docs, outcomes.json, gate.json."""
    return Path(run_dir) / "quality"


# --- outcomes.json --------------------------------------------------------------------------------


def outcome_records(result: QualityResult, layer: str, dataset: str, source: str | None = None) -> list[dict]:
    """The outcomes of one validation as outcomes.json rows."""
    return [{"layer": layer, "suite": o.suite, "source": source, "dataset": dataset, "expectation": o.expectation,
             "target": o.target, "rule": o.rule, "severity": o.severity, "success": o.success,
             "unexpected_count": o.unexpected_count, "element_count": o.element_count, "error": o.error}
            for o in result.outcomes]


def read_outcomes(run_dir: Path, layer: str | None = None) -> list[dict]:
    """The rows of `<run_dir>/quality/outcomes.json` (of one layer if given); none when the run wrote none."""
    path = quality_dir(run_dir) / OUTCOMES_FILE
    rows = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    return [row for row in rows if layer is None or row.get("layer") == layer]


def write_outcomes(run_dir: Path, layer: str, records: list[dict], source: str | None = None) -> Path:
    """Replace one layer's rows in `<run_dir>/quality/outcomes.json` (other layers' rows kept); with `source`,
    only that source's rows of the layer (the raw layer is validated one source at a time)."""
    path = quality_dir(run_dir) / OUTCOMES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = [row for row in read_outcomes(run_dir)
            if row.get("layer") != layer or (source is not None and row.get("source") != source)]
    path.write_text(json.dumps(kept + records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# --- standardised layer ---------------------------------------------------------------------------


def candidate_persons(spark, lake: Lake, run_id: str):
    """The run's accepted and quarantined person records in the canonical columns (`quarantine_rules` null when accepted)."""
    from pyspark.sql import functions as F

    accepted = spark.read.parquet(str(lake.standardised_persons(run_id))).withColumn("quarantine_rules", F.lit(None).cast("array<string>"))
    rejected_path = rejected_persons_path(lake, run_id)
    if not rejected_path.exists():
        return accepted
    rejected = spark.read.parquet(str(rejected_path)).drop("quarantine_rule")
    return accepted.unionByName(rejected)


def validate_standardised_sources(spark, lake: Lake, run_id: str, sources: Iterable[str], run_dir: Path) -> dict[str, QualityResult]:
    """Validate each department's candidate person records with its suite; checks GX counts what was held."""
    from pyspark.sql import functions as F

    frame = candidate_persons(spark, lake, run_id).cache()
    results: dict[str, QualityResult] = {}
    try:
        for source in sources:
            rows = frame.filter(F.col("source") == source)
            suite_name = standardised_suite(source)
            suite = gx.ExpectationSuite(name=f"standardised_{source}", expectations=suite_expectations(suite_name))
            results[source] = validate_spark_frame(rows, quality_dir(run_dir), STANDARDISED, suite, f"standardised-{source}")
        held = rule_counts(frame)
    finally:
        frame.unpersist()
    records = [row for source, result in results.items() for row in outcome_records(result, STANDARDISED, "persons", source)]
    write_outcomes(run_dir, STANDARDISED, records)
    mismatches = count_mismatches(results, held)
    if mismatches:
        raise QuarantineCountError("GX and the quarantine disagree on row rules: " + "; ".join(mismatches))
    return results


def rule_counts(frame) -> dict[tuple[str, str], int]:
    """Rows per (source, rule): quarantined under each critical rule, or flagged `quality:<rule>` by a warning rule."""
    from pyspark.sql import functions as F

    quarantined = frame.select("source", F.explode("quarantine_rules").alias("rule"))
    flagged = frame.select("source", F.explode(F.split(F.coalesce("flags", F.lit("")), ",")).alias("flag")).filter(
        F.col("flag").startswith(QUALITY_FLAG_PREFIX)).select("source", F.substring("flag", len(QUALITY_FLAG_PREFIX) + 1, 1 << 16).alias("rule"))
    counted = quarantined.unionByName(flagged).groupBy("source", "rule").count().collect()
    return {(row["source"], row["rule"]): row["count"] for row in counted}


def count_mismatches(results: Mapping[str, QualityResult], held: Mapping[tuple[str, str], int]) -> list[str]:
    """`source rule: GX n, quarantine m` for every row rule whose two counts differ."""
    checked = set(ROW_RULES) | {MISSING_PRIMARY_KEY}
    mismatches = []
    for source, result in results.items():
        for outcome in result.outcomes:
            if outcome.rule not in checked:
                continue
            counted = outcome.unexpected_count or 0
            kept = held.get((source, outcome.rule), 0)
            if outcome.error is not None or counted != kept:
                mismatches.append(f"{source} {outcome.rule}: GX {counted}{' (' + outcome.error + ')' if outcome.error else ''}, quarantine {kept}")
    return mismatches


# --- the dataset gate (resolved Parquet, before publish) ------------------------------------------


@dataclass
class GateDecision:
    """Which datasets failed which critical rules, and which datasets are therefore held back."""

    failures: dict[str, list[str]] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when nothing is held."""
        return not self.held

    @property
    def holds_residents(self) -> bool:
        """True when the resident group failed: nothing of the run may be published."""
        return any(name in self.held for name in RESIDENT_GROUP)

    def message(self) -> str:
        """One line per failed dataset, naming its failed rules and what was held."""
        lines = [f"quality gate failed on {dataset}: {', '.join(rules)}" for dataset, rules in sorted(self.failures.items())]
        if self.held:
            lines.append(f"not published (previous version stays live): {', '.join(self.held)}")
        return "; ".join(lines)


def decide(results: Mapping[str, QualityResult], fact_tables: Iterable[str]) -> GateDecision:
    """Hold every dataset with a critical failure; the whole run when it is one of the resident group."""
    failures = {dataset: [_rule_name(o) for o in result.failures(CRITICAL)] for dataset, result in results.items() if result.blocking}
    if any(name in failures for name in RESIDENT_GROUP):
        held = [*RESIDENT_GROUP, *sorted(fact_tables)]
    else:
        held = sorted(failures)
    return GateDecision(failures=failures, held=held)


def _rule_name(outcome: ExpectationOutcome) -> str:
    name = outcome.rule or f"{outcome.expectation}({outcome.target})"
    return f"{name} [{outcome.unexpected_count} unexpected]" if outcome.unexpected_count is not None else name


def dataset_suite(dataset: str, expected_rows: int | None = None, rule: str | None = None) -> gx.ExpectationSuite:
    """The suite of a published dataset (fact tables share `fact.json`), optionally with its reconciled row count."""
    base = FACT_SUITE if dataset.startswith("fact_") else dataset
    configured = list(suite_expectations(base))
    if expected_rows is not None:
        configured.append({"type": "expect_table_row_count_to_equal", "kwargs": {"value": int(expected_rows)},
                           "meta": {"severity": CRITICAL, "rule": rule or f"{dataset}_rows_reconcile"}})
    return gx.ExpectationSuite(name=dataset, expectations=configured)


def resolved_tables(lake: Lake, run_id: str, fact_sources: Iterable[str]) -> list[str]:
    """The run's resolved datasets: the resident group, then one fact table per source that has a folder."""
    facts = [f"fact_{source}" for source in sorted(fact_sources) if lake.resolved(run_id, f"fact_{source}").exists()]
    return [*RESIDENT_GROUP, *facts]


def validate_resolved(spark, lake: Lake, run_id: str, fact_sources: Iterable[str], run_dir: Path) -> dict[str, QualityResult]:
    """Validate the run's resolved datasets on Spark (temp views named like the tables, so cross-table rules resolve)."""
    tables = resolved_tables(lake, run_id, fact_sources)
    frames = {name: spark.read.parquet(str(lake.resolved(run_id, name))) for name in tables}
    for name, frame in frames.items():
        frame.createOrReplaceTempView(name)
    # Every accepted person record is linked to exactly one resident: the layers reconcile.
    accepted = spark.read.parquet(str(lake.standardised_persons(run_id))).count()
    results = {}
    for name, frame in frames.items():
        expected = accepted if name == "resident_xref" else None
        suite = dataset_suite(name, expected, "xref_rows_equal_standardised_persons")
        results[name] = validate_spark_frame(frame, quality_dir(run_dir), RESOLVED, suite, f"resolved-{name}")
    write_outcomes(run_dir, RESOLVED, [row for name, result in results.items() for row in outcome_records(result, RESOLVED, name)])
    return results


def gate_resolved(spark, lake: Lake, run_id: str, fact_sources: Iterable[str], run_dir: Path) -> GateDecision:
    """Validate the resolved datasets and record the decision in `<run_dir>/quality/gate.json`."""
    fact_sources = list(fact_sources)
    results = validate_resolved(spark, lake, run_id, fact_sources, run_dir)
    decision = decide(results, [name for name in results if name.startswith("fact_")])
    (quality_dir(run_dir) / GATE_FILE).write_text(json.dumps(asdict(decision), indent=1), encoding="utf-8")
    return decision


def read_gate(run_dir: Path) -> GateDecision | None:
    """The run's gate decision, or None when the gate has not run."""
    path = quality_dir(run_dir) / GATE_FILE
    return GateDecision(**json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None


# --- published layer ------------------------------------------------------------------------------


def validate_published_run(url: str, lake: Lake, run_id: str, published: Mapping[str, int], run_dir: Path) -> QualityResult:
    """Validate the tables this run published over SQL, each with its row count reconciled to the resolved layer's."""
    suites = {name: dataset_suite(name, rows) for name, rows in published.items() if name in RESIDENT_GROUP or name.startswith("fact_")}
    result = validate_published(url, quality_dir(run_dir), suites)
    records = [row for row in outcome_records(result, PUBLISHED, "") ]
    for row in records:
        row["dataset"] = row["suite"]
    write_outcomes(run_dir, PUBLISHED, records)
    return result


def publishable_facts(fact_sources: Mapping[str, list[str]], gate: GateDecision | None) -> dict[str, list[str]] | None:
    """The fact sources to publish given the gate: all without a decision, None when the resident group is held."""
    if gate is None:
        return dict(fact_sources)
    if gate.holds_residents:
        return None
    return {source: names for source, names in fact_sources.items() if f"fact_{source}" not in gate.held}
