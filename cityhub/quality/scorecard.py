"""Provider scorecards: each department's data of one run scored on the GB/T 36344 dimensions.

`compute_scorecard` works on Spark DataFrames (the run's standardised persons, its quarantine and the
resolved xref and residents); `scorecard_for_run` reads them from the lake. Every dimension is a
share `numerator / denominator` shown as a score 0–100; docs/quality.md defines each one exactly.
The worst rules per department come with example values masked by `cityhub.privacy`.
This module imports neither Great Expectations nor the shared layer: it computes, others store and render.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import reduce
from pathlib import Path
from typing import Iterable, Mapping

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from cityhub.lake import Lake
from cityhub.privacy import mask_field, mask_text
from transforms.standardise.id_number import USABLE_STATUSES as USABLE_ID
from transforms.standardise.person import BIRTH_DATE_SLIP_FLAG
from transforms.standardise.run import FACT_KEYS

COMPLETENESS, VALIDITY, CONSISTENCY = "completeness", "validity", "consistency"
UNIQUENESS, TIMELINESS, ACCURACY = "uniqueness", "timeliness", "accuracy"
DIMENSIONS = (COMPLETENESS, VALIDITY, CONSISTENCY, UNIQUENESS, TIMELINESS, ACCURACY)

# The severity words of cityhub.quality.suites, spelt here so this module stays free of GX imports.
CRITICAL, WARNING = "critical", "warning"

# The person fields a department is expected to fill when its stream maps them.
REQUIRED_FIELDS = ("id_number", "name", "gender", "birth_date", "phone", "address")
VALIDITY_FIELDS = (*REQUIRED_FIELDS, "death_date")
# Flags that say two fields disagree (consistency), not that a value could not be read (validity).
CONSISTENCY_CODES = {
    "birth_date": "birth_date:id_number_mismatch",
    "gender": "gender:id_number_mismatch",
    "death_date": "death_date:before_birth",
}
# `unknown` is the source saying it does not know (GB/T 2261 `未说明`): a valid code, not a failure.
VALID_FLAG_STATUSES = ("unknown",)
# Flags that only say how a consistency flag's disagreement looks (a typing slip): no validity failure.
DETAIL_CODES = (BIRTH_DATE_SLIP_FLAG,)
RAW_COLUMN = {"id_number": "id_number_raw", "name": "name_raw", "gender": "gender_raw", "birth_date": "birth_date_raw",
              "phone": "phone_raw", "address": "address_raw", "death_date": "death_date"}
ACCURACY_FIELDS = ("name", "birth_date", "gender")
SCHEDULE_SECONDS = {"@hourly": 3600, "@daily": 86_400, "@weekly": 7 * 86_400, "@monthly": 31 * 86_400, "@yearly": 366 * 86_400}
DEFAULT_CYCLE_SECONDS = 86_400
WORST_RULES = 5
EXAMPLES = 3


@dataclass(frozen=True)
class DimensionScore:
    """One department's score on one dimension: `numerator` of `denominator`, as 0–100 (None when nothing to score)."""

    source: str
    dimension: str
    numerator: int
    denominator: int

    @property
    def score(self) -> float | None:
        """100 · numerator / denominator, two decimals; None when the denominator is zero."""
        return round(100.0 * self.numerator / self.denominator, 2) if self.denominator else None


@dataclass(frozen=True)
class RuleFailure:
    """A rule a department's rows broke in a run: how often, and a few masked example values."""

    source: str
    rule: str
    severity: str
    failing_count: int
    examples: tuple[str, ...] = ()


@dataclass
class Scorecard:
    """Every department's dimension scores and worst rules for one run."""

    run_id: str
    scores: list[DimensionScore] = field(default_factory=list)
    rules: list[RuleFailure] = field(default_factory=list)
    computed_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def sources(self) -> list[str]:
        """The departments scored, sorted."""
        return sorted({s.source for s in self.scores})

    def score(self, source: str, dimension: str) -> DimensionScore:
        """The score of `source` on `dimension`."""
        for candidate in self.scores:
            if (candidate.source, candidate.dimension) == (source, dimension):
                return candidate
        raise KeyError((source, dimension))


@dataclass(frozen=True)
class ScoringRules:
    """What a department is held to: required fields per stream, update cycle per department, its registers.

    A register is a stream other streams point at as their subject (public security's `persons`,
    health's `patients`): it should hold one record per person. Any other person stream records
    items (a property, an assistance case) and may rightly hold several per person.
    """

    required: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    cycle_seconds: Mapping[str, int] = field(default_factory=dict)
    registers: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def from_definitions(cls, definitions: Iterable) -> "ScoringRules":
        """Required fields: the person fields each stream maps; cycle: the source's schedule."""
        required, cycles, registers = {}, {}, set()
        for definition in definitions:
            cycles[definition.name] = cycle_seconds(definition.schedule)
            for stream in definition.streams:
                if stream.person:
                    required[(definition.name, stream.name)] = tuple(f for f in REQUIRED_FIELDS if getattr(stream.person, f) is not None)
                if stream.subject:
                    registers.add((definition.name, stream.subject.stream))
        return cls(required=required, cycle_seconds=cycles, registers=frozenset(registers))


def cycle_seconds(schedule: str | None) -> int:
    """A schedule's cycle in seconds (`@daily` → 86400); cron expressions count as daily."""
    return SCHEDULE_SECONDS.get((schedule or "").strip(), DEFAULT_CYCLE_SECONDS)


# --- per-field expressions ------------------------------------------------------------------------


def _codes() -> Column:
    return F.concat(F.lit(","), F.coalesce(F.col("flags"), F.lit("")), F.lit(","))


def _has_code(code: str) -> Column:
    return _codes().contains(f",{code},")


def _flagged(field_name: str) -> Column:
    return _codes().contains(f",{field_name}:")


def _flagged_invalid(field_name: str) -> Column:
    """The field carries a flag saying its value could not be read as valid (not a consistency flag)."""
    codes = F.filter(F.split(F.coalesce(F.col("flags"), F.lit("")), ","), lambda code: code.startswith(f"{field_name}:"))
    ignored = [CONSISTENCY_CODES.get(field_name), *DETAIL_CODES, *(f"{field_name}:{status}" for status in VALID_FLAG_STATUSES)]
    kept = F.filter(codes, lambda code: ~code.isin(*[c for c in ignored if c]))
    return F.size(kept) > 0


def _repaired_from_id(field_name: str) -> Column:
    return F.coalesce(F.col("repairs"), F.lit("")).contains(f"{field_name}:from_id_number")


def own_value(field_name: str) -> Column:
    """The department's own value was read (not filled in from the ID number)."""
    value = F.col(field_name).isNotNull()
    if field_name in ("gender", "birth_date"):
        value = value & ~_repaired_from_id(field_name)
    return value


def present(field_name: str) -> Column:
    """The department supplied a value (readable or not); placeholders such as `无` count as missing."""
    if field_name == "id_number":
        return F.col("id_status").isNotNull() & (F.col("id_status") != "missing")
    return _flagged(field_name) | own_value(field_name)


def invalid(field_name: str) -> Column:
    """The supplied value fails its validity rule (ID number unusable, or the standardiser flagged it)."""
    if field_name == "id_number":
        return present(field_name) & ~F.col("id_status").isin(*sorted(USABLE_ID))
    return _flagged_invalid(field_name)


def _as_int(condition: Column) -> Column:
    return F.when(condition, 1).otherwise(0)


def _in_streams(pairs: Iterable[tuple[str, str]]) -> Column:
    return reduce(lambda a, b: a | b, ((F.col("source") == s) & (F.col("stream") == st) for s, st in pairs), F.lit(False))


def required(field_name: str, rules: ScoringRules) -> Column:
    """True when the row's stream maps `field_name` (streams not described: every required field)."""
    needing = [pair for pair, fields in rules.required.items() if field_name in fields]
    return _in_streams(needing) | ~_in_streams(rules.required)


# --- dimensions -----------------------------------------------------------------------------------


def _field_sums(persons: DataFrame, rules: ScoringRules) -> dict[str, dict[str, int]]:
    """Completeness, validity and consistency numerators and denominators per source, in one job."""
    checks = {
        "birth_date": F.col("id_number").isNotNull() & own_value("birth_date"),
        "gender": F.col("id_number").isNotNull() & own_value("gender"),
        "death_date": F.col("death_date").isNotNull() & F.col("birth_date").isNotNull(),
    }
    sums = [
        sum((_as_int(required(f, rules) & present(f)) for f in REQUIRED_FIELDS), F.lit(0)).alias("complete_num"),
        sum((_as_int(required(f, rules)) for f in REQUIRED_FIELDS), F.lit(0)).alias("complete_den"),
        sum((_as_int(present(f) & ~invalid(f)) for f in VALIDITY_FIELDS), F.lit(0)).alias("valid_num"),
        sum((_as_int(present(f)) for f in VALIDITY_FIELDS), F.lit(0)).alias("valid_den"),
        sum((_as_int(applies & ~_has_code(CONSISTENCY_CODES[f])) for f, applies in checks.items()), F.lit(0)).alias("consistent_num"),
        sum((_as_int(applies) for applies in checks.values()), F.lit(0)).alias("consistent_den"),
    ]
    per_row = persons.select("source", *sums)
    totals = per_row.groupBy("source").agg(*(F.sum(c).alias(c) for c in per_row.columns if c != "source"))
    return {row["source"]: {k: int(v or 0) for k, v in row.asDict().items() if k != "source"} for row in totals.collect()}


def _quarantined(quarantine: DataFrame | None) -> dict[str, int]:
    """Quarantine entries (record and rule) per source: each is a value that failed a blocking rule."""
    if quarantine is None:
        return {}
    rows = quarantine.groupBy("source").agg(F.count(F.lit(1)).alias("n")).collect()
    return {row["source"]: int(row["n"]) for row in rows}


def fact_fingerprints(facts: Iterable[DataFrame]) -> DataFrame | None:
    """`record_key`, `fingerprint`: a hash of each person record's own facts (standardised fact frames of person streams)."""
    frames = []
    for frame in facts:
        values = [c for c in frame.columns if c not in FACT_KEYS]
        content = F.to_json(F.struct(*values)) if values else F.lit("")
        # Person-stream facts are keyed by their own record; subject-stream facts are not person records.
        frames.append(frame.filter(F.col("fact_key") == F.col("record_key")).select("record_key", F.sha2(content, 256).alias("fingerprint")))
    return reduce(DataFrame.unionByName, frames) if frames else None


def _identity(persons: DataFrame, xref: DataFrame | None, fingerprints: DataFrame | None, rules: ScoringRules) -> DataFrame:
    """Each record with what makes it unique: the person (resident, else usable ID number, else the record)
    and, outside registers, the content of its facts."""
    frame = persons
    if xref is not None:
        frame = frame.join(xref.select("record_key", "resident_id"), "record_key", "left")
    else:
        frame = frame.withColumn("resident_id", F.lit(None).cast("string"))
    if fingerprints is not None:
        frame = frame.join(fingerprints, "record_key", "left")
    else:
        frame = frame.withColumn("fingerprint", F.lit(None).cast("string"))
    person = F.coalesce(F.col("resident_id"), F.concat(F.lit("id:"), F.col("id_number")), F.concat(F.lit("rk:"), F.col("record_key")))
    item = F.when(_in_streams(rules.registers), F.lit("")).otherwise(F.coalesce(F.col("fingerprint"), F.lit("")))
    return frame.withColumn("_person", F.concat_ws("|", person, item))


def _uniqueness(with_identity: DataFrame) -> dict[str, tuple[int, int]]:
    """Per source: records that are the first of their person (and item) in their stream, and all records."""
    per_stream = with_identity.groupBy("source", "stream").agg(
        F.countDistinct("_person").alias("distinct"), F.count(F.lit(1)).alias("records"))
    rows = per_stream.groupBy("source").agg(F.sum("distinct").alias("distinct"), F.sum("records").alias("records")).collect()
    return {row["source"]: (int(row["distinct"]), int(row["records"])) for row in rows}


def _timeliness(persons: DataFrame, rules: ScoringRules) -> dict[str, tuple[int, int]]:
    """Per source: records of its latest batch updated within one cycle of that batch's newest update, and all of them.

    A department whose records all come from one batch (its first, a backfill) gets (0, 0): not scored.
    """
    cycles = F.create_map(*(part for source, seconds in rules.cycle_seconds.items() for part in (F.lit(source), F.lit(seconds))))
    cycle = F.coalesce(F.try_element_at(cycles, F.col("source")), F.lit(DEFAULT_CYCLE_SECONDS)) if rules.cycle_seconds else F.lit(DEFAULT_CYCLE_SECONDS)
    by_source = Window.partitionBy("source")
    frame = persons.select("source", "batch_id", F.col("source_updated_at").cast("timestamp").alias("updated"), cycle.alias("cycle"))
    frame = frame.withColumn("latest_batch", F.max("batch_id").over(by_source))
    frame = frame.withColumn("earlier", F.sum(_as_int(F.col("batch_id") != F.col("latest_batch"))).over(by_source))
    latest = frame.filter((F.col("batch_id") == F.col("latest_batch")) & (F.col("earlier") > 0))
    latest = latest.withColumn("as_of", F.max("updated").over(Window.partitionBy("source")))
    lag = F.unix_timestamp("as_of") - F.unix_timestamp("updated")
    rows = latest.groupBy("source").agg(
        F.sum(_as_int(F.col("updated").isNotNull() & (lag <= F.col("cycle")))).alias("timely"), F.count(F.lit(1)).alias("records")).collect()
    return {row["source"]: (int(row["timely"]), int(row["records"])) for row in rows}


def _accuracy(persons: DataFrame, xref: DataFrame | None, residents: DataFrame | None) -> dict[str, tuple[int, int]]:
    """Per source: name/birth date/gender values agreeing with the golden record, of those compared (cross-department residents)."""
    if xref is None or residents is None:
        return {}
    linked = xref.select("record_key", "resident_id", F.col("source").alias("_xsource"))
    shared = linked.groupBy("resident_id").agg(F.countDistinct("_xsource").alias("departments")).filter("departments >= 2")
    golden = residents.select("resident_id", *(F.col(f).alias(f"golden_{f}") for f in ACCURACY_FIELDS))
    own = {"name": F.col("name").isNotNull(), "birth_date": own_value("birth_date"), "gender": own_value("gender")}
    frame = persons.join(linked.select("record_key", "resident_id"), "record_key").join(shared, "resident_id").join(golden, "resident_id")
    compared = {f: own[f] & F.col(f"golden_{f}").isNotNull() for f in ACCURACY_FIELDS}
    agree = sum((_as_int(compared[f] & (F.col(f).cast("string") == F.col(f"golden_{f}").cast("string"))) for f in ACCURACY_FIELDS), F.lit(0))
    total = sum((_as_int(compared[f]) for f in ACCURACY_FIELDS), F.lit(0))
    rows = frame.groupBy("source").agg(F.sum(agree).alias("agree"), F.sum(total).alias("compared")).collect()
    return {row["source"]: (int(row["agree"] or 0), int(row["compared"] or 0)) for row in rows}


# --- failing rules --------------------------------------------------------------------------------


def _failing_values(persons: DataFrame) -> DataFrame:
    """One row per failing rule hit in the standardised persons: source, rule, severity, field and raw value."""
    flags = persons.select("source", "record_key", *RAW_COLUMN.values(), F.explode(F.split("flags", ",")).alias("rule")).filter(F.col("rule") != "")
    field_name = F.split("rule", ":").getItem(0)
    raw = F.coalesce(*(F.when(field_name == f, F.col(column).cast("string")) for f, column in RAW_COLUMN.items()))
    flagged = flags.filter(~F.split("rule", ":").getItem(1).isin(*VALID_FLAG_STATUSES) & ~F.col("rule").isin(*DETAIL_CODES)).select(
        "source", "record_key", "rule", F.lit(WARNING).alias("severity"), field_name.alias("field"), raw.alias("value"))
    bad_ids = persons.filter(invalid("id_number")).select(
        "source", "record_key", F.concat(F.lit("id_number:"), F.col("id_status")).alias("rule"), F.lit(WARNING).alias("severity"),
        F.lit("id_number").alias("field"), F.col("id_number_raw").alias("value"))
    return flagged.unionByName(bad_ids)


def _quarantine_values(quarantine: DataFrame) -> DataFrame:
    return quarantine.select("source", "record_key", "rule", F.lit(CRITICAL).alias("severity"), F.lit(None).cast("string").alias("field"), "value")


def _rule_failures(failing: DataFrame) -> list[RuleFailure]:
    """The counts per source and rule, with the first few distinct values of each (masked)."""
    counts = failing.groupBy("source", "rule", "severity").agg(F.count(F.lit(1)).alias("n"))
    ranked = counts.withColumn("rank", F.row_number().over(Window.partitionBy("source").orderBy(F.desc("n"), "rule"))).filter(F.col("rank") <= WORST_RULES)
    top = {(r["source"], r["rule"]): r for r in ranked.collect()}
    if not top:
        return []
    examples: dict[tuple[str, str], list[str]] = {}
    values = failing.filter(F.col("value").isNotNull()).join(ranked.select("source", "rule"), ["source", "rule"]).select("source", "rule", "field", "value").distinct()
    picked = values.withColumn("n", F.row_number().over(Window.partitionBy("source", "rule").orderBy("value"))).filter(F.col("n") <= EXAMPLES)
    for row in picked.orderBy("source", "rule", "n").collect():
        masked = mask_field(row["field"], row["value"]) if row["field"] else mask_text(row["value"])
        examples.setdefault((row["source"], row["rule"]), []).append(masked)
    return [RuleFailure(source, rule, row["severity"], int(row["n"]), tuple(examples.get((source, rule), ())))
            for (source, rule), row in sorted(top.items(), key=lambda item: (item[0][0], -item[1]["n"], item[0][1]))]


def outcome_failures(outcomes: list[dict]) -> list[RuleFailure]:
    """Failed expectations attributed to a department (outcomes.json with a `source`), as rule failures without examples."""
    failures = []
    for outcome in outcomes:
        if outcome.get("success") or not outcome.get("source"):
            continue
        rule = f"{outcome.get('suite')}: {outcome.get('expectation')} ({outcome.get('target')})"
        failures.append(RuleFailure(outcome["source"], rule, outcome.get("severity") or CRITICAL, int(outcome.get("unexpected_count") or 0)))
    return failures


# --- the scorecard --------------------------------------------------------------------------------


def compute_scorecard(run_id: str, persons: DataFrame, quarantine: DataFrame | None = None, xref: DataFrame | None = None,
                      residents: DataFrame | None = None, rules: ScoringRules | None = None,
                      outcomes: list[dict] | None = None, fingerprints: DataFrame | None = None) -> Scorecard:
    """Every department's scores on the six dimensions and its worst rules, for one run."""
    rules = rules or ScoringRules()
    persons = persons.cache()
    try:
        fields = _field_sums(persons, rules)
        held = _quarantined(quarantine)
        unique = _uniqueness(_identity(persons, xref, fingerprints, rules))
        timely = _timeliness(persons, rules)
        accurate = _accuracy(persons, xref, residents)
        failing = _failing_values(persons)
        if quarantine is not None:
            failing = failing.unionByName(_quarantine_values(quarantine))
        failures = _rule_failures(failing)
    finally:
        persons.unpersist()
    scorecard = Scorecard(run_id=run_id)
    for source in sorted(set(fields) | set(held)):
        sums = fields.get(source, {})
        pairs = {
            COMPLETENESS: (sums.get("complete_num", 0), sums.get("complete_den", 0)),
            # A quarantined entry is a value that failed a blocking rule: it counts against validity.
            VALIDITY: (sums.get("valid_num", 0), sums.get("valid_den", 0) + held.get(source, 0)),
            CONSISTENCY: (sums.get("consistent_num", 0), sums.get("consistent_den", 0)),
            UNIQUENESS: unique.get(source, (0, 0)),
            TIMELINESS: timely.get(source, (0, 0)),
            ACCURACY: accurate.get(source, (0, 0)),
        }
        scorecard.scores.extend(DimensionScore(source, dimension, int(n), int(d)) for dimension, (n, d) in pairs.items())
    scorecard.rules = _merge_rules(failures + outcome_failures(outcomes or []))
    return scorecard


def rule_rank(failure: RuleFailure) -> tuple:
    """Sort key of a department's rules: critical first, then most failing, then by name."""
    return (failure.severity != CRITICAL, -failure.failing_count, failure.rule)


def _merge_rules(failures: list[RuleFailure]) -> list[RuleFailure]:
    """The worst rules per source, most failing first (standardiser flags, quarantine and GX outcomes together)."""
    by_source: dict[str, list[RuleFailure]] = {}
    for failure in failures:
        by_source.setdefault(failure.source, []).append(failure)
    worst = []
    for source in sorted(by_source):
        ranked = sorted(by_source[source], key=rule_rank)
        worst.extend(ranked[:WORST_RULES])
    return worst


# --- reading a run from the lake ------------------------------------------------------------------


def _read(spark: SparkSession, path: Path) -> DataFrame | None:
    return spark.read.parquet(str(path)) if path.is_dir() and any(path.rglob("*.parquet")) else None


def read_outcomes(run_dir: Path) -> list[dict] | None:
    """The run's validation outcomes (`quality/outcomes.json`), or None when the run wrote none."""
    path = Path(run_dir) / "quality" / "outcomes.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def scorecard_for_run(spark: SparkSession, lake: Lake, run_id: str, run_dir: Path, rules: ScoringRules) -> Scorecard:
    """Compute a run's scorecard from the lake (standardised persons, quarantine, resolved tables) and its outcomes."""
    persons = _read(spark, lake.standardised_persons(run_id))
    if persons is None:
        raise FileNotFoundError(f"run {run_id} has no standardised persons at {lake.standardised_persons(run_id)}: run the pipeline (`cityhub run`) first")
    fact_folders = sorted(lake.standardised(run_id).joinpath("facts").glob("*")) if lake.standardised(run_id).joinpath("facts").is_dir() else []
    facts = [frame for frame in (_read(spark, folder) for folder in fact_folders) if frame is not None]
    return compute_scorecard(
        run_id, persons, _read(spark, lake.quarantine(run_id)), _read(spark, lake.resolved(run_id, "resident_xref")),
        _read(spark, lake.resolved(run_id, "resident")), rules, read_outcomes(run_dir) or [], fact_fingerprints(facts))
