"""Standardise step: raw batches → current state → canonical person records, department facts, quarantine.

Reading and writing happen in `standardise_sources`; everything between is a function from
DataFrame to DataFrame. Each stream's current state is classified row by row, so that for every
stream `current = standardised + quarantined`; the counts come from one aggregation over cached
frames and are checked before anything is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import reduce
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cityhub.lake import Lake
from cityhub.quality.quarantine import rejected_persons_path
from connectors.definition import FieldRef, SourceDefinition, Stream

from .person import PERSON_COLUMNS, RAW_FIELDS
from .udfs import standardise_person_struct

PROVENANCE = ("_source", "_stream", "_source_record_id", "_batch_id", "_extracted_at", "_record_hash")

PERSON_OUTPUT = (
    "record_key", "source", "stream", "source_record_id", "batch_id", "source_updated_at",
    "id_number", "id_number_raw", "id_status", "name", "name_raw", "name_pinyin", "name_initials",
    "gender", "gender_raw", "birth_date", "birth_date_raw", "phone", "phone_raw",
    "address_raw", "address", "admin_code", "address_detail", "ethnicity", "marital_status",
    "death_date", "repairs", "flags",
)
FACT_KEYS = ("record_key", "fact_key", "stream", "source_record_id", "batch_id")
QUARANTINE_OUTPUT = ("record_key", "source", "stream", "source_record_id", "batch_id", "rule", "reason", "value", "run_id")

MISSING_PRIMARY_KEY = "missing_primary_key"
NO_IDENTITY = "no_identity"
ORPHAN_SUBJECT = "orphan_subject"


class ReconciliationError(RuntimeError):
    """Some stream's current rows are not all accounted for as standardised or quarantined."""


@dataclass
class Counts:
    """Rows of one stream: its current state, and where each current row went."""

    current: int = 0
    standardised: int = 0
    quarantined: int = 0

    @property
    def balanced(self) -> bool:
        return self.current == self.standardised + self.quarantined


@dataclass
class StandardiseResult:
    """Per source and stream counts of person records and fact rows, and where they were written."""

    run_id: str
    persons: dict[str, dict[str, Counts]] = field(default_factory=dict)
    facts: dict[str, dict[str, Counts]] = field(default_factory=dict)
    persons_path: Path | None = None
    facts_paths: dict[str, Path] = field(default_factory=dict)
    quarantine_path: Path | None = None

    @property
    def balanced(self) -> bool:
        """True when every stream's current rows are all standardised or quarantined."""
        return all(c.balanced for table in (self.persons, self.facts) for streams in table.values() for c in streams.values())

    def unbalanced(self) -> list[str]:
        """`kind source.stream` of every stream whose counts do not add up."""
        return [f"{kind} {source}.{stream}: {asdict(c)}" for kind, table in (("persons", self.persons), ("facts", self.facts))
                for source, streams in table.items() for stream, c in streams.items() if not c.balanced]

    def to_dict(self) -> dict:
        """Plain data for the run report."""
        def table(t: dict[str, dict[str, Counts]]) -> dict:
            return {s: {st: {**asdict(c), "balanced": c.balanced} for st, c in streams.items()} for s, streams in t.items()}
        return {
            "run_id": self.run_id, "balanced": self.balanced,
            "persons": table(self.persons), "facts": table(self.facts),
            "persons_path": str(self.persons_path) if self.persons_path else None,
            "facts_paths": {k: str(v) for k, v in self.facts_paths.items()},
            "quarantine_path": str(self.quarantine_path) if self.quarantine_path else None,
        }


# --- reading --------------------------------------------------------------------------------

def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def stream_columns(stream: Stream) -> list[str]:
    """The raw columns a stream's definition refers to."""
    columns = [stream.primary_key]
    if stream.replication_key:
        columns.append(stream.replication_key.split(".")[0])
    refs = list(stream.facts.values())
    if stream.person:
        refs += [ref for ref in (getattr(stream.person, name) for name in RAW_FIELDS) if ref is not None]
    columns += [ref.field for ref in refs]
    if stream.subject:
        columns.append(stream.subject.field)
    return list(dict.fromkeys(columns))


def _has_parquet(path: Path) -> bool:
    return path.is_dir() and any(path.rglob("*.parquet"))


def read_raw_stream(spark: SparkSession, lake: Lake, source: str, stream: Stream) -> DataFrame | None:
    """All raw batches of a stream, only the columns the definition uses (all strings; null where a
    batch lacks one); None when nothing has landed."""
    path = lake.raw_stream(source, stream.name)
    if not _has_parquet(path):
        return None
    wanted = list(dict.fromkeys([*PROVENANCE, *stream_columns(stream)]))
    # The raw layer is all strings, so the schema is known: no inference or merging job is needed.
    schema = T.StructType([T.StructField(c, T.StringType()) for c in wanted])
    raw = spark.read.schema(schema).parquet(str(path))
    if "batch_id" in raw.columns:
        # The folder's partition value: `_batch_id` comes from the data, this fills it if absent.
        raw = raw.withColumn("_batch_id", F.coalesce(F.col("_batch_id"), F.col("batch_id"))).drop("batch_id")
    return raw.select(*(F.col(_quoted(c)) for c in wanted))


# --- current state ----------------------------------------------------------------------------

def _blank_to_null(column: Column) -> Column:
    trimmed = F.trim(column)
    return F.when(trimmed == "", None).otherwise(trimmed)


def replication_value(stream: Stream) -> Column:
    """The replication key's value: a column, or a dotted path into a JSON column (`meta.lastUpdated`)."""
    if not stream.replication_key:
        return F.lit(None).cast("string")
    root, _, rest = stream.replication_key.partition(".")
    column = F.col(_quoted(root))
    return F.get_json_object(column, f"$.{rest}") if rest else column


def with_source_record_id(raw: DataFrame, stream: Stream) -> DataFrame:
    """`_source_record_id` trimmed, falling back to the primary key column; blank means missing."""
    key = F.coalesce(_blank_to_null(F.col("_source_record_id")), _blank_to_null(F.col(_quoted(stream.primary_key))))
    return raw.withColumn("_source_record_id", key)


ORDER_COLUMNS = ("_extracted_at", "_replication")


def _order_columns(stream: Stream) -> list[Column]:
    """What the current state is ordered by, carried through mapping so streams can be unioned first."""
    return [F.col("_extracted_at"), replication_value(stream).cast("string").alias("_replication")]


def current_state(mapped: DataFrame) -> DataFrame:
    """One row per source record of each stream: the latest `_extracted_at` wins, then the latest replication value.

    Works on mapped rows of many streams at once (one shuffle for all of them). Rows without a
    primary key cannot be told apart by key, so identical content (`record_hash`) counts as the
    same row; they are quarantined later.
    """
    identity = F.coalesce(F.col("source_record_id"), F.concat(F.lit("#"), F.coalesce(F.col("record_hash"), F.lit(""))))
    order = Window.partitionBy("source", "stream", identity).orderBy(
        F.col("_extracted_at").try_cast("timestamp").desc_nulls_last(),
        F.col("_extracted_at").desc_nulls_last(),
        F.col("_replication").try_cast("timestamp").desc_nulls_last(),
        F.col("_replication").desc_nulls_last(),
        F.col("batch_id").desc_nulls_last(),
        F.col("record_hash").desc_nulls_last(),
    )
    return mapped.withColumn("_rank", F.row_number().over(order)).filter("_rank = 1").drop("_rank", *ORDER_COLUMNS)


# --- mapping ---------------------------------------------------------------------------------

def field_value(ref: FieldRef | None) -> Column:
    """The raw string a FieldRef points at: column, JSON path inside it, then its code table."""
    if ref is None:
        return F.lit(None).cast("string")
    value = F.col(_quoted(ref.field))
    if ref.json_path:
        value = F.get_json_object(value, ref.json_path)
    if ref.codes:
        table = F.create_map(*(F.lit(part) for pair in ref.codes.items() for part in pair))
        value = F.coalesce(F.try_element_at(table, F.trim(value)), value)
    return value.cast("string")


def facts_map(facts: dict[str, FieldRef]) -> Column:
    """A stream's declared facts as one map<string,string> column (so streams can be unioned)."""
    if not facts:
        return F.lit(None).cast("map<string,string>")
    return F.create_map(*(part for name, ref in facts.items() for part in (F.lit(name), field_value(ref))))


def _keys(source: str, stream: str) -> list[Column]:
    record_key = F.when(F.col("_source_record_id").isNotNull(), F.concat_ws(":", F.lit(source), F.lit(stream), F.col("_source_record_id")))
    return [
        record_key.alias("record_key"), F.lit(source).alias("source"), F.lit(stream).alias("stream"),
        F.col("_source_record_id").alias("source_record_id"), F.col("_batch_id").alias("batch_id"),
        F.col("_record_hash").alias("record_hash"),
    ]


def mapped_persons(raw: DataFrame, source: str, stream: Stream) -> DataFrame:
    """A person stream's raw rows with the raw value of every canonical field (`raw_<field>`) and its facts."""
    mapping = stream.person
    return with_source_record_id(raw, stream).select(
        *_keys(source, stream.name), *_order_columns(stream),
        *(field_value(getattr(mapping, name)).alias(f"raw_{name}") for name in RAW_FIELDS),
        facts_map(stream.facts).alias("facts"),
    )


def mapped_subject_facts(raw: DataFrame, source: str, stream: Stream) -> DataFrame:
    """A subject stream's raw rows: the fact row's own keys, its subject's record key and its facts."""
    subject = stream.subject
    reference = field_value(FieldRef(field=subject.field, json_path=subject.json_path))
    if subject.prefix:
        reference = F.when(reference.startswith(subject.prefix), F.substring(reference, len(subject.prefix) + 1, 1 << 30)).otherwise(reference)
    reference = _blank_to_null(reference)
    keys = _keys(source, stream.name)
    return with_source_record_id(raw, stream).select(
        F.when(reference.isNotNull(), F.concat_ws(":", F.lit(source), F.lit(subject.stream), reference)).alias("record_key"),
        keys[0].alias("fact_key"), *keys[1:], *_order_columns(stream),
        reference.alias("subject_reference"), facts_map(stream.facts).alias("facts"),
    )


# --- standardising and classifying ------------------------------------------------------------

def standardise_person_rows(mapped: DataFrame) -> DataFrame:
    """Canonical person fields next to the raw ones (one pandas-UDF pass per row)."""
    struct = standardise_person_struct({name: F.col(f"raw_{name}") for name in RAW_FIELDS})
    return mapped.withColumn("std", struct).select(
        "*", *(F.col(f"std.{name}").alias(name) for name in PERSON_COLUMNS)
    ).drop("std")


def classify_persons(persons: DataFrame) -> DataFrame:
    """Add every blocking rule the row breaks (`failures`) and the first of them (`rule`, `reason`, `value`),
    null when it may flow on; warning row rules add `quality:<rule>` to `flags`."""
    from cityhub.quality.quarantine import FAILURE_TYPE, failed_critical_rules, flags_with_warnings

    no_key = F.col("source_record_id").isNull()
    no_identity = F.col("id_number").isNull() & F.col("name").isNull()
    structural = F.when(no_key, F.array(F.struct(
        F.lit(MISSING_PRIMARY_KEY).alias("rule"), F.lit("the record has no value in its primary key column").alias("reason"),
        F.col("record_hash").alias("value"),
    ))).when(no_identity, F.array(F.struct(
        F.lit(NO_IDENTITY).alias("rule"),
        F.concat(F.lit("no usable ID number (id_status "), F.col("id_status"), F.lit(") and no usable name")).alias("reason"),
        F.when(F.coalesce(F.col("raw_id_number"), F.col("raw_name")).isNotNull(), F.concat_ws(" | ", F.col("raw_id_number"), F.col("raw_name"))).alias("value"),
    ))).otherwise(F.array()).cast(FAILURE_TYPE)
    failures = F.concat(structural, failed_critical_rules())
    first = F.try_element_at(failures, F.lit(1))
    return persons.withColumn("flags", flags_with_warnings(F.col("flags"))).withColumn("failures", failures).select(
        "*", first["rule"].alias("rule"), first["reason"].alias("reason"), first["value"].alias("value"),
    )


_RAW_RENAMED = {
    "id_number_raw": "raw_id_number", "name_raw": "raw_name", "gender_raw": "raw_gender",
    "birth_date_raw": "raw_birth_date", "phone_raw": "raw_phone", "address_raw": "raw_address",
}


def _person_columns() -> list[Column]:
    return [F.col(_RAW_RENAMED.get(name, name)).alias(name) for name in PERSON_OUTPUT]


def person_output(classified: DataFrame) -> DataFrame:
    """The canonical person record columns (docs/architecture.md) of the rows that flow on."""
    return classified.filter(F.col("rule").isNull()).select(*_person_columns())


def rejected_person_output(classified: DataFrame) -> DataFrame:
    """The quarantined person records in the canonical columns and the first rule that held each (for validation)."""
    return classified.filter(F.col("rule").isNotNull()).select(
        *_person_columns(), F.col("rule").alias("quarantine_rule"), F.transform("failures", lambda f: f["rule"]).alias("quarantine_rules"))


def in_streams(streams: list[tuple[str, str]]) -> Column:
    """True for rows of the given (source, stream) pairs."""
    return reduce(lambda a, b: a | b, (
        (F.col("source") == source) & (F.col("stream") == stream) for source, stream in streams
    ), F.lit(False))


def person_stream_facts(classified: DataFrame, streams_with_facts: list[tuple[str, str]]) -> DataFrame:
    """Facts of person streams: the row's own fact columns, keyed by its own record key; its rule follows the row."""
    return classified.filter(in_streams(streams_with_facts)).select(
        "record_key", F.col("record_key").alias("fact_key"), "source", "stream", "source_record_id", "batch_id",
        "facts", "rule", "reason", "value", F.lit(False).alias("quarantine_row"),
    )


def classify_subject_facts(facts: DataFrame, classified_persons: DataFrame) -> DataFrame:
    """Subject-stream fact rows checked against the person records they are about (`orphan_subject`)."""
    subjects = classified_persons.filter(F.col("record_key").isNotNull()).select(
        F.col("record_key").alias("subject_key"), F.col("rule").alias("subject_rule"), F.lit(True).alias("subject_exists"),
    )
    joined = facts.join(subjects, facts["record_key"] == subjects["subject_key"], "left")
    no_key = F.col("source_record_id").isNull()
    no_reference = F.col("subject_reference").isNull()
    missing = F.col("subject_exists").isNull()
    quarantined = F.col("subject_rule").isNotNull()
    rule = (F.when(no_key, F.lit(MISSING_PRIMARY_KEY))
            .when(no_reference | missing | quarantined, F.lit(ORPHAN_SUBJECT)))
    reason = (F.when(no_key, F.lit("the fact row has no value in its primary key column"))
              .when(no_reference, F.lit("the fact row names no subject record"))
              .when(missing, F.concat(F.lit("subject record "), F.col("record_key"), F.lit(" does not exist")))
              .when(quarantined, F.concat(F.lit("subject record "), F.col("record_key"), F.lit(" is quarantined ("), F.col("subject_rule"), F.lit(")"))))
    value = F.when(no_key, F.col("record_hash")).otherwise(F.col("subject_reference"))
    return joined.select(
        "record_key", "fact_key", "source", "stream", "source_record_id", "batch_id", "facts",
        rule.alias("rule"), reason.alias("reason"), value.alias("value"), F.lit(True).alias("quarantine_row"),
    )


def fact_output(facts: DataFrame, source: str, fact_names: list[str]) -> DataFrame:
    """One source's standardised fact rows: keys, then one string column per fact name of the source."""
    rows = facts.filter((F.col("source") == source) & F.col("rule").isNull())
    return rows.select(*FACT_KEYS, *(F.try_element_at("facts", F.lit(name)).alias(name) for name in fact_names))


def quarantine_output(classified_persons: DataFrame, facts: DataFrame, run_id: str) -> DataFrame:
    """Quarantine rows of persons and of fact-only streams (person-stream facts share their person's row)."""
    columns = [
        F.col("record_key"), F.col("source"), F.col("stream"), F.col("source_record_id"), F.col("batch_id"),
        F.col("rule"), F.col("reason"), F.col("value"), F.lit(run_id).alias("run_id"),
    ]
    # One quarantine row per critical rule a record breaks: each rule's count is then what its expectation counts.
    persons = (classified_persons.filter(F.col("rule").isNotNull())
               .select("record_key", "source", "stream", "source_record_id", "batch_id", F.explode("failures").alias("failure"))
               .select("*", "failure.rule", "failure.reason", "failure.value").select(*columns))
    own_facts = facts.filter(F.col("rule").isNotNull() & F.col("quarantine_row"))
    # A fact row's own identity is its fact key, not the subject it points at.
    own_facts = own_facts.withColumn("record_key", F.col("fact_key")).select(*columns)
    return persons.unionByName(own_facts)


# --- counting --------------------------------------------------------------------------------

def _ledger(current: DataFrame, classified: DataFrame, kind: str) -> DataFrame:
    outcome = F.when(F.col("rule").isNull(), F.lit("standardised")).otherwise(F.lit("quarantined"))
    return (current.select(F.lit(kind).alias("kind"), "source", "stream", F.lit("current").alias("outcome"))
            .unionByName(classified.select(F.lit(kind).alias("kind"), "source", "stream", outcome.alias("outcome"))))


def collect_counts(ledger: DataFrame) -> dict[str, dict[str, dict[str, Counts]]]:
    """Counts per kind, source and stream, in one Spark action."""
    counts: dict[str, dict[str, dict[str, Counts]]] = {"persons": {}, "facts": {}}
    for row in ledger.groupBy("kind", "source", "stream", "outcome").count().collect():
        entry = counts[row["kind"]].setdefault(row["source"], {}).setdefault(row["stream"], Counts())
        setattr(entry, row["outcome"], row["count"])
    return counts


# --- the step --------------------------------------------------------------------------------

def _no_person_rows(spark: SparkSession) -> DataFrame:
    """An empty mapped-persons frame, for a run in which no person stream has landed anything."""
    columns = ["record_key", "source", "stream", "source_record_id", "batch_id", "record_hash", *ORDER_COLUMNS, *(f"raw_{n}" for n in RAW_FIELDS)]
    return spark.range(0).select(
        *(F.lit(None).cast("string").alias(c) for c in columns), F.lit(None).cast("map<string,string>").alias("facts"),
    )


def _union(frames: list[DataFrame]) -> DataFrame | None:
    return reduce(DataFrame.unionByName, frames) if frames else None


def _mapped_streams(spark: SparkSession, definitions: list[SourceDefinition], lake: Lake):
    """Every landed stream read and mapped: person rows, subject-fact rows, and the person streams with facts."""
    person_rows, subject_rows, person_fact_streams = [], [], []
    for definition in definitions:
        for stream in definition.streams:
            raw = read_raw_stream(spark, lake, definition.name, stream)
            if raw is None:
                continue  # nothing landed yet: the stream counts zero rows
            if stream.person:
                person_rows.append(mapped_persons(raw, definition.name, stream))
                if stream.facts:
                    person_fact_streams.append((definition.name, stream.name))
            else:
                subject_rows.append(mapped_subject_facts(raw, definition.name, stream))
    return person_rows or [_no_person_rows(spark)], subject_rows, person_fact_streams


def _result(run_id: str, definitions: list[SourceDefinition], counts: dict) -> StandardiseResult:
    """Counts for every declared stream, zero for those with nothing landed."""
    result = StandardiseResult(run_id=run_id)
    for definition in definitions:
        for stream in definition.streams:
            if stream.person:
                result.persons.setdefault(definition.name, {})[stream.name] = counts["persons"].get(definition.name, {}).get(stream.name, Counts())
            if stream.subject or stream.facts:
                result.facts.setdefault(definition.name, {})[stream.name] = counts["facts"].get(definition.name, {}).get(stream.name, Counts())
    return result


def standardise_sources(spark: SparkSession, definitions: list[SourceDefinition], lake: Lake, run_id: str) -> StandardiseResult:
    """Standardise every source's current state into the run's persons, facts and quarantine folders."""
    person_rows, subject_rows, person_fact_streams = _mapped_streams(spark, definitions, lake)
    cached: list[DataFrame] = []

    def cache(frame: DataFrame) -> DataFrame:
        cached.append(frame.persist())
        return frame

    try:
        # Cached once each: the current state (read and deduplicated once, then counted and
        # classified from the cache), the UDF pass (classified) and the fact classification.
        persons_current = cache(current_state(_union(person_rows)))
        classified = cache(classify_persons(standardise_person_rows(persons_current)))
        fact_frames = [person_stream_facts(classified, person_fact_streams)]
        fact_current = [persons_current.filter(in_streams(person_fact_streams)).select("source", "stream")]
        if subject_rows:
            facts_current = cache(current_state(_union(subject_rows)))
            fact_frames.append(classify_subject_facts(facts_current, classified))
            fact_current.append(facts_current.select("source", "stream"))
        facts = cache(_union(fact_frames))

        ledger = _ledger(persons_current, classified, "persons").unionByName(_ledger(_union(fact_current), facts, "facts"))
        result = _result(run_id, definitions, collect_counts(ledger))
        if not result.balanced:
            raise ReconciliationError("standardise lost or duplicated rows: " + "; ".join(result.unbalanced()))
        _write(result, lake, run_id, definitions, classified, facts)
    finally:
        for frame in cached:
            frame.unpersist()
    return result


def _write(result: StandardiseResult, lake: Lake, run_id: str, definitions: list[SourceDefinition],
           classified: DataFrame, facts: DataFrame) -> None:
    result.persons_path = lake.standardised_persons(run_id)
    person_output(classified).write.mode("overwrite").parquet(str(result.persons_path))
    for definition in definitions:
        path = lake.standardised_facts(run_id, definition.name)
        fact_output(facts, definition.name, definition.fact_names()).write.mode("overwrite").parquet(str(path))
        result.facts_paths[definition.name] = path
    rejected_person_output(classified).write.mode("overwrite").parquet(str(rejected_persons_path(lake, run_id)))
    result.quarantine_path = lake.quarantine(run_id)
    quarantine_output(classified, facts, run_id).write.mode("overwrite").parquet(str(result.quarantine_path))
