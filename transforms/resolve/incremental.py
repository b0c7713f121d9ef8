"""Incremental resolution: match only what changed since the live run, carry every other resident as it was.

1. New, changed and gone records: the run's standardised persons against the live run's, column by
   column (cityhub.lake_tables.changed_keys).
2. The part to match again starts from those records and the records sharing one of the profile's
   blocking keys with them — their old keys from the blocking keys the live run kept, their new ones
   computed for them now; of the records sharing a key with a changed record anchored by its own ID
   number before and now, only those without an ID anchor (two anchors are never scored). The part
   is then closed (closed_part): each resident in it whole (it is re-clustered, not patched), every
   record sharing an ID number with it (the ID checks look at all of them), and every record sharing
   a key with a record of it that has no ID anchor (the residents that record could link to, or be
   torn between). Outside it, a full run could not have matched anything differently.
   Of the records sharing a blocking key with one, only those sharing one of its link keys too are
   taken (probabilistic.link_keys): a pair agreeing on none of them is refused by the profile's link
   requirements whatever its score, and plays no part in clustering, so it cannot change anything.
   Without link keys (a profile that lets any pair link) every holder of a key is taken.
3. The part is matched with the live run's model and term frequencies (no retraining, and
   frequencies of all records, not of the part); its ids go through the registry as in a full run.
   Every other record keeps its link, its blocking keys and its review rows, carried forward.
4. Golden records are rebuilt only for residents with a record new or changed, their records or the
   rule linking one of them not as before, or a fact row new, changed or gone; the others' are
   carried (resolve step).

Spark matches the part; finding it and carrying the rest forward are lookups over the lake's tables
that Arrow does on the driver (cityhub.lake_tables), so Spark's work follows the change, not the
city. Only the clustering of the part's scored pairs is collected to the driver.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StructField, StructType

from cityhub.lake import Lake
from cityhub.lake_tables import (
    among, as_values, carry_forward, changed_keys, has_table, read_table, rows_with, stacked, values_of, with_run_id, without,
)
from transforms.spark import sized_for
from transforms.standardise.person import PERSON_COLUMNS

from .columns import comparison_columns
from .linking import ID_NUMBER
from .matching import REVIEW_SCHEMA, match_persons
from .probabilistic import keeps_link_keys, link_keys, rule_keys
from .profile import MatchingProfile
from .registry import assign_persistent_ids, empty_history

MODEL_FILE = "model.json"
TF_PREFIX = "tf_"
# Resolved tables a run keeps for the next incremental one.
MODEL, BLOCKING_KEYS, LINK_KEYS = "matching_model", "blocking_keys", "link_keys"
# What a record's link is, apart from the record itself: carried from run to run.
LINK_COLUMNS = ("record_key", "resident_id", "match_rule", "match_probability", "match_evidence")
# What is compared to find the records that changed: everything the canonical record says, not the batch it came in.
CONTENT_COLUMNS = ("source", "stream", *PERSON_COLUMNS)


class IncrementalError(RuntimeError):
    """The live run lacks what an incremental run starts from; the message names the folder and the fix."""


@dataclass
class Previous:
    """What an incremental run reads of the live run: its links, review queue, blocking and link keys and model (its persons are read once, to compare)."""

    run_id: str
    persons: Path
    xref: pa.Table  # LINK_COLUMNS
    review: pa.Table | None
    keys: pa.Table | None  # (record_key, key); None for a run resolved before runs kept them
    links: pa.Table | None  # (record_key, key) link keys; None for a run that kept none (before runs kept them, or any pair may link)
    model: dict | None
    model_folder: Path

    @classmethod
    def read(cls, lake: Lake, run_id: str) -> "Previous":
        """The live run's tables from the lake; raise IncrementalError naming what is missing."""
        persons, xref = lake.standardised_persons(run_id), lake.resolved(run_id, "resident_xref")
        for folder in (persons, xref):
            if not has_table(folder):
                raise IncrementalError(f"{folder}: the live run {run_id}'s table is missing, and an incremental run starts "
                                       "from it; run without --incremental")
        review, keys, links = (lake.resolved(run_id, table) for table in ("review_queue", BLOCKING_KEYS, LINK_KEYS))
        model_folder = lake.resolved(run_id, MODEL)
        kept = {folder: read_table(folder) if has_table(folder) else None for folder in (review, keys, links)}
        return cls(run_id, persons, read_table(xref, LINK_COLUMNS), kept[review], kept[keys], kept[links], load_model(model_folder), model_folder)


@dataclass
class Part:
    """The records an incremental run matches again, and why."""

    changed: pa.Array  # record_key of records new, changed or gone since the live run
    rematched: pa.Array  # record_key of this run's records matched again (the changed ones among them)
    replaced: pa.Array  # resident_id of the live run's residents with a record in the part (or gone): their links are not carried
    relinked: pa.Array | None = None  # resident_id (either run's) of residents whose records, or how one was linked, changed

    @property
    def touched(self) -> pa.Array:
        """Record keys whose live-run rows are not carried: matched again, or gone."""
        return as_values(pa.concat_arrays([self.rematched, self.changed]))


@dataclass
class IncrementalLinks:
    """The run's links (every record), review queue and blocking keys as Arrow tables; its id history; the part matched again."""

    links: pa.Table  # LINK_COLUMNS
    review: pa.Table
    blocking_keys: pa.Table
    link_keys: pa.Table | None  # None: the profile lets any pair link
    history: pa.Table  # registry.HISTORY_SCHEMA
    part: Part


def spark_frame(spark: SparkSession, rows: pa.Table) -> DataFrame:
    """Rows of a lake table already read on the driver (read_table) as a Spark frame, typed as Spark reads their Parquet.

    Cheaper than Spark scanning the folder again to pick a part of it out; the Spark types come from
    the Arrow schema (what Spark would read from the same Parquet columns), so the folder is not
    listed nor its footers read a second time. `rows` may hold some of a table's columns only.
    """
    schema = from_arrow_schema(rows.schema)
    return spark.createDataFrame(rows, schema=StructType([StructField(f.name, f.dataType, True) for f in schema]))


def blocking_keys(persons: DataFrame, profile: MatchingProfile) -> DataFrame:
    """(record_key, key): every record's key for every blocking rule it has all columns for (probabilistic.rule_keys)."""
    return rule_keys(comparison_columns(persons, profile), profile.blocking).select("record_key", "key")


def keys_and_anchors(persons: DataFrame, profile: MatchingProfile) -> DataFrame:
    """(record_key, key, anchored): blocking_keys, and whether the record's own ID number anchors it (then it is never scored against another anchor)."""
    frame = comparison_columns(persons, profile)
    anchored = F.col("id_usable") if "id_usable" in frame.columns else F.lit(False)  # a profile without ID numbers anchors nobody
    return rule_keys(frame.withColumn("anchored", anchored), profile.blocking, carry=("anchored",)).select("record_key", "key", "anchored")


def record_link_keys(persons: DataFrame, profile: MatchingProfile) -> DataFrame | None:
    """probabilistic.link_keys of standardised person records (None: the profile lets any pair link)."""
    return link_keys(comparison_columns(persons, profile), profile)


def sharing_a_number(current: pa.Table, record_keys: pa.Array) -> pa.Array:
    """`record_keys` and the keys of every record sharing an ID number with one of them."""
    numbers = values_of(rows_with(current, "record_key", record_keys), "id_number")
    return as_values(pa.concat_arrays([as_values(record_keys), values_of(rows_with(current, "id_number", numbers), "record_key")]))


def may_link(own: pa.Table, holding: pa.Table, links: pa.Table) -> pa.Array:
    """record_key of the records of `holding` that share a link key with a record of `own` holding the same blocking key.

    `own`, `holding`: (record_key, key) blocking keys; `links`: (record_key, key) link keys of them all.
    """
    pairs = own.rename_columns(["record", "key"]).join(holding.rename_columns(["holder", "key"]), "key").select(["record", "holder"])
    pairs = pairs.group_by(["record", "holder"]).aggregate([])  # once per pair, however many blocking keys it shares
    # Each pair with its record's link keys, then kept where the holder has that key: rows grow with the pairs, not with
    # how many records share a common link value (a birth month, a frequent pinyin), as joining the two sides' keys would.
    records = rows_with(links, "record_key", values_of(pairs, "record")).rename_columns(["record", "link"])
    holders = rows_with(links, "record_key", values_of(pairs, "holder")).rename_columns(["holder", "link"])
    linked = pairs.join(records, "record").select(["holder", "link"])
    return values_of(linked.join(holders, ["holder", "link"], join_type="left semi"), "holder")


@dataclass
class Neighbourhood:
    """The blocking keys a part grows along — those of the records without an ID anchor and of the changed records, old and
    new — and every record holding one of them: two passes over every record's keys, then lookups in small tables."""

    own: pa.Table  # (record_key, key) of the records that may grow the part
    holding: pa.Table  # (record_key, key) of every record holding one of those keys
    links: pa.Table | None = None  # (record_key, key) link keys of every record, old and new (None: any pair may link)

    @classmethod
    def of(cls, kept: pa.Table, now: pa.Table, growing: pa.Array, links: pa.Table | None = None) -> "Neighbourhood":
        """`kept`: every record's keys as the live run kept them; `now`: the changed records' keys now; `growing`: the records that may
        grow the part; `links`: every record's link keys as the live run kept them and the changed records' now."""
        own = stacked([rows_with(kept, "record_key", growing), now.select(["record_key", "key"])])
        shared = values_of(own, "key")
        return cls(own, stacked([rows_with(kept, "key", shared), rows_with(now.select(["record_key", "key"]), "key", shared)]), links)

    def holders(self, record_keys: pa.Array, among: pa.Array | None = None) -> pa.Array:
        """record_key of the records sharing a blocking key, and a link key, with one of `record_keys` (which must be among those it was
        made for; only those `among`, when given)."""
        own = rows_with(self.own, "record_key", record_keys)
        shared = rows_with(self.holding, "key", values_of(own, "key"))
        if among is not None:
            shared = rows_with(shared, "record_key", among)
        return values_of(shared, "record_key") if self.links is None else may_link(own, shared, self.links)


def closed_part(start: pa.Array, current: pa.Table, previous_xref: pa.Table, neighbourhood: Neighbourhood,
                free: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(record keys, live-run residents) of the least part holding `start` that a full run would match the same way.

    Grown until nothing more joins: a resident in the part brings all its records (it is re-clustered
    whole), a record every record sharing its ID number (the ID checks look at all of them), and a
    record without an ID anchor (`free`) every record sharing a blocking key with it (the residents it
    could link to, or be torn between). Each round looks up only what the round before added.
    """
    membership = previous_xref.select(["record_key", "resident_id"])
    numbered = current.select(["record_key", "id_number"]).filter(pc.is_valid(current["id_number"]))
    records = frontier = as_values(start)
    residents = numbers = expanded = as_values([])
    while len(frontier):
        joined = without(values_of(rows_with(membership, "record_key", frontier), "resident_id"), residents)
        members = values_of(rows_with(membership, "resident_id", joined), "record_key")
        found = without(values_of(rows_with(numbered, "record_key", pa.concat_arrays([frontier, members])), "id_number"), numbers)
        peers = values_of(rows_with(numbered, "id_number", found), "record_key")
        growing = without(among(as_values(pa.concat_arrays([frontier, members, peers])), free), expanded)
        neighbours = neighbourhood.holders(growing)
        residents, numbers, expanded = (as_values(pa.concat_arrays(pair)) for pair in ((residents, joined), (numbers, found), (expanded, growing)))
        frontier = without(as_values(pa.concat_arrays([members, peers, neighbours])), records)
        records = pa.concat_arrays([records, frontier])  # gone records stay in: they are not in `current`
    return values_of(rows_with(current, "record_key", records), "record_key"), residents


def changed_records(current: pa.Table, previous: pa.Table) -> pa.Array:
    """record_key of the standardised persons new, changed (CONTENT_COLUMNS) or gone since `previous`."""
    return changed_keys(current, previous, "record_key", CONTENT_COLUMNS)


def part_to_rematch(spark: SparkSession, current: pa.Table, previous: Previous, kept: pa.Table, kept_links: pa.Table | None,
                    profile: MatchingProfile) -> Part:
    """The part of the run's records an incremental run matches again (module docstring, steps 1 and 2); `kept`, `kept_links`: the live
    run's blocking and link keys (None: any pair may link).

    A changed record anchored by its own ID number before and now is never scored against another
    anchor, so of the records sharing a key with it only those without one can be affected; any
    other changed record may link to, or be torn between, all of them.
    """
    changed = changed_records(current, read_table(previous.persons))
    # New keys of the changed records, computed beside every record sharing their numbers so their ID checks are a full run's.
    around = rows_with(current, "record_key", sharing_a_number(current, changed))
    with sized_for(spark, around.num_rows):
        frame = spark_frame(spark, around)
        now = rows_with(keys_and_anchors(frame, profile).toArrow(), "record_key", changed)
        links = None if kept_links is None else stacked([kept_links, rows_with(record_link_keys(frame, profile).toArrow(), "record_key", changed)])
    anchored_before = values_of(previous.xref.filter(pc.equal(previous.xref["match_rule"], ID_NUMBER)), "record_key")
    free = values_of(previous.xref.filter(pc.not_equal(previous.xref["match_rule"], ID_NUMBER)), "record_key")
    anchored = pc.filter(changed, pc.is_in(changed, value_set=anchored_before))
    anchored = pc.filter(anchored, pc.invert(pc.is_in(anchored, value_set=values_of(now.filter(pc.invert(now["anchored"])), "record_key"))))
    unanchored = pc.filter(changed, pc.invert(pc.is_in(changed, value_set=anchored)))
    growing = as_values(pa.concat_arrays([free, changed]))
    neighbourhood = Neighbourhood.of(kept, now, growing, links)
    start = pa.concat_arrays([changed, neighbourhood.holders(unanchored), neighbourhood.holders(anchored, among=free)])
    rematched, replaced = closed_part(start, current, previous.xref, neighbourhood, growing)
    return Part(changed, rematched, replaced)


def relinked_residents(previous_xref: pa.Table, fresh: pa.Table, part: Part) -> pa.Array:
    """resident_id, of the live run or this one, of residents of the part whose records, or the rule linking one of them, changed."""
    def linked(table: pa.Table) -> pa.Table:
        membership = pc.binary_join_element_wise(table["resident_id"], table["record_key"], "\x1f")
        return pa.table({"membership": membership, "resident_id": table["resident_id"], "match_rule": table["match_rule"]})

    now, before = linked(fresh), linked(rows_with(previous_xref, "resident_id", part.replaced))
    changed = changed_keys(now, before, "membership", ["match_rule"])
    return as_values(pa.concat_arrays([values_of(rows_with(table, "membership", changed), "resident_id") for table in (now, before)]))


def resolve_incrementally(spark: SparkSession, persons_folder: Path, current: pa.Table, previous: Previous,
                          profile: MatchingProfile, secret: str, run_id: str) -> IncrementalLinks:
    """Links for every record of the run (`current`: its standardised persons), matching only the part changes could affect."""
    kept, kept_links = previous.keys, previous.links
    if kept is None:  # a live run resolved before runs kept their blocking keys: every record's, once, now
        kept = blocking_keys(spark.read.parquet(str(persons_folder)), profile).toArrow()
    if kept_links is None and keeps_link_keys(profile):  # nor their link keys: every record's, once, now
        kept_links = record_link_keys(spark.read.parquet(str(persons_folder)), profile).toArrow()
    part = part_to_rematch(spark, current, previous, kept, kept_links, profile)
    if len(part.touched) == 0:  # nothing changed: every link, review row and key is the live run's, and no id moved
        review = previous.review if previous.review is not None else with_run_id(REVIEW_SCHEMA.empty_table(), run_id)
        return IncrementalLinks(previous.xref, carry_forward(review, None, {}, run_id), kept, kept_links, empty_history(),
                                replace(part, relinked=as_values([])))
    with sized_for(spark, len(part.rematched)):
        matches = match_persons(spark_frame(spark, rows_with(current, "record_key", part.rematched)), profile,
                                model=previous.model, term_frequencies=load_term_frequencies(spark, previous.model_folder))
        keys = carry_forward(kept, matches.blocking_keys.toArrow(), {"record_key": part.touched})
        if kept_links is not None:
            kept_links = carry_forward(kept_links, matches.link_keys.toArrow(), {"record_key": part.touched})
    registration = assign_persistent_ids(matches.links, rows_with(previous.xref, "resident_id", part.replaced), secret, run_id)
    fresh = registration.links.select(list(LINK_COLUMNS))
    part = replace(part, relinked=relinked_residents(previous.xref, fresh, part))
    links = carry_forward(previous.xref, fresh, {"record_key": part.touched})
    review = with_run_id(matches.review, run_id)
    if previous.review is not None:
        review = carry_forward(previous.review, review, {"record_key": part.touched, "other_record_key": part.touched}, run_id)
    return IncrementalLinks(links, review, keys, kept_links, registration.history, part)


def save_model(folder: Path, model: dict | None, term_frequencies: dict[str, DataFrame] | None = None) -> None:
    """Keep a run's model and term frequency tables beside its resolved tables, for the next incremental run."""
    if model is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_text(json.dumps(model), encoding="utf-8")
    for column, table in (term_frequencies or {}).items():
        table.write.mode("overwrite").parquet(str(folder / f"{TF_PREFIX}{column}"))


def copy_model(source: Path, folder: Path) -> None:
    """Keep the model an incremental run scored with (the live run's, unchanged) beside its resolved tables, as files."""
    shutil.rmtree(folder, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, folder)


def load_model(folder: Path) -> dict | None:
    """The model an earlier run saved (None if it saved none: the matcher then trains again)."""
    path = folder / MODEL_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def load_term_frequencies(spark: SparkSession, folder: Path) -> dict[str, DataFrame]:
    """The term frequency tables an earlier run saved beside its model, by column."""
    if not folder.is_dir():
        return {}
    return {path.name[len(TF_PREFIX):]: spark.read.parquet(str(path)) for path in sorted(folder.glob(f"{TF_PREFIX}*")) if path.is_dir()}
