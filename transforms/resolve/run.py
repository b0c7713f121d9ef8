"""Resolve step: standardised persons → residents (xref), golden records, lineage, facts by resident."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cityhub.clock import StepClock
from cityhub.lake import Lake
from connectors.definition import SourceDefinition

from .incremental import changed_keys, load_model, load_term_frequencies, resolve_incrementally, save_model
from .matching import match_persons
from .profile import load_profile
from .registry import assign_persistent_ids, previous_registry
from .survivorship import DEFAULT_RULES, all_candidates, choose, golden_records, lineage, load_rules

XREF_COLUMNS = (
    "record_key", "source", "stream", "source_record_id", "resident_id", "match_rule", "match_probability",
    "match_evidence", "batch_id", "run_id",
)


class ResolveError(RuntimeError):
    """Resolution broke its own invariant (a person record missing from, or repeated in, the xref)."""


@dataclass
class ResolveResult:
    """Counts of one resolve run and where its tables were written."""

    run_id: str
    residents: int = 0
    xref_by_rule: dict[str, int] = field(default_factory=dict)
    facts: dict[str, int] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    # Wall seconds of its two parts: `link` (matching, clustering, resident ids: the checked xref, the
    # review queue, the id history) and `golden_records` (facts by resident, survivorship, lineage).
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def records(self) -> int:
        """Standardised person records linked (each exactly once)."""
        return sum(self.xref_by_rule.values())

    def to_dict(self) -> dict:
        """Plain data for the run report."""
        return {
            "run_id": self.run_id, "residents": self.residents, "records": self.records,
            "xref_by_rule": dict(self.xref_by_rule), "facts": dict(self.facts),
            "paths": {k: str(v) for k, v in self.paths.items()}, "step_seconds": dict(self.step_seconds),
        }


def xref_of(links: DataFrame, run_id: str) -> DataFrame:
    """XREF_COLUMNS of links that carry the person columns and a resident_id."""
    return links.select(
        "record_key", "source", "stream", "source_record_id", "resident_id", "match_rule",
        F.col("match_probability").cast("double").alias("match_probability"), "match_evidence", "batch_id",
        F.lit(run_id).alias("run_id"),
    )


@dataclass
class Linking:
    """What matching gave the resolve step: the xref, review queue, id history, model and term frequencies.

    `rebuilt` is None after a full run (every resident's golden record is built); after an
    incremental run it holds the record keys matched again (only their residents, and residents with
    changed facts, get new golden records), and `replaced` the previous residents those records (or
    records gone) belonged to, whose golden records are not carried.
    """

    xref: DataFrame
    review: DataFrame
    history: DataFrame
    model: dict | None
    term_frequencies: dict[str, DataFrame] = field(default_factory=dict)
    rebuilt: DataFrame | None = None
    replaced: DataFrame | None = None


def build_xref(persons: DataFrame, secret: str, run_id: str, previous: DataFrame | None = None) -> Linking:
    """`resident_xref` (every person record with its resident id, rule and evidence), the review queue, the id history and the model.

    `previous` is the live run's (record_key, resident_id): residents found in it keep their ids.
    """
    matches = match_persons(persons)
    registration = assign_persistent_ids(matches.links, previous, secret, run_id)
    return Linking(xref_of(registration.links, run_id), matches.review.withColumn("run_id", F.lit(run_id)), registration.history,
                   matches.model, matches.term_frequencies)


def build_xref_incrementally(spark: SparkSession, lake: Lake, persons: DataFrame, previous_run: str, secret: str, run_id: str) -> Linking:
    """As build_xref, but matching only records new or changed since `previous_run` and the residents they touch."""
    previous_persons = _read(spark, lake.standardised_persons(previous_run))
    if previous_persons is None:
        raise FileNotFoundError(f"{lake.standardised_persons(previous_run)}: the live run's standardised persons are needed "
                                "for an incremental run; run without --incremental")
    previous_xref = spark.read.parquet(str(lake.resolved(previous_run, "resident_xref")))
    previous_review = _read(spark, lake.resolved(previous_run, "review_queue"))
    model_folder = lake.resolved(previous_run, "matching_model")
    found = resolve_incrementally(persons, previous_persons, previous_xref, previous_review, load_model(model_folder),
                                  load_term_frequencies(spark, model_folder), load_profile(), secret, run_id)
    links = persons.join(found.xref_links, "record_key")
    review = found.review.drop("run_id").withColumn("run_id", F.lit(run_id))
    return Linking(xref_of(links, run_id), review, found.history, found.model, found.term_frequencies, found.rematched,
                   found.replaced)


def facts_by_resident(facts: DataFrame, xref: DataFrame) -> DataFrame:
    """`fact_<source>`: the source's standardised facts with the resident each is about."""
    residents = xref.select("record_key", "resident_id")
    return facts.join(residents, "record_key", "left").select("resident_id", *facts.columns)


def check_xref(xref: DataFrame) -> tuple[int, dict[str, int]]:
    """Residents and records per rule; raise unless every record is linked to a resident exactly once."""
    total = xref.agg(
        F.count(F.lit(1)).alias("records"), F.countDistinct("record_key").alias("keys"),
        F.count("resident_id").alias("linked"), F.countDistinct("resident_id").alias("residents"),
    ).first()
    if total["linked"] != total["records"] or total["keys"] != total["records"]:
        raise ResolveError(
            f"resident_xref must hold every standardised record exactly once: {total['records']} rows, "
            f"{total['keys']} distinct records, {total['linked']} linked to a resident"
        )
    by_rule = {row["match_rule"]: row["count"] for row in xref.groupBy("match_rule").count().collect()}
    return total["residents"], by_rule


def _read(spark: SparkSession, path: Path) -> DataFrame | None:
    return spark.read.parquet(str(path)) if path.is_dir() and any(path.glob("*.parquet")) else None


def resolve_residents(spark: SparkSession, definitions: list[SourceDefinition], lake: Lake, run_id: str,
                      hub_secret: str, rules_path: Path = DEFAULT_RULES, previous_run: str | None = None,
                      incremental: bool = False) -> ResolveResult:
    """Link the run's standardised persons into residents and write resident, xref, lineage and fact tables.

    With `previous_run` (the run live in the shared layer), residents keep the ids that run gave them
    and id changes are written to `resident_id_history`; `incremental` then re-matches only what
    changed since that run (transforms.resolve.incremental) and rebuilds only the golden records of
    residents whose records or facts changed.
    """
    rules = load_rules(rules_path)
    persons = _read(spark, lake.standardised_persons(run_id))
    if persons is None:
        raise FileNotFoundError(f"{lake.standardised_persons(run_id)}: no standardised persons for run {run_id}; run standardise first")
    result = ResolveResult(run_id=run_id)
    cached: list[DataFrame] = []

    def cache(frame: DataFrame) -> DataFrame:
        cached.append(frame.persist())
        return frame

    clock = StepClock()
    try:
        with clock.step("link"):
            persons = cache(persons)
            if incremental and previous_run is not None:
                linking = build_xref_incrementally(spark, lake, persons, previous_run, hub_secret, run_id)
            else:
                linking = build_xref(persons, hub_secret, run_id, previous_registry(spark, lake, previous_run))
            save_model(lake.resolved(run_id, "matching_model"), linking.model, linking.term_frequencies)
            # Written first and read back: everything after builds on the xref, and its lineage (matching,
            # clustering, the registry) would make every later query plan huge.
            _write(lake, run_id, result, {"resident_xref": linking.xref.select(*XREF_COLUMNS)})
            xref = cache(spark.read.parquet(str(result.paths["resident_xref"])))
            result.residents, result.xref_by_rule = check_xref(xref)
            _write(lake, run_id, result, {"review_queue": linking.review, "resident_id_history": linking.history})
        with clock.step("golden_records"):
            facts = {}
            for definition in definitions:
                frame = _read(spark, lake.standardised_facts(run_id, definition.name))
                if frame is not None:
                    facts[definition.name] = cache(facts_by_resident(frame, xref))
            result.facts = _count_facts(facts)
            resident, resident_lineage = golden_tables(spark, lake, run_id, previous_run, persons, xref, facts, rules, linking, cache)
            _write(lake, run_id, result, {
                "resident": resident,
                "resident_lineage": resident_lineage,
                **{f"fact_{source}": frame for source, frame in facts.items()},
            })
    finally:
        result.step_seconds = clock.seconds
        for frame in cached:
            frame.unpersist()
    return result


def golden_tables(spark: SparkSession, lake: Lake, run_id: str, previous_run: str | None, persons: DataFrame, xref: DataFrame,
                  facts: dict[str, DataFrame], rules, linking: Linking, cache) -> tuple[DataFrame, DataFrame]:
    """`resident` and `resident_lineage`: built by survivorship for every resident, or after an incremental run only for
    residents with a record matched again or a changed fact row, the others carried from the previous run."""
    residents = xref.select("record_key", "resident_id")
    linked = xref.select("record_key", "resident_id", "match_rule")  # survivorship asks how each record was linked
    if linking.rebuilt is None or previous_run is None:
        winners = cache(choose(all_candidates(persons.join(linked, "record_key"), facts, rules)))
        return golden_records(xref, winners, run_id), lineage(winners, run_id)
    renewed = residents_to_rebuild(spark, lake, run_id, previous_run, residents, facts, linking.rebuilt).localCheckpoint()
    mine = xref.join(F.broadcast(renewed), "resident_id")
    winners = cache(choose(all_candidates(persons.join(F.broadcast(mine.select("record_key", "resident_id", "match_rule")), "record_key"),
                                          {source: frame.join(F.broadcast(renewed), "resident_id") for source, frame in facts.items()},
                                          rules)))
    # Every other previous resident has the same records and facts as before: its rows are carried.
    dropped = F.broadcast(renewed.unionByName(linking.replaced).distinct())
    previous_resident = spark.read.parquet(str(lake.resolved(previous_run, "resident"))).join(dropped, "resident_id", "left_anti")
    previous_lineage = spark.read.parquet(str(lake.resolved(previous_run, "resident_lineage"))).join(dropped, "resident_id", "left_anti")
    resident = golden_records(mine, winners, run_id).unionByName(previous_resident.withColumn("run_id", F.lit(run_id)))
    return resident, lineage(winners, run_id).unionByName(previous_lineage.withColumn("run_id", F.lit(run_id)))


def residents_to_rebuild(spark: SparkSession, lake: Lake, run_id: str, previous_run: str, residents: DataFrame,
                         facts: dict[str, DataFrame], rebuilt: DataFrame) -> DataFrame:
    """resident_id of residents whose golden record may differ from the previous run's: a record matched again, or a fact row new, changed or gone."""
    keys = [rebuilt]
    for source, frame in facts.items():
        previous = _read(spark, lake.standardised_facts(previous_run, source))
        current = frame.drop("resident_id")
        fact_columns = tuple(c for c in current.columns if c not in ("batch_id",))
        if previous is None:
            keys.append(current.select("record_key"))
            continue
        changed = changed_keys(current, previous, key="fact_key", columns=fact_columns)
        # A fact row's resident is its subject record's: look it up on either run's rows.
        subjects = current.select("fact_key", "record_key").unionByName(previous.select("fact_key", "record_key")).distinct()
        keys.append(changed.withColumnRenamed("record_key", "fact_key").join(subjects, "fact_key").select("record_key"))
    touched = reduce(DataFrame.unionByName, keys).distinct()
    return residents.join(F.broadcast(touched), "record_key").select("resident_id").distinct()


def _count_facts(facts: dict[str, DataFrame]) -> dict[str, int]:
    """Fact rows per source in one action; rows whose record has no resident would be a bug, so they raise."""
    if not facts:
        return {}
    counted = reduce(DataFrame.unionByName, (
        frame.select(F.lit(source).alias("source"), F.col("resident_id").isNull().alias("unlinked")) for source, frame in facts.items()
    )).groupBy("source").agg(F.count(F.lit(1)).alias("rows"), F.sum(F.col("unlinked").cast("int")).alias("unlinked")).collect()
    counts = {source: 0 for source in facts}
    for row in counted:
        if row["unlinked"]:
            raise ResolveError(f"{row['unlinked']} {row['source']} fact rows point at no standardised person record")
        counts[row["source"]] = row["rows"]
    return counts


def _write(lake: Lake, run_id: str, result: ResolveResult, tables: dict[str, DataFrame]) -> None:
    for table, frame in tables.items():
        path = lake.resolved(run_id, table)
        frame.write.mode("overwrite").parquet(str(path))
        result.paths[table] = path
