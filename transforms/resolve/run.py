"""Resolve step: standardised persons → residents (xref), golden records, lineage, facts by resident."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession

from cityhub.clock import StepClock
from cityhub.lake import Lake
from cityhub.lake_tables import (
    BackgroundWrites, as_values, carry_forward, changed_keys, has_table, lookup, read_table, rows_with, values_of, with_run_id, write_tables,
)
from connectors.definition import SourceDefinition
from transforms.spark import sized_for

from .incremental import BLOCKING_KEYS, LINK_KEYS, MODEL, PAIRS, Part, Previous, copy_model, resolve_incrementally, save_model, spark_frame
from .matching import match_persons
from .profile import MatchingProfile, load_profile
from .registry import assign_persistent_ids, previous_registry
from .survivorship import DEFAULT_RULES, all_candidates, choose, golden_records, lineage, load_rules

XREF_COLUMNS = (
    "record_key", "source", "stream", "source_record_id", "resident_id", "match_rule", "match_probability",
    "match_evidence", "batch_id", "run_id",
)

log = logging.getLogger(__name__)

GOLDEN_TABLES = ("resident", "resident_lineage")  # what survivorship writes: golden records and their lineage


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
    # An incremental run's counts: records new, changed or gone; matched again; residents whose golden record was rebuilt.
    incremental: dict[str, int] = field(default_factory=dict)
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
            "incremental": dict(self.incremental),
        }


def link_fully(spark: SparkSession, lake: Lake, run_id: str, previous_run: str | None, secret: str, result: ResolveResult) -> pa.Table:
    """Match every record, keep the live run's ids (`previous_run`), write xref, review queue, id history, model and blocking keys; the xref."""
    matches = match_persons(spark.read.parquet(str(lake.standardised_persons(run_id))))
    registration = assign_persistent_ids(matches.links, previous_registry(lake, previous_run), secret, run_id)
    save_model(lake.resolved(run_id, MODEL), matches.model, matches.term_frequencies)
    xref = xref_rows(registration.links, run_id)
    _write_arrow(lake, run_id, result, {
        "resident_xref": xref,
        "review_queue": with_run_id(matches.review, run_id),
        "resident_id_history": registration.history,
        PAIRS: matches.pairs,
    })
    _write(lake, run_id, result, {BLOCKING_KEYS: matches.blocking_keys, LINK_KEYS: matches.link_keys})
    return xref


def link_incrementally(spark: SparkSession, lake: Lake, run_id: str, previous_run: str, secret: str, profile: MatchingProfile,
                       result: ResolveResult, writes: BackgroundWrites) -> tuple[Part, pa.Table, pa.Table]:
    """As link_fully, matching only the part of the records changes since `previous_run` could affect (incremental.py); that part, the run's
    persons and the xref. Its tables are written in the background (`writes`): the rest of the step reads them from memory."""
    previous = Previous.read(lake, previous_run, profile)
    current = read_table(lake.standardised_persons(run_id))
    found = resolve_incrementally(spark, current, previous, profile, secret, run_id)
    copy_model(previous.model_folder, lake.resolved(run_id, MODEL))
    xref = xref_table(current, found.links, run_id)
    _write_arrow(lake, run_id, result, {
        "resident_xref": xref,
        "review_queue": found.review,
        "resident_id_history": found.history,
        BLOCKING_KEYS: found.blocking_keys,
        LINK_KEYS: found.link_keys,
        PAIRS: found.pairs,
    }, writes)
    result.incremental.update(records_changed=len(found.part.changed), records_rematched=len(found.part.rematched))
    return found.part, current, xref


def xref_rows(links: pa.Table, run_id: str) -> pa.Table:
    """XREF_COLUMNS of links that carry the person columns and a resident_id."""
    columns = {name: links[name] for name in XREF_COLUMNS if name != "run_id"}
    columns["match_probability"] = columns["match_probability"].cast(pa.float64())
    return with_run_id(pa.table(columns), run_id)


def xref_table(persons: pa.Table, links: pa.Table, run_id: str) -> pa.Table:
    """XREF_COLUMNS for every record of `persons` (Arrow), its link looked up in `links` (incremental.LINK_COLUMNS)."""
    linked = lookup(persons["record_key"], links, "record_key", ("resident_id", "match_rule", "match_probability", "match_evidence"))
    records = persons.select(["record_key", "source", "stream", "source_record_id", "batch_id"])
    return xref_rows(pa.Table.from_arrays(records.columns + linked.columns, names=records.column_names + linked.column_names), run_id)


def check_xref(xref: pa.Table) -> tuple[int, dict[str, int]]:
    """Residents and records per rule; raise unless every record is linked to a resident exactly once."""
    records, keys = xref.num_rows, pc.count_distinct(xref["record_key"]).as_py()
    linked = xref.num_rows - xref["resident_id"].null_count
    if linked != records or keys != records:
        raise ResolveError(
            f"resident_xref must hold every standardised record exactly once: {records} rows, "
            f"{keys} distinct records, {linked} linked to a resident"
        )
    by_rule = {row["values"]: row["counts"] for row in pc.value_counts(xref["match_rule"]).to_pylist()}
    return pc.count_distinct(xref["resident_id"]).as_py(), by_rule


def read_facts(lake: Lake, run_id: str, definitions: list[SourceDefinition]) -> dict[str, pa.Table]:
    """The run's standardised facts by source (those that have any)."""
    folders = {d.name: lake.standardised_facts(run_id, d.name) for d in definitions}
    return {source: read_table(folder) for source, folder in folders.items() if has_table(folder)}


def changed_fact_records(lake: Lake, previous_run: str, facts: dict[str, pa.Table]) -> pa.Array:
    """record_key of the subject records of the fact rows new, changed or gone since `previous_run` (`facts`: this run's)."""
    records = []
    for source, current in facts.items():
        folder = lake.standardised_facts(previous_run, source)
        if not has_table(folder):
            records.append(values_of(current, "record_key"))
            continue
        previous = read_table(folder)
        compared = [c for c in current.column_names if c not in ("resident_id", "batch_id")]
        changed = changed_keys(current, previous, "fact_key", compared)
        # A fact row's resident is its subject record's: look it up on either run's rows.
        records += [values_of(rows_with(table, "fact_key", changed), "record_key") for table in (current, previous)]
    return as_values(pa.concat_arrays(records)) if records else as_values([])


@dataclass
class FactChanges:
    """This run's facts, and the subject records of those new, changed or gone since the live run."""

    facts: dict[str, pa.Table]
    records: pa.Array  # record_key

    @classmethod
    def of(cls, lake: Lake, run_id: str, previous_run: str, definitions: list[SourceDefinition]) -> "FactChanges":
        """Read and compare both runs' facts (an incremental run does it on a thread while Spark links)."""
        facts = read_facts(lake, run_id, definitions)
        return cls(facts, changed_fact_records(lake, previous_run, facts))


def write_fact_tables(lake: Lake, run_id: str, facts: dict[str, pa.Table], xref: pa.Table, result: ResolveResult,
                      writes: BackgroundWrites | None = None) -> dict[str, pa.Table]:
    """`fact_<source>`: each source's standardised facts (`facts`, read_facts) with the resident each is about (its subject
    record's); the tables written."""
    # One lookup for every source: each builds a hash table of every record's key.
    subjects = pa.chunked_array([chunk for table in facts.values() for chunk in table["record_key"].chunks], pa.string())
    residents, start, tables = lookup(subjects, xref, "record_key", ["resident_id"])["resident_id"], 0, {}
    for source, table in facts.items():
        mine = residents.slice(start, table.num_rows)
        start += table.num_rows
        if mine.null_count:
            raise ResolveError(f"{mine.null_count} {source} fact rows point at no standardised person record")
        tables[source] = table.add_column(0, "resident_id", mine)
        result.facts[source] = table.num_rows
    _write_arrow(lake, run_id, result, {f"fact_{source}": table for source, table in tables.items()}, writes)
    return tables


def write_golden_records(spark: SparkSession, lake: Lake, run_id: str, rules, sources: list[str], result: ResolveResult) -> None:
    """`resident` and `resident_lineage` of every resident, by survivorship over all its records and facts."""
    xref = spark.read.parquet(str(result.paths["resident_xref"]))
    linked = xref.select("record_key", "resident_id", "match_rule")  # survivorship asks how each record was linked
    persons = spark.read.parquet(str(lake.standardised_persons(run_id))).join(linked, "record_key")
    facts = {source: spark.read.parquet(str(result.paths[f"fact_{source}"])) for source in sources}
    winners = choose(all_candidates(persons, facts, rules)).persist()
    try:
        _write(lake, run_id, result, {"resident": golden_records(xref, winners, run_id), "resident_lineage": lineage(winners, run_id)})
    finally:
        winners.unpersist()


def carry_golden_records(spark: SparkSession, lake: Lake, run_id: str, previous_run: str, rules, persons: pa.Table, xref: pa.Table,
                         facts: dict[str, pa.Table], fact_records: pa.Array, part: Part, result: ResolveResult,
                         writes: BackgroundWrites) -> None:
    """`resident` and `resident_lineage` after an incremental run: rebuilt for residents whose records or facts changed (`facts`: with
    resident_id; `fact_records`: FactChanges.records), the rest carried."""
    renewed = residents_to_rebuild(xref, fact_records, part)
    result.incremental["residents_rebuilt"] = len(renewed)
    # Every other live-run resident has the same records, links and facts as before; those whose id is gone are dropped.
    gone = pc.filter(part.replaced, pc.invert(pc.is_in(part.replaced, value_set=xref["resident_id"].combine_chunks())))
    dropped = {"resident_id": pa.concat_arrays([renewed, gone])}
    # The rows carried are read while Spark builds the fresh ones: the driver's core is free while it waits.
    with ThreadPoolExecutor(max_workers=len(GOLDEN_TABLES)) as pool:
        kept = {table: pool.submit(read_table, lake.resolved(previous_run, table), None, dropped) for table in GOLDEN_TABLES}
        fresh = golden_tables(spark, lake, run_id, rules, persons, rows_with(xref, "resident_id", renewed), facts, result) if len(renewed) else {}
        tables = {table: carry_forward(kept[table].result(), fresh.get(table), {}, run_id) for table in GOLDEN_TABLES}
    _write_arrow(lake, run_id, result, tables, writes)


def golden_tables(spark: SparkSession, lake: Lake, run_id: str, rules, persons: pa.Table, mine: pa.Table, facts: dict[str, pa.Table],
                  result: ResolveResult) -> dict[str, pa.Table]:
    """`resident` and `resident_lineage` rows (Arrow) of the residents whose xref rows are `mine`, by survivorship in Spark."""
    residents = values_of(mine, "resident_id")
    linked = spark_frame(spark, mine.select(["record_key", "resident_id", "match_rule", "source"]))
    records = spark_frame(spark, rows_with(persons, "record_key", mine["record_key"]))
    frames = {source: spark_frame(spark, rows_with(table, "resident_id", residents))
              for source, table in facts.items()}
    with sized_for(spark, mine.num_rows):
        winners = choose(all_candidates(records.join(linked.drop("source"), "record_key"), frames, rules)).persist()
        try:
            return {"resident": golden_records(linked, winners, run_id).toArrow(), "resident_lineage": lineage(winners, run_id).toArrow()}
        finally:
            winners.unpersist()


def residents_to_rebuild(xref: pa.Table, fact_records: pa.Array, part: Part) -> pa.Array:
    """resident_id of residents whose golden record may differ from the live run's: a record of theirs new or changed, their
    records or how one was linked not as before (`part.relinked`), or a fact row of theirs new, changed or gone (`fact_records`:
    its subject record, FactChanges)."""
    touched = values_of(rows_with(xref, "record_key", pa.concat_arrays([part.changed, fact_records])), "resident_id")
    relinked = pc.filter(part.relinked, pc.is_in(part.relinked, value_set=xref["resident_id"].combine_chunks()))  # not those whose id is gone
    return as_values(pa.concat_arrays([touched, relinked]))


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
    if not has_table(lake.standardised_persons(run_id)):
        raise FileNotFoundError(f"{lake.standardised_persons(run_id)}: no standardised persons for run {run_id}; run standardise first")
    result = ResolveResult(run_id=run_id)
    profile = load_profile()
    if incremental and previous_run is not None and (missing := Previous.missing(lake, previous_run, profile)):
        log.warning("the live run %s kept no %s (resolved before runs kept them): run %s matches every record, and the next "
                    "incremental run starts from it", previous_run, ", ".join(missing), run_id)
        incremental = False
    clock = StepClock()
    try:
        # An incremental run reads back nothing it writes: its tables are written while it goes on. A full run's golden
        # records read its xref and facts with Spark, so it writes them first.
        with BackgroundWrites() as writes, ThreadPoolExecutor(max_workers=1, thread_name_prefix="resolve-driver") as pool:
            # The driver's core is free while Spark works: an incremental run compares both runs' facts meanwhile.
            changes = None
            if incremental and previous_run is not None:
                changes = pool.submit(FactChanges.of, lake, run_id, previous_run, definitions)
            with clock.step("link"):
                part = persons = None
                if changes is not None:
                    part, persons, xref = link_incrementally(spark, lake, run_id, previous_run, hub_secret, profile, result, writes)
                else:
                    xref = link_fully(spark, lake, run_id, previous_run, hub_secret, result)
                # Checked on the driver while the golden records are built; a broken xref still fails the run before it returns.
                checked = pool.submit(check_xref, xref)
            with clock.step("golden_records"):
                if changes is None:
                    facts = write_fact_tables(lake, run_id, read_facts(lake, run_id, definitions), xref, result)
                    write_golden_records(spark, lake, run_id, rules, list(facts), result)
                else:
                    changed = changes.result()
                    facts = write_fact_tables(lake, run_id, changed.facts, xref, result, writes)
                    carry_golden_records(spark, lake, run_id, previous_run, rules, persons, xref, facts, changed.records, part, result, writes)
                writes.wait()
            result.residents, result.xref_by_rule = checked.result()
    finally:
        result.step_seconds = clock.seconds
    return result


def written(tables: dict) -> dict:
    """The tables given, but those given as None (link keys, for a profile that lets any pair link): the writers skip them."""
    return {table: rows for table, rows in tables.items() if rows is not None}


def _write(lake: Lake, run_id: str, result: ResolveResult, tables: dict[str, DataFrame | None]) -> None:
    for table, frame in written(tables).items():
        path = lake.resolved(run_id, table)
        frame.write.mode("overwrite").parquet(str(path))
        result.paths[table] = path


def _write_arrow(lake: Lake, run_id: str, result: ResolveResult, tables: dict[str, pa.Table | None],
                 writes: BackgroundWrites | None = None) -> None:
    """Write Arrow tables as the run's resolved tables: now, or in the background with `writes`."""
    tables = written(tables)
    folders = {table: lake.resolved(run_id, table) for table in tables}
    by_folder = {folders[table]: rows for table, rows in tables.items()}
    if writes is None:
        write_tables(by_folder)
    else:
        writes.submit(by_folder)
    result.paths.update(folders)
