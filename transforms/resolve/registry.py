"""Persistent resident ids: a resident keeps its `resident_id` from run to run.

The registry of what was known before is the resolved `resident_xref` (record_key → resident_id)
of the run that is live in the shared layer: `dataset_version` names that run, and its Parquet is
in the lake, written once and never changed, so it is exactly what subscribers were given.

Assignment, over the clusters the matcher made (Arrow tables on the driver: one row per record, a
few hash lookups and sorts — a million records take seconds, where the same work as Spark joins
and windows took a second per query even on an incremental run's few thousand records):

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

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from cityhub.lake import Lake
from cityhub.lake_tables import as_values, has_table, lookup, read_table

from .ids import resident_ids_for, salted

MERGE, SPLIT, RETIRE = "merge", "split", "retire"
HISTORY_SCHEMA = pa.schema([("old_resident_id", pa.string()), ("new_resident_id", pa.string()), ("change", pa.string()),
                            ("reason", pa.string()), ("record_count", pa.int64())])
CLUSTER = "cluster_key"  # the cluster's brand-new id: one per (anchor) cluster


@dataclass
class Registration:
    """Links with their persistent `resident_id`, and the id changes this run made."""

    links: pa.Table
    history: pa.Table  # HISTORY_SCHEMA


class RegistryError(RuntimeError):
    """The previous run's registry cannot be read; the message says which run and where it was looked for."""


def assign_persistent_ids(links: pa.Table, previous: pa.Table | None, secret: str, run_id: str) -> Registration:
    """Give each cluster of `links` (by anchor_value) a resident id, keeping the ids of `previous` (record_key, resident_id)."""
    anchors = as_values(links["anchor_value"])
    clusters = pd.DataFrame({"anchor_value": anchors.to_pandas(), CLUSTER: resident_ids_for(anchors, secret).to_pandas()})
    if previous is None:
        return Registration(with_resident_ids(links, clusters.rename(columns={CLUSTER: "resident_id"})), empty_history())
    before = pd.DataFrame({"record_key": previous["record_key"].to_pandas(), "previous_id": previous["resident_id"].to_pandas()})
    mine = pd.DataFrame({"record_key": links["record_key"].to_pandas(), "anchor_value": links["anchor_value"].to_pandas()})
    overlap = (mine.merge(clusters, on="anchor_value").merge(before, on="record_key")
               .groupby([CLUSTER, "previous_id"], as_index=False).size().rename(columns={"size": "records"}))
    kept = kept_ids(overlap)
    ids = clusters.merge(kept, on=CLUSTER, how="left")
    ids["resident_id"] = new_or_kept_ids(ids, set(before["previous_id"]), secret, run_id)
    return Registration(with_resident_ids(links, ids), id_history(overlap, ids, kept, before))


def with_resident_ids(links: pa.Table, ids: pd.DataFrame) -> pa.Table:
    """`links` with the resident_id of each one's cluster (`ids`: anchor_value, resident_id)."""
    table = pa.Table.from_pandas(ids[["anchor_value", "resident_id"]], preserve_index=False)
    return links.append_column("resident_id", lookup(links["anchor_value"], table, "anchor_value", ["resident_id"])["resident_id"])


def kept_ids(overlap: pd.DataFrame) -> pd.DataFrame:
    """(cluster_key, kept_id): the previous id each cluster keeps, for the clusters that keep one."""
    preferred = overlap.sort_values(["records", "previous_id"], ascending=[False, True]).drop_duplicates(CLUSTER)
    winners = preferred.sort_values(["records", CLUSTER], ascending=[False, True]).drop_duplicates("previous_id")
    return winners[[CLUSTER, "previous_id"]].rename(columns={"previous_id": "kept_id"})


def new_or_kept_ids(ids: pd.DataFrame, used_before: set[str], secret: str, run_id: str) -> pd.Series:
    """Per cluster: the kept id; else its own id, salted with the run when an earlier resident had it."""
    chosen = ids["kept_id"].fillna(ids[CLUSTER])
    reused = ids["kept_id"].isna() & ids[CLUSTER].isin(used_before)
    if reused.any():
        values = pa.array([salted(anchor, run_id) for anchor in ids.loc[reused, "anchor_value"]], pa.string())
        chosen[reused] = resident_ids_for(values, secret).to_pylist()
    return chosen


def id_history(overlap: pd.DataFrame, ids: pd.DataFrame, kept: pd.DataFrame, before: pd.DataFrame) -> pa.Table:
    """HISTORY_SCHEMA rows: where each previous id's records went when not to that id, and ids retired."""
    moved = overlap.merge(ids[[CLUSTER, "resident_id"]], on=CLUSTER)
    moved = moved[moved["resident_id"] != moved["previous_id"]]
    survives = moved["previous_id"].isin(set(kept["kept_id"]))
    reasons = [f"{records} of its records now belong to resident {rid}" if lives else f"joined resident {rid} with {records} records"
               for records, rid, lives in zip(moved["records"], moved["resident_id"], survives)]
    changes = pd.DataFrame({"old_resident_id": moved["previous_id"], "new_resident_id": moved["resident_id"],
                            "change": survives.map({True: SPLIT, False: MERGE}), "reason": reasons, "record_count": moved["records"]})
    counts = before["previous_id"].value_counts()
    gone = counts[~counts.index.isin(set(overlap["previous_id"]))]
    retired = pd.DataFrame({"old_resident_id": gone.index, "new_resident_id": None, "change": RETIRE,
                            "reason": [f"none of its {records} records is in this run" for records in gone], "record_count": gone.values})
    frames = [frame for frame in (changes, retired) if len(frame)]  # pandas warns when it concatenates an empty frame
    if not frames:
        return empty_history()
    return pa.Table.from_pandas(pd.concat(frames, ignore_index=True), schema=HISTORY_SCHEMA, preserve_index=False)


def empty_history() -> pa.Table:
    """A history table with no rows (the first run, or a run with nothing to compare with)."""
    return HISTORY_SCHEMA.empty_table()


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


def previous_registry(lake: Lake, previous_run: str | None) -> pa.Table | None:
    """The previous run's (record_key, resident_id) from its resolved xref in the lake; None on a first run."""
    if previous_run is None:
        return None
    folder: Path = lake.resolved(previous_run, "resident_xref")
    if not has_table(folder):
        raise RegistryError(
            f"{folder}: the resolved xref of the live run {previous_run} is missing from the lake, so resident ids "
            "cannot be kept; restore that folder (or publish a run whose folder exists) before resolving"
        )
    return read_table(folder, ["record_key", "resident_id"])
