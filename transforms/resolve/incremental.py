"""Incremental resolution: match only what changed since the live run, carry every other resident as it was.

1. New and changed records: the run's standardised persons whose content hash (the canonical person
   columns) differs from, or is missing in, the previous run's standardised persons; records gone
   since then count too (their residents lose a record).
2. Affected residents: the previous residents of those records, plus every previous resident with a
   record agreeing with a changed record on one of the profile's blocking rules — exactly the
   residents a full run could compare a changed record with.
3. The affected residents' records (all of them, so each is re-clustered whole) and the changed
   records are matched again with the live run's model and term frequencies (no retraining, and
   frequencies of all records, not of the part); their ids go through the registry as in a full
   run. Every other record keeps its previous link unchanged.
4. Golden records are rebuilt only for residents with a re-matched record or a changed fact row;
   the others' golden records and lineage are carried (resolve step).

All joins, no driver collect except the clustering of the re-matched part's scored pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from transforms.standardise.person import PERSON_COLUMNS

from .columns import comparison_columns
from .matching import match_persons
from .probabilistic import rule_keys
from .profile import MatchingProfile
from .registry import assign_persistent_ids

MODEL_FILE = "model.json"
TF_PREFIX = "tf_"


@dataclass
class IncrementalLinks:
    """The run's links (all records), its review queue, id history, model, and what was matched again."""

    xref_links: DataFrame  # record_key + resident_id, match_rule, match_probability, match_evidence
    review: DataFrame
    history: DataFrame
    model: dict | None
    rematched: DataFrame  # record_key of the records matched again
    replaced: DataFrame  # resident_id of previous residents with a record matched again or gone
    term_frequencies: dict[str, DataFrame] = field(default_factory=dict)


def content_hash(frame: DataFrame, columns: list[str]) -> Column:
    """A 64-bit hash of a row's `columns` (those of them the frame has).

    Spark's hash skips nulls, so each column's null flag is hashed too: a value moving from one
    column to the next still changes the hash.
    """
    present = [c for c in columns if c in frame.columns]
    return F.xxhash64(*present, *(F.col(c).isNull() for c in present))


def changed_keys(current: DataFrame, previous: DataFrame, key: str = "record_key",
                 columns: tuple[str, ...] = ("source", "stream", *PERSON_COLUMNS)) -> DataFrame:
    """`key` of rows new, changed or gone since `previous` (by the hash of `columns`), named record_key."""
    now = current.select(F.col(key).alias("record_key"), content_hash(current, list(columns)).alias("now"))
    before = previous.select(F.col(key).alias("record_key"), content_hash(previous, list(columns)).alias("before"))
    return (now.join(before, "record_key", "full_outer")
            .where(F.col("now").isNull() | F.col("before").isNull() | (F.col("now") != F.col("before")))
            .select("record_key"))


def blocking_keys(persons: DataFrame, profile: MatchingProfile) -> DataFrame:
    """(record_key, key): every record's key for every blocking rule it has all columns for (probabilistic.rule_keys)."""
    return rule_keys(comparison_columns(persons, profile), profile.blocking).select("record_key", "key")


def affected_residents(persons: DataFrame, changed: DataFrame, previous_xref: DataFrame, profile: MatchingProfile) -> DataFrame:
    """resident_id of previous residents a changed record belongs to or could be compared with.

    The keys are computed once over all records, so a changed record's keys are exactly the ones a
    full run would block it on (its ID checks look at every record sharing its number).
    """
    keys = blocking_keys(persons, profile).persist()
    try:
        changed_blocks = keys.join(F.broadcast(changed), "record_key").select("key").distinct()
        neighbours = keys.join(F.broadcast(changed_blocks), "key").select("record_key")
        touched = neighbours.unionByName(changed).distinct()
        return previous_xref.join(touched, "record_key").select("resident_id").distinct().localCheckpoint()
    finally:
        keys.unpersist()


def rematch_keys(persons: DataFrame, changed: DataFrame, previous_xref: DataFrame, profile: MatchingProfile) -> DataFrame:
    """record_key of the run's records to match again: changed ones and every record of an affected resident."""
    residents = affected_residents(persons, changed, previous_xref, profile)
    of_affected = previous_xref.join(F.broadcast(residents), "resident_id").select("record_key")
    current = persons.select("record_key")
    return of_affected.unionByName(changed).distinct().join(current, "record_key")


def resolve_incrementally(persons: DataFrame, previous_persons: DataFrame, previous_xref: DataFrame, previous_review: DataFrame | None,
                          model: dict | None, term_frequencies: dict[str, DataFrame], profile: MatchingProfile,
                          secret: str, run_id: str) -> IncrementalLinks:
    """Links for every record of the run, re-matching only the records new or changed changes could affect."""
    # Checkpointed: later steps join these again and again, and their plans must stay small. Both are
    # a small part of the records, so they are broadcast wherever they meet all of them.
    changed = changed_keys(persons, previous_persons).localCheckpoint()
    rematched = rematch_keys(persons, changed, previous_xref, profile).localCheckpoint()
    touched = F.broadcast(rematched.unionByName(changed).distinct().localCheckpoint())
    subset = persons.join(F.broadcast(rematched), "record_key")
    matches = match_persons(subset, profile, model=model, term_frequencies=term_frequencies)
    before = previous_xref.join(touched, "record_key").select("resident_id").distinct().localCheckpoint()
    affected_before = previous_xref.join(F.broadcast(before), "resident_id").select("record_key", "resident_id")
    registration = assign_persistent_ids(matches.links, affected_before, secret, run_id)
    link_columns = ["record_key", "resident_id", "match_rule", "match_probability", "match_evidence"]
    fresh = registration.links.select(*link_columns)
    # Records gone since the previous run are among the changed ones, so this drops them too.
    carried = previous_xref.join(touched, "record_key", "left_anti").select(*link_columns)
    links = fresh.unionByName(carried)
    review = matches.review
    if previous_review is not None:
        kept = (previous_review.join(rematched, "record_key", "left_anti")
                .join(rematched.withColumnRenamed("record_key", "other_record_key"), "other_record_key", "left_anti"))
        review = review.unionByName(kept.select(*review.columns))
    return IncrementalLinks(links, review, registration.history, matches.model, rematched, before, matches.term_frequencies)


def save_model(folder: Path, model: dict | None, term_frequencies: dict[str, DataFrame] | None = None) -> None:
    """Keep a run's model and term frequency tables beside its resolved tables, for the next incremental run."""
    if model is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_text(json.dumps(model), encoding="utf-8")
    for column, table in (term_frequencies or {}).items():
        table.write.mode("overwrite").parquet(str(folder / f"{TF_PREFIX}{column}"))


def load_model(folder: Path) -> dict | None:
    """The model an earlier run saved (None if it saved none: the matcher then trains again)."""
    path = folder / MODEL_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def load_term_frequencies(spark: SparkSession, folder: Path) -> dict[str, DataFrame]:
    """The term frequency tables an earlier run saved beside its model, by column."""
    if not folder.is_dir():
        return {}
    return {path.name[len(TF_PREFIX):]: spark.read.parquet(str(path)) for path in sorted(folder.glob(f"{TF_PREFIX}*")) if path.is_dir()}
