"""Persistent resident ids: a resident keeps its `resident_id` from run to run.

The registry of what was known before is the resolved `resident_xref` (record_key → resident_id)
of the run that is live in the shared layer: `dataset_version` names that run, and its Parquet is
in the lake, written once and never changed, so it is exactly what subscribers were given.

Assignment, all as Spark joins and windows over the clusters the matcher made (no driver collect):

1. each cluster prefers the previous id held by most of its previously known records (tie: the
   smallest id);
2. each previous id goes to the cluster holding most of its records among the clusters preferring
   it (tie: the smallest cluster key) — so in a split the largest part keeps the id, and in a merge
   the cluster keeps the id of its largest part (the survivor);
3. every other cluster gets the HMAC-SM3 id of its anchor (ids.py), salted with the run when that
   id was already used by an earlier resident, so an id never comes back meaning someone else.

History (`resident_id_history`): a previous id whose records now (partly) sit in a resident with
another id gives one row per such resident — `split` when the old id lives on elsewhere, `merge`
when it does not; a previous id none of whose records is present any more is `retire`d.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from cityhub.lake import Lake

from .ids import resident_id_of, resident_ids_of

MERGE, SPLIT, RETIRE = "merge", "split", "retire"
HISTORY_COLUMNS = ("old_resident_id", "new_resident_id", "change", "reason", "record_count")
HISTORY_SCHEMA = "old_resident_id string, new_resident_id string, change string, reason string, record_count long"
CLUSTER = "cluster_key"  # the cluster's brand-new id: one per (anchor) cluster
SALTED = "salted_id"  # its id salted with the run, for a cluster whose brand-new id an earlier resident had


@dataclass
class Registration:
    """Links with their persistent `resident_id`, and the id changes this run made."""

    links: DataFrame
    history: DataFrame  # HISTORY_COLUMNS


class RegistryError(RuntimeError):
    """The previous run's registry cannot be read; the message says which run and where it was looked for."""


def assign_persistent_ids(links: DataFrame, previous: DataFrame | None, secret: str, run_id: str) -> Registration:
    """Give each cluster of `links` (by anchor_value) a resident id, keeping the ids of `previous` (record_key, resident_id)."""
    # Checkpointed: the xref, the history and the golden records all read it, and its lineage is the
    # whole matching.
    clustered = with_cluster_ids(links, secret, run_id if previous is not None else None).localCheckpoint()
    if previous is None:
        return Registration(clustered.withColumnRenamed(CLUSTER, "resident_id"), empty_history(links.sparkSession))
    before = previous.select("record_key", F.col("resident_id").alias("previous_id"))
    # Checkpointed, both: the links and the history each read them, and `ids` hashes every cluster's anchor in Python.
    overlap = (clustered.select("record_key", CLUSTER).join(before, "record_key")
               .groupBy(CLUSTER, "previous_id").agg(F.count(F.lit(1)).alias("records"))).localCheckpoint()
    kept = kept_ids(overlap)
    previous_ids = before.select(F.col("previous_id").alias(CLUSTER)).distinct().withColumn("used_before", F.lit(True))
    ids = (clustered.select(CLUSTER, SALTED).dropDuplicates([CLUSTER]).join(kept, CLUSTER, "left")
           .join(previous_ids, CLUSTER, "left")
           .select(CLUSTER, new_or_kept_id().alias("resident_id"))).localCheckpoint()
    assigned = clustered.join(ids, CLUSTER).drop(CLUSTER, SALTED)
    return Registration(assigned, id_history(overlap, ids, kept, before))


def with_cluster_ids(links: DataFrame, secret: str, run_id: str | None = None) -> DataFrame:
    """Links with CLUSTER, the HMAC id of their anchor, hashed once per cluster rather than once per record; with `run_id`,
    SALTED too, the id a new cluster takes when an earlier resident had its CLUSTER id (hashed in the same pass)."""
    anchors = links.select("anchor_value").distinct()
    if run_id is None:
        ids = anchors.withColumn(CLUSTER, resident_id_of(F.col("anchor_value"), secret))
    else:
        hashed = anchors.withColumn("ids", resident_ids_of(F.col("anchor_value"), secret, run_id))
        ids = hashed.select("anchor_value", F.col("ids.id").alias(CLUSTER), F.col("ids.salted").alias(SALTED))
    return links.join(ids, "anchor_value").select(*links.columns, *(c for c in ids.columns if c != "anchor_value"))


def kept_ids(overlap: DataFrame) -> DataFrame:
    """(cluster_key, kept_id): the previous id each cluster keeps, for the clusters that keep one."""
    by_cluster = Window.partitionBy(CLUSTER).orderBy(F.desc("records"), F.asc("previous_id"))
    preferred = overlap.withColumn("rank", F.row_number().over(by_cluster)).where("rank = 1")
    by_id = Window.partitionBy("previous_id").orderBy(F.desc("records"), F.asc(CLUSTER))
    winners = preferred.withColumn("rank", F.row_number().over(by_id)).where("rank = 1")
    return winners.select(CLUSTER, F.col("previous_id").alias("kept_id"))


def new_or_kept_id() -> Column:
    """The kept id; else the cluster's own id, salted with the run when an earlier resident had it."""
    return F.coalesce(F.col("kept_id"), F.when(F.col("used_before"), F.col(SALTED)).otherwise(F.col(CLUSTER)))


def id_history(overlap: DataFrame, ids: DataFrame, kept: DataFrame, before: DataFrame) -> DataFrame:
    """HISTORY_COLUMNS rows: where each previous id's records went when not to that id, and ids retired."""
    survivors = kept.select(F.col("kept_id").alias("previous_id")).withColumn("survives", F.lit(True))
    moved = (overlap.join(ids, CLUSTER).where(F.col("resident_id") != F.col("previous_id"))
             .join(survivors, "previous_id", "left"))
    change = F.when(F.col("survives"), F.lit(SPLIT)).otherwise(F.lit(MERGE))
    reason = F.when(F.col("survives"), F.format_string("%d of its records now belong to resident %s", F.col("records"), F.col("resident_id"))) \
        .otherwise(F.format_string("joined resident %s with %d records", F.col("resident_id"), F.col("records")))
    changes = moved.select(F.col("previous_id").alias("old_resident_id"), F.col("resident_id").alias("new_resident_id"),
                           change.alias("change"), reason.alias("reason"), F.col("records").alias("record_count"))
    present = overlap.select("previous_id").distinct()
    retired = (before.groupBy("previous_id").agg(F.count(F.lit(1)).alias("records")).join(present, "previous_id", "left_anti")
               .select(F.col("previous_id").alias("old_resident_id"), F.lit(None).cast("string").alias("new_resident_id"),
                       F.lit(RETIRE).alias("change"),
                       F.format_string("none of its %d records is in this run", F.col("records")).alias("reason"),
                       F.col("records").alias("record_count")))
    return changes.unionByName(retired)


def empty_history(spark: SparkSession) -> DataFrame:
    """A history frame with no rows (the first run, or a run with nothing to compare with)."""
    return spark.createDataFrame([], HISTORY_SCHEMA)


def live_run_before(url: str, run_id: str) -> str | None:
    """The run whose resident_xref the shared layer at `url` serves (its newest version not from `run_id`), if any."""
    from cityhub.sharedlayer import engine_for
    from cityhub.sharedlayer.schema import dataset_version

    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(dataset_version.name):
                return None
            query = (sa.select(dataset_version.c.run_id)
                     .where(dataset_version.c.dataset == "resident_xref", dataset_version.c.run_id != run_id)
                     .order_by(dataset_version.c.version.desc()).limit(1))
            return connection.execute(query).scalar()
    finally:
        engine.dispose()


def previous_registry(spark: SparkSession, lake: Lake, previous_run: str | None) -> DataFrame | None:
    """The previous run's (record_key, resident_id) from its resolved xref in the lake; None on a first run."""
    if previous_run is None:
        return None
    folder: Path = lake.resolved(previous_run, "resident_xref")
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        raise RegistryError(
            f"{folder}: the resolved xref of the live run {previous_run} is missing from the lake, so resident ids "
            "cannot be kept; restore that folder (or publish a run whose folder exists) before resolving"
        )
    return spark.read.parquet(str(folder)).select("record_key", "resident_id")
