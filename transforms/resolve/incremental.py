"""Incremental resolution: match only what changed since the live run, carry every other resident as it was.

1. New and changed records: the run's standardised persons whose content hash (the canonical person
   columns) differs from, or is missing in, the previous run's standardised persons; records gone
   since then count too (their residents lose a record).
2. Affected residents: the previous residents of those records, plus every previous resident with a
   record sharing a blocking key with a changed record (ID number, name + birth date, pinyin +
   birth date, phone) — the residents a changed record could join.
3. The affected residents' records (all of them, so each is re-clustered whole) and the changed
   records are matched again with the previous run's model (no retraining); their ids go through
   the registry as in a full run. Every other record keeps its previous link unchanged.

All joins, no driver collect. Review items of untouched records are carried from the previous run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.standardise.person import PERSON_COLUMNS

from .matching import match_persons
from .registry import assign_persistent_ids

BLOCKING_KEYS = (("id_number",), ("name", "birth_date"), ("name_pinyin", "birth_date"), ("phone",))
MODEL_FILE = "model.json"


@dataclass
class IncrementalLinks:
    """The run's links (all records), its review queue, id history, model, and how much was re-matched."""

    xref_links: DataFrame  # record_key + resident_id, match_rule, match_probability, match_evidence
    review: DataFrame
    history: DataFrame
    model: dict | None
    rematched: DataFrame  # record_key of the records matched again


def content_hash(persons: DataFrame) -> Column:
    """A hash of a record's canonical person columns (what matching sees)."""
    columns = [name for name in ("source", "stream", *PERSON_COLUMNS) if name in persons.columns]
    return F.sha2(F.to_json(F.struct(*columns)), 256)


def changed_keys(current: DataFrame, previous: DataFrame) -> DataFrame:
    """record_key of records new, changed or gone since `previous` (both standardised persons)."""
    now = current.select("record_key", content_hash(current).alias("now"))
    before = previous.select("record_key", content_hash(previous).alias("before"))
    return (now.join(before, "record_key", "full_outer")
            .where(F.col("now").isNull() | F.col("before").isNull() | (F.col("now") != F.col("before")))
            .select("record_key"))


def _key(columns: tuple[str, ...]) -> Column:
    """One blocking key value as text, null when any of its columns is null."""
    return F.concat_ws("|", *(F.col(c).cast("string") for c in columns)).alias("key") if len(columns) > 1 else F.col(columns[0]).cast("string").alias("key")


def blocking_keys(persons: DataFrame) -> DataFrame:
    """(record_key, kind, key): every non-null blocking key of every record."""
    frames = []
    for columns in BLOCKING_KEYS:
        present = reduce(lambda a, b: a & b, (F.col(c).isNotNull() for c in columns))
        frames.append(persons.where(present).select("record_key", F.lit("+".join(columns)).alias("kind"), _key(columns)))
    return reduce(DataFrame.unionByName, frames)


def affected_residents(persons: DataFrame, changed: DataFrame, previous_xref: DataFrame) -> DataFrame:
    """resident_id of previous residents a changed record belongs or could belong to."""
    keys = blocking_keys(persons).persist()
    changed_blocks = keys.join(changed, "record_key").select("kind", "key").distinct()
    neighbours = keys.join(changed_blocks, ["kind", "key"]).select("record_key")
    touched = neighbours.unionByName(changed).distinct()
    return previous_xref.join(touched, "record_key").select("resident_id").distinct()


def rematch_keys(persons: DataFrame, changed: DataFrame, previous_xref: DataFrame) -> DataFrame:
    """record_key of the run's records to match again: changed ones and every record of an affected resident."""
    residents = affected_residents(persons, changed, previous_xref)
    of_affected = previous_xref.join(residents, "resident_id").select("record_key")
    current = persons.select("record_key")
    return of_affected.unionByName(changed).distinct().join(current, "record_key")


def resolve_incrementally(persons: DataFrame, previous_persons: DataFrame, previous_xref: DataFrame, previous_review: DataFrame | None,
                          model: dict | None, secret: str, run_id: str) -> IncrementalLinks:
    """Links for every record of the run, re-matching only the records new or changed changes could affect."""
    changed = changed_keys(persons, previous_persons)
    rematched = rematch_keys(persons, changed, previous_xref).persist()
    subset = persons.join(rematched, "record_key")
    matches = match_persons(subset, model=model)
    affected_before = previous_xref.join(
        previous_xref.join(rematched, "record_key").select("resident_id").distinct(), "resident_id")
    affected_before = affected_before.unionByName(
        previous_xref.join(changed, "record_key").select(*previous_xref.columns)).distinct()
    registration = assign_persistent_ids(matches.links, affected_before.select("record_key", "resident_id"), secret, run_id)
    link_columns = ["record_key", "resident_id", "match_rule", "match_probability", "match_evidence"]
    fresh = registration.links.select(*link_columns)
    carried = (previous_xref.join(rematched, "record_key", "left_anti").join(changed, "record_key", "left_anti")
               .join(persons.select("record_key"), "record_key").select(*link_columns))
    links = fresh.unionByName(carried)
    review = matches.review
    if previous_review is not None:
        kept = (previous_review.join(rematched, "record_key", "left_anti")
                .join(rematched.withColumnRenamed("record_key", "other_record_key"), "other_record_key", "left_anti"))
        review = review.unionByName(kept.select(*review.columns))
    return IncrementalLinks(links, review, registration.history, matches.model or model, rematched)


def save_model(folder: Path, model: dict | None) -> None:
    """Keep a run's trained model beside its resolved tables, for the next incremental run."""
    if model is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MODEL_FILE).write_text(json.dumps(model), encoding="utf-8")


def load_model(folder: Path) -> dict | None:
    """The model an earlier run saved (None if it saved none: the matcher then trains again)."""
    path = folder / MODEL_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
