"""Incremental resolution: match only what changed since the live run, carry every other resident as it was.

1. New, changed and gone records: the run's standardised persons against the live run's, column by
   column (cityhub.lake_tables.changed_keys).
2. The part to match again (part_to_rematch). Clustering is decided within the groups that the pairs
   it weighs connect (scored at or above the review threshold and allowed by the link requirements:
   guardrails.py), and every run keeps those pairs. Between two records that did not change, the pair
   is scored as before (the live run's model and frequencies), so only the records whose own pairs can
   differ are looked at along the blocking keys:
   - the changed records (new, changed, gone);
   - the records sharing an ID number, now or before, with one whose ID checks' inputs changed, but
     those anchored by their own number before and now (their checks came out as before);
   - the records not anchored by their own number that share a name window with one of those
     (linking.NAME_WINDOWS: the deterministic pass may link them otherwise).
   These start the part, with the records Splink may weigh a pair with one of them: at or above the
   review threshold and allowed, with the live run's model and frequencies. When those records are
   many, pairs Splink can never weigh are ruled out by a bound on their match weight, a few
   equalities per pair in Arrow (weighable_pairs, bounds.py), and when still many, the rest are
   scored (scored_partners); when few, every record it could score a pair of starts the part, which
   costs less than either. Only pairs a full run could block are looked at: with a record sharing one
   of their blocking keys and a link key too (probabilistic.link_keys: a pair agreeing on none is
   refused by the link requirements whatever its score), and, for one anchored by its own ID number
   before and now, only with a record without one (two anchors are never scored). Without link keys (a profile letting
   any pair link) every holder of a key is a candidate; without a model, every holder starts the part.
   The part is then closed (closed_part): each resident in it whole (it is re-clustered, not
   patched), every record sharing an ID number with it, every record sharing a name window with one
   not anchored by its own number (the deterministic pass must see the whole window), and every
   record a kept pair joins to one of it. Outside it, a full run could not have linked anything
   differently; no weighed pair crosses its edge.
3. The part is matched with the live run's model and term frequencies (no retraining, and
   frequencies of all records, not of the part); its ids go through the registry as in a full run.
   Every other record keeps its link, its blocking and link keys, its weighed pairs and its review
   rows, carried forward. A live run that kept none of those (resolved before runs kept them) is
   matched from in full once (run.py).
4. Golden records are rebuilt only for residents with a record new or changed, their records or the
   rule linking one of them not as before, or a fact row new, changed or gone; the others' are
   carried (resolve step).

Spark matches the part; finding it and carrying the rest forward are lookups over the lake's tables
that Arrow does on the driver (cityhub.lake_tables), so Spark's work follows the change, not the
city. Only the clustering of the part's scored pairs is collected to the driver. The rows carried forward are
picked out on a thread of the driver while Spark matches the part (Kept).
"""

from __future__ import annotations

import json
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import reduce
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StructField, StructType

from cityhub.lake import Lake
from cityhub.lake_tables import (
    among, as_values, carry_forward, changed_keys, has_table, read_table, rows_with, rows_without, stacked, values_of, with_run_id, without,
)
from transforms.spark import sized_for
from transforms.standardise.person import PERSON_COLUMNS

from .bounds import PairSides, bound_columns, comparison_bounds, may_be_weighed
from .columns import comparison_columns, with_sql
from .linking import ID_CHECK_INPUTS, ID_NUMBER, LINK_INPUTS, NAME_WINDOWS
from .matching import REVIEW_SCHEMA, match_persons, scoring_columns
from .probabilistic import keeps_link_keys, link_keys, predicted_pairs, rule_keys, splink_in_memory
from .profile import MatchingProfile
from .registry import assign_persistent_ids, empty_history

log = logging.getLogger(__name__)

MODEL_FILE = "model.json"
TF_PREFIX = "tf_"
# Resolved tables a run keeps for the next incremental one.
MODEL, BLOCKING_KEYS, LINK_KEYS, PAIRS = "matching_model", "blocking_keys", "link_keys", "weighed_pairs"
# What a record's link is, apart from the record itself: carried from run to run.
LINK_COLUMNS = ("record_key", "resident_id", "match_rule", "match_probability", "match_evidence")
# What is compared to find the records that changed: everything the canonical record says, not the batch it came in.
CONTENT_COLUMNS = ("source", "stream", *PERSON_COLUMNS)


# Holders of an unsettled record's keys from which the pairs at the part's edge are first bounded (weighable_pairs): only the
# holders of pairs Splink may weigh join the part. Fewer, and matching them all with the part costs less: on the 100k city (2,951
# holders, 3,188 pairs) the bound took 0.33 s and shrank the part from 5,676 records to 4,096, but matching it took 2.04 s against
# 2.14 s. On the 1M city (153,953 holders, 188,775 pairs) it leaves 14,998 pairs (Splink weighs 14,435) in 3.5-5.3 s, where Splink
# took 17.4 s to score them all.
BOUNDED_EDGE_HOLDERS = 20_000
# Holders of pairs Splink may weigh from which those pairs are scored apart first (scored_partners), and only the holders of pairs
# Splink weighs join the part. Fewer, and matching them all with the part costs less than a pass of Splink of its own: on the 1M
# city the 14,122 holders of the pairs left by the bound make a part of 39,520 records, 38,515 when Splink scored them first.
SCORED_EDGE_HOLDERS = 50_000


class IncrementalError(RuntimeError):
    """The live run lacks what an incremental run starts from; the message names the folder and the fix."""


@dataclass
class Previous:
    """What an incremental run reads of the live run: links, review queue, blocking and link keys, weighed pairs, model (its persons are read once, to compare)."""

    run_id: str
    persons: Path
    xref: pa.Table  # LINK_COLUMNS
    review: pa.Table | None
    keys: pa.Table  # (record_key, key)
    links: pa.Table | None  # (record_key, key) link keys; None: the profile lets any pair link
    pairs: pa.Table  # matching.PAIR_SCHEMA
    model: dict | None
    model_folder: Path

    @staticmethod
    def kept_tables(profile: MatchingProfile) -> tuple[str, ...]:
        """The tables a run keeps for the next incremental one under `profile`."""
        return (BLOCKING_KEYS, PAIRS, *((LINK_KEYS,) if keeps_link_keys(profile) else ()))

    @classmethod
    def missing(cls, lake: Lake, run_id: str, profile: MatchingProfile) -> list[str]:
        """The kept tables a live run that was resolved lacks (resolved before runs kept them): an incremental run cannot start from it."""
        if not has_table(lake.resolved(run_id, "resident_xref")):
            return []  # not resolved at all: read names what is missing
        return [table for table in cls.kept_tables(profile) if not has_table(lake.resolved(run_id, table))]

    @classmethod
    def read(cls, lake: Lake, run_id: str, profile: MatchingProfile) -> "Previous":
        """The live run's tables from the lake; raise IncrementalError naming what is missing."""
        persons, xref = lake.standardised_persons(run_id), lake.resolved(run_id, "resident_xref")
        for folder in (persons, xref, *(lake.resolved(run_id, table) for table in cls.kept_tables(profile))):
            if not has_table(folder):
                raise IncrementalError(f"{folder}: the live run {run_id}'s table is missing, and an incremental run starts "
                                       "from it; run without --incremental")
        review = lake.resolved(run_id, "review_queue")
        links = lake.resolved(run_id, LINK_KEYS)
        model_folder = lake.resolved(run_id, MODEL)
        return cls(run_id, persons, read_table(xref, LINK_COLUMNS), read_table(review) if has_table(review) else None,
                   read_table(lake.resolved(run_id, BLOCKING_KEYS)), read_table(links) if keeps_link_keys(profile) else None,
                   read_table(lake.resolved(run_id, PAIRS)), load_model(model_folder), model_folder)


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
    """The run's links (every record), review queue, blocking and link keys and weighed pairs as Arrow tables; its id history; the part matched again."""

    links: pa.Table  # LINK_COLUMNS
    review: pa.Table
    blocking_keys: pa.Table
    link_keys: pa.Table | None  # None: the profile lets any pair link
    pairs: pa.Table  # matching.PAIR_SCHEMA
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


@dataclass
class KeysNow:
    """Blocking and link keys now of the changed records, and which of the records looked at are anchored by their own ID number now."""

    blocking: pa.Table  # (record_key, key)
    links: pa.Table | None  # (record_key, key); None: the profile lets any pair link
    anchored: pa.Array  # record_key


# The column marking, among the records changed_keys_now computes columns for, those whose keys it returns.
_KEYED = "_keyed"


def changed_keys_now(spark: SparkSession, records: pa.Table, keyed: pa.Array, profile: MatchingProfile) -> KeysNow:
    """Keys of the `keyed` ones of `records` (this run's standardised persons), and the record_key of those of `records` anchored by
    their own ID number (so never scored against another anchor), in one Spark query: every record's columns are computed beside
    all of `records`."""
    marked = records.append_column(_KEYED, pc.is_in(records["record_key"], value_set=as_values(keyed)))
    frame = comparison_columns(spark_frame(spark, marked), profile)
    anchored = F.col("id_usable") if "id_usable" in frame.columns else F.lit(False)  # a profile without ID numbers anchors nobody
    flags = frame.where(anchored).select("record_key", F.lit(None).cast("long").alias("key"), F.lit("anchored").alias("kind"))
    keying = frame.where(F.col(_KEYED))
    parts = [flags, rule_keys(keying, profile.blocking).select("record_key", "key", F.lit("blocking").alias("kind"))]
    links = link_keys(keying, profile)
    if links is not None:
        parts.append(links.select("record_key", "key", F.lit("link").alias("kind")))
    with sized_for(spark, records.num_rows):
        rows = reduce(DataFrame.unionByName, parts).toArrow()

    def of_kind(kind: str) -> pa.Table:
        return rows.filter(pc.equal(rows["kind"], kind)).select(["record_key", "key"])

    return KeysNow(of_kind("blocking"), None if links is None else of_kind("link"), values_of(of_kind("anchored"), "record_key"))


def may_link(own: pa.Table, holding: pa.Table, links: pa.Table | None) -> pa.Table:
    """(record, holder): each pair of a record of `own` and a record of `holding` holding one of its blocking keys that shares a link
    key with it too (any such pair when `links` is None: the profile lets any pair link).

    `own`, `holding`: (record_key, key) blocking keys; `links`: (record_key, key) link keys of them all.
    """
    pairs = own.rename_columns(["record", "key"]).join(holding.rename_columns(["holder", "key"]), "key").select(["record", "holder"])
    pairs = pairs.group_by(["record", "holder"]).aggregate([])  # once per pair, however many blocking keys it shares
    if links is None:
        return pairs
    # Each pair with its record's link keys, then kept where the holder has that key: rows grow with the pairs, not with
    # how many records share a common link value (a birth month, a frequent pinyin), as joining the two sides' keys would.
    records = rows_with(links, "record_key", values_of(pairs, "record")).rename_columns(["record", "link"])
    holders = rows_with(links, "record_key", values_of(pairs, "holder")).rename_columns(["holder", "link"])
    linked = pairs.join(records, "record").join(holders, ["holder", "link"], join_type="left semi")
    return linked.group_by(["record", "holder"]).aggregate([])


@dataclass
class Neighbourhood:
    """The blocking keys a part grows along — those of the records whose own pairs may differ — and every record holding one of
    them: one pass over every record's keys, then lookups in small tables."""

    own: pa.Table  # (record_key, key) of the records that grow the part along keys
    holding: pa.Table  # (record_key, key) of every record holding one of those keys
    links: pa.Table | None = None  # (record_key, key) link keys of every record, old and new (None: any pair may link)

    @classmethod
    def of(cls, kept: pa.Table, now: pa.Table, growing: pa.Array, links: pa.Table | None = None) -> "Neighbourhood":
        """`kept`: every record's keys as the live run kept them; `now`: the changed records' keys now; `growing`: the unchanged records
        that grow the part; `links`: every record's link keys as the live run kept them and the changed records' now."""
        own = stacked([rows_with(kept, "record_key", growing), now.select(["record_key", "key"])])
        shared = values_of(own, "key")
        return cls(own, stacked([rows_with(kept, "key", shared), rows_with(now.select(["record_key", "key"]), "key", shared)]), links)

    def pairs(self, record_keys: pa.Array, among: pa.Array | None = None) -> pa.Table:
        """(record, holder): one of `record_keys` (which must be among those it was made for) and a record sharing a blocking key, and a
        link key, with it (only those `among`, when given)."""
        own = rows_with(self.own, "record_key", record_keys)
        shared = rows_with(self.holding, "key", values_of(own, "key"))
        if among is not None:
            shared = rows_with(shared, "record_key", among)
        return may_link(own, shared, self.links)


def name_windows(persons: pa.Table) -> pa.Table:
    """(record_key, window): a key for each of the deterministic pass's name windows (linking.NAME_WINDOWS) a record is in."""
    windows = []
    for position, columns in enumerate(NAME_WINDOWS):
        if not set(columns) <= set(persons.column_names):
            continue  # a person file without names or birth dates: no such window
        values = [pc.cast(persons[column], pa.string()) for column in columns]
        window = pc.binary_join_element_wise(str(position), *values, "\x1f")  # null where a value is missing: no window
        windows.append(pa.table({"record_key": persons["record_key"], "window": window}).filter(pc.is_valid(window)))
    return pa.concat_tables(windows) if windows else pa.table({"record_key": pa.array([], pa.string()), "window": pa.array([], pa.string())})


def pair_partners(pairs: pa.Table, record_keys: pa.Array) -> pa.Array:
    """record_key of the records a pair of `pairs` (matching.PAIR_SCHEMA) joins to one of `record_keys`."""
    return as_values(pa.concat_arrays([values_of(rows_with(pairs, "record_key_l", record_keys), "record_key_r"),
                                       values_of(rows_with(pairs, "record_key_r", record_keys), "record_key_l")]))


@dataclass
class Reach:
    """What a part is closed along: the live run's residents and weighed pairs, this run's ID numbers and name windows."""

    membership: pa.Table  # (record_key, resident_id) of the live run
    numbered: pa.Table  # (record_key, id_number) of this run's records with a number
    windows: pa.Table  # name_windows of this run's records
    pairs: pa.Table  # matching.PAIR_SCHEMA: the pairs the live run weighed
    free: pa.Array  # record_key of the records not anchored by their own ID number in the live run (their name windows link them)

    @classmethod
    def of(cls, current: pa.Table, previous_xref: pa.Table, pairs: pa.Table) -> "Reach":
        """The reach of this run's standardised persons (`current`) from the live run's links and weighed pairs."""
        free = values_of(previous_xref.filter(pc.not_equal(previous_xref["match_rule"], ID_NUMBER)), "record_key")
        return cls(previous_xref.select(["record_key", "resident_id"]),
                   current.select(["record_key", "id_number"]).filter(pc.is_valid(current["id_number"])),
                   name_windows(current), pairs, free)


def closed_part(start: pa.Array, reach: Reach) -> tuple[pa.Array, pa.Array]:
    """(record keys, live-run residents) of the least part holding `start` that a full run would cluster the same way.

    Grown until nothing more joins: a record brings its live-run resident whole (it is re-clustered
    whole), every record sharing its ID number (the ID checks look at all of them), every record a
    weighed pair joins it to (clustering looks at them), and, when its own number did not anchor it,
    every record sharing a name window with it (the deterministic pass looks at all of them). Each
    record is looked up once, in the round after it joined.
    """
    records = frontier = as_values(start)
    residents = numbers = windows = as_values([])
    while len(frontier):
        joined = without(values_of(rows_with(reach.membership, "record_key", frontier), "resident_id"), residents)
        found = without(values_of(rows_with(reach.numbered, "record_key", frontier), "id_number"), numbers)
        opened = without(values_of(rows_with(reach.windows, "record_key", among(frontier, reach.free)), "window"), windows)
        reached = pa.concat_arrays([
            values_of(rows_with(reach.membership, "resident_id", joined), "record_key"),
            values_of(rows_with(reach.numbered, "id_number", found), "record_key"),
            values_of(rows_with(reach.windows, "window", opened), "record_key"),
            pair_partners(reach.pairs, frontier),
        ])
        residents, numbers, windows = (as_values(pa.concat_arrays(pair)) for pair in ((residents, joined), (numbers, found), (windows, opened)))
        frontier = without(as_values(reached), records)
        records = pa.concat_arrays([records, frontier])  # gone records stay in: they are not in `current`
    return records, residents


def sharing_a_number(current: pa.Table, records: pa.Table) -> pa.Array:
    """record_key of this run's records (`current`) holding a number one of `records` (any run's rows) holds."""
    return values_of(rows_with(current, "id_number", values_of(records, "id_number")), "record_key")


def changed_records(current: pa.Table, previous: pa.Table) -> pa.Array:
    """record_key of the standardised persons new, changed (CONTENT_COLUMNS) or gone since `previous`."""
    return changed_keys(current, previous, "record_key", CONTENT_COLUMNS)


@dataclass
class Changes:
    """The records new, changed or gone since the live run, and their rows in this run (`now`) and in the live one (`was`)."""

    keys: pa.Array  # record_key
    now: pa.Table
    was: pa.Table

    @classmethod
    def of(cls, current: pa.Table, before: pa.Table) -> "Changes":
        """The changes between this run's standardised persons (`current`) and the live run's (`before`)."""
        keys = changed_records(current, before)
        return cls(keys, rows_with(current, "record_key", keys), rows_with(before, "record_key", keys))

    def moved(self, columns: tuple[str, ...]) -> pa.Array:
        """record_key of the changes new, gone or with one of `columns` changed."""
        return changed_keys(self.now, self.was, "record_key", columns)


def checked_records(current: pa.Table, changes: Changes) -> pa.Array:
    """The changed records, and the records sharing an ID number, now or before, with one whose ID checks' inputs changed
    (linking.ID_CHECK_INPUTS): their own checks may change."""
    moved = changes.moved(ID_CHECK_INPUTS)
    numbers = stacked([rows_with(table, "record_key", moved).select(["id_number"]) for table in (changes.now, changes.was)])
    return as_values(pa.concat_arrays([changes.keys, sharing_a_number(current, numbers)]))


def unsettled_records(changes: Changes, checked: pa.Array, steady: pa.Array, reach: Reach) -> pa.Array:
    """The records whose own pairs, or deterministic link, may differ from the live run's; every other record is linked as before.

    The changed records; the checked ones (checked_records) but those `steady`, anchored by their own
    number before and now (then their checks came out as before: valid, not conflicting, not zeroed);
    and the records not anchored by their own number (`reach.free`) that share a name window, now or
    before, with one of those whose inputs to the deterministic pass may have changed
    (linking.LINK_INPUTS): it may link them otherwise.
    """
    moved = without(checked, steady)
    link_moved = changes.moved(LINK_INPUTS)
    shared = as_values(pa.concat_arrays([values_of(rows_with(reach.windows, "record_key", pa.concat_arrays([link_moved, moved])), "window"),
                                         values_of(name_windows(rows_with(changes.was, "record_key", link_moved)), "window")]))
    peers = among(values_of(rows_with(reach.windows, "window", shared), "record_key"), reach.free)
    return as_values(pa.concat_arrays([changes.keys, moved, peers]))


def edge_frame(spark: SparkSession, current: pa.Table, candidates: pa.Table, profile: MatchingProfile) -> tuple[DataFrame, int]:
    """The comparison columns of the records of the `candidates` pairs (record, holder), and how many rows they are computed over.

    Each record's columns are computed beside every record sharing its number, as a full run computes them.
    """
    records = as_values(pa.concat_arrays([values_of(candidates, "record"), values_of(candidates, "holder")]))
    rows = rows_with(current, "record_key", pa.concat_arrays([records, sharing_a_number(current, rows_with(current, "record_key", records))]))
    return comparison_columns(spark_frame(spark, rows), profile), rows.num_rows


def weighable_pairs(spark: SparkSession, current: pa.Table, candidates: pa.Table, profile: MatchingProfile, model: dict,
                    frequencies: dict[str, pa.Table]) -> pa.Table:
    """The `candidates` pairs (record, holder) Splink may weigh with the live run's model and frequencies (bounds.may_be_weighed): a
    few equalities per pair, in Arrow. The others are never weighed, so their holders do not join the part for them."""
    bounds = comparison_bounds(model, profile)
    columns = bound_columns(bounds)
    frame, rows = edge_frame(spark, current, candidates, profile)
    with sized_for(spark, rows):
        records = with_sql(frame, columns).select("record_key", *columns).toArrow()
    sides = PairSides.of(records, candidates["record"], candidates["holder"], columns)
    return candidates.filter(pa.array(may_be_weighed(bounds, model, profile, sides, frequencies)))


def scored_partners(spark: SparkSession, current: pa.Table, candidates: pa.Table, profile: MatchingProfile, model: dict,
                    term_frequencies: dict[str, DataFrame]) -> pa.Array:
    """record_key of the holders of the `candidates` pairs (record, holder) that Splink weighs: scored at or above the review threshold
    with the live run's model and frequencies, and allowed by the link requirements.

    Every candidate pair is scored, even one a full run would not score (two anchors, one deterministic
    cluster): more pairs can only bring more records into the part.
    """
    if candidates.num_rows == 0:
        return as_values([])
    left, right = candidates["record"], candidates["holder"]
    first = pc.less(left, right)
    blocked = pa.table({"match_key": pa.repeat(pa.scalar("0"), candidates.num_rows),  # Splink's blocked pairs name a rule; these pairs have none
                        "join_key_l": pc.if_else(first, left, right), "join_key_r": pc.if_else(first, right, left)})
    frame, rows = edge_frame(spark, current, candidates, profile)
    with sized_for(spark, rows), splink_in_memory(spark) as db_api:
        frame = frame.selectExpr("*", "CAST(NULL AS STRING) AS id_anchor", "CAST(NULL AS STRING) AS id_guard", "record_key AS cluster_key")
        pairs = predicted_pairs(frame.select(*scoring_columns(profile)), spark_frame(spark, blocked), model, term_frequencies, profile,
                                db_api)
        weighed = pairs.where("allowed").select("record_key_l", "record_key_r").toArrow()
    return among(as_values(pa.concat_arrays([values_of(weighed, "record_key_l"), values_of(weighed, "record_key_r")])), values_of(candidates, "holder"))


def part_to_rematch(spark: SparkSession, current: pa.Table, previous: Previous, profile: MatchingProfile,
                    term_frequencies: dict[str, DataFrame]) -> Part:
    """The part of the run's records an incremental run matches again (module docstring, steps 1 and 2).

    A record anchored by its own ID number before and now is never scored against another anchor,
    so of the records sharing a key with it only those without one can pair with it; any other
    unsettled record may pair with all of them. Of those, when they are many (BOUNDED_EDGE_HOLDERS), only
    the holders of pairs Splink may weigh start the part (weighable_pairs), and when those are still many
    (SCORED_EDGE_HOLDERS), only the holders of pairs Splink weighs (scored_partners); else, or without a
    model to score with, all of them.
    """
    changes = Changes.of(current, read_table(previous.persons))
    changed = changes.keys
    reach = Reach.of(current, previous.xref, previous.pairs)
    checked = checked_records(current, changes)
    # Keys now of the changed records, and whether the checked ones are anchored now: computed beside every record sharing
    # their numbers, so their ID checks are a full run's.
    around = rows_with(current, "record_key", pa.concat_arrays([checked, sharing_a_number(current, changes.now)]))
    keys_now = changed_keys_now(spark, around, changed, profile)
    anchored_before = values_of(previous.xref.filter(pc.equal(previous.xref["match_rule"], ID_NUMBER)), "record_key")
    steady = among(among(checked, anchored_before), keys_now.anchored)  # anchored before and now
    unsettled = unsettled_records(changes, checked, steady, reach)
    now = keys_now.blocking
    links = None if previous.links is None else stacked([previous.links, keys_now.links])
    anchored = among(unsettled, steady)  # changed, but anchored before and now: it pairs only with records without an anchor
    neighbourhood = Neighbourhood.of(previous.keys, now, without(unsettled, changed), links)
    candidates = stacked([neighbourhood.pairs(without(unsettled, anchored)), neighbourhood.pairs(anchored, among=reach.free)])
    candidates = rows_without(candidates, {"holder": unsettled})  # those are in the part anyway
    holders, pairs = values_of(candidates, "holder"), candidates.num_rows
    if previous.model is not None and len(holders) >= BOUNDED_EDGE_HOLDERS:
        candidates = weighable_pairs(spark, current, candidates, profile, previous.model, read_term_frequencies(previous.model_folder))
    partners = values_of(candidates, "holder")
    if previous.model is not None and len(partners) >= SCORED_EDGE_HOLDERS:
        partners = scored_partners(spark, current, candidates, profile, previous.model, term_frequencies)
    records, replaced = closed_part(pa.concat_arrays([unsettled, partners]), reach)
    log.info("incremental part: %d records changed, %d unsettled, %d holders of their keys (%d pairs, %d of them Splink may weigh), "
             "%d of them starting the part, %d records in it", len(changed), len(unsettled), len(holders), pairs, candidates.num_rows,
             len(partners), len(records))
    return Part(changed, values_of(rows_with(current, "record_key", records), "record_key"), replaced)


def relinked_residents(replaced: pa.Table, fresh: pa.Table) -> pa.Array:
    """resident_id, of the live run or this one, of residents of the part whose records, or the rule linking one of them, changed.

    `replaced`: the live run's xref rows of the residents the part re-clusters; `fresh`: the part's links now."""
    def linked(table: pa.Table) -> pa.Table:
        membership = pc.binary_join_element_wise(table["resident_id"], table["record_key"], "\x1f")
        return pa.table({"membership": membership, "resident_id": table["resident_id"], "match_rule": table["match_rule"]})

    now, before = linked(fresh), linked(replaced)
    changed = changed_keys(now, before, "membership", ["match_rule"])
    return as_values(pa.concat_arrays([values_of(rows_with(table, "membership", changed), "resident_id") for table in (now, before)]))


@dataclass
class Kept:
    """The live run's rows no record of the part touches, by table: what an incremental run carries forward as they were."""

    keys: pa.Table
    links: pa.Table | None
    pairs: pa.Table
    xref: pa.Table
    review: pa.Table | None
    replaced: pa.Table  # xref rows of the live run's residents the part re-clusters: the registry keeps their ids

    @classmethod
    def of(cls, previous: Previous, part: Part) -> "Kept":
        """The rows of `previous` that `part` leaves as they were (and the xref rows of the residents it replaces)."""
        touched = part.touched
        return cls(rows_without(previous.keys, {"record_key": touched}),
                   None if previous.links is None else rows_without(previous.links, {"record_key": touched}),
                   # No weighed pair crosses the part's edge (closed_part): those touching it are all the part's own, scored again.
                   rows_without(previous.pairs, {"record_key_l": touched, "record_key_r": touched}),
                   rows_without(previous.xref, {"record_key": touched}),
                   None if previous.review is None else rows_without(previous.review, {"record_key": touched, "other_record_key": touched}),
                   rows_with(previous.xref, "resident_id", part.replaced))


def resolve_incrementally(spark: SparkSession, current: pa.Table, previous: Previous, profile: MatchingProfile, secret: str,
                          run_id: str) -> IncrementalLinks:
    """Links for every record of the run (`current`: its standardised persons), matching only the part changes could affect."""
    term_frequencies = load_term_frequencies(spark, previous.model_folder)
    part = part_to_rematch(spark, current, previous, profile, term_frequencies)
    if len(part.touched) == 0:  # nothing changed: every link, review row, key and pair is the live run's, and no id moved
        review = previous.review if previous.review is not None else with_run_id(REVIEW_SCHEMA.empty_table(), run_id)
        return IncrementalLinks(previous.xref, carry_forward(review, None, {}, run_id), previous.keys, previous.links, previous.pairs,
                                empty_history(), replace(part, relinked=as_values([])))
    # The rows carried are picked out on the driver while Spark matches the part: its core is free while it waits.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kept-rows") as pool:
        picking = pool.submit(Kept.of, previous, part)
        with sized_for(spark, len(part.rematched)):
            matches = match_persons(spark_frame(spark, rows_with(current, "record_key", part.rematched)), profile,
                                    model=previous.model, term_frequencies=term_frequencies)
            fresh_keys = matches.blocking_keys.toArrow()
            fresh_links = None if previous.links is None else matches.link_keys.toArrow()
        kept = picking.result()
    registration = assign_persistent_ids(matches.links, kept.replaced, secret, run_id)
    fresh = registration.links.select(list(LINK_COLUMNS))
    part = replace(part, relinked=relinked_residents(kept.replaced, fresh))
    review = with_run_id(matches.review, run_id)
    if kept.review is not None:
        review = carry_forward(kept.review, review, {}, run_id)
    return IncrementalLinks(carry_forward(kept.xref, fresh, {}), review, carry_forward(kept.keys, fresh_keys, {}),
                            None if kept.links is None else carry_forward(kept.links, fresh_links, {}),
                            carry_forward(kept.pairs, matches.pairs, {}), registration.history, part)


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


def read_term_frequencies(folder: Path) -> dict[str, pa.Table]:
    """The term frequency tables an earlier run saved beside its model, by column, as Arrow tables (bounds.py reads them)."""
    return {path.name[len(TF_PREFIX):]: read_table(path) for path in sorted(folder.glob(f"{TF_PREFIX}*")) if has_table(path)}


def load_term_frequencies(spark: SparkSession, folder: Path) -> dict[str, DataFrame]:
    """The term frequency tables an earlier run saved beside its model, by column."""
    if not folder.is_dir():
        return {}
    return {path.name[len(TF_PREFIX):]: spark.read.parquet(str(path)) for path in sorted(folder.glob(f"{TF_PREFIX}*")) if path.is_dir()}
