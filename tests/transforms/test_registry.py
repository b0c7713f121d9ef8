"""Persistent resident ids across runs: kept ids, splits, merges, retirements, no reused ids."""

from __future__ import annotations

import pytest

from transforms.resolve.ids import resident_id_for, salted
from transforms.resolve.registry import MERGE, RETIRE, SPLIT, assign_persistent_ids

pytestmark = pytest.mark.spark
SECRET = "registry-secret"


def links(spark, clusters: dict[str, list[str]]):
    """Links of records grouped by anchor value: {anchor: [record_key, ...]}."""
    rows = [(key, "record", anchor) for anchor, keys in clusters.items() for key in keys]
    return spark.createDataFrame(rows, "record_key string, anchor_kind string, anchor_value string")


def previous(spark, residents: dict[str, list[str]]):
    return spark.createDataFrame([(key, rid) for rid, keys in residents.items() for key in keys], "record_key string, resident_id string")


def register(spark, clusters, before):
    registration = assign_persistent_ids(links(spark, clusters), previous(spark, before) if before is not None else None, SECRET, "run2")
    ids = {row["record_key"]: row["resident_id"] for row in registration.links.collect()}
    history = sorted((r["old_resident_id"], r["new_resident_id"] or "", r["change"], r["record_count"]) for r in registration.history.collect())
    return ids, history


def test_first_run_ids_come_from_the_anchor(spark):
    ids, history = register(spark, {"x": ["a", "b"], "y": ["c"]}, None)
    assert ids == {"a": resident_id_for("x", SECRET), "b": resident_id_for("x", SECRET), "c": resident_id_for("y", SECRET)}
    assert history == []


def test_ids_are_kept_through_new_records_splits_merges_and_retirements(spark):
    # One run with every case at once (Spark actions are what cost time here).
    reused = resident_id_for("q", SECRET)  # a brand-new cluster anchored on "q" would get this retired id again
    before = {
        "R1": ["a", "b", "c"],  # splits: {a, b} keeps R1, c leaves
        "R2": ["d", "e"], "R3": ["g"],  # merge: R2 survives (more records), R3 is recorded as merged into it
        "R5": ["m"], "R4": ["n"],  # merge on a tie: the smaller id survives
        "R6": ["h"],  # unchanged but for a new record
        reused: ["gone"],  # retired: its one record is not in this run
    }
    clusters = {"x": ["a", "b"], "y": ["c"], "w": ["d", "e", "g"], "t": ["m", "n"], "v": ["h", "h2"], "q": ["q1"], "z": ["new1"]}
    ids, history = register(spark, clusters, before)

    assert ids["a"] == ids["b"] == "R1"
    assert ids["c"] == resident_id_for("y", SECRET)
    assert ids["d"] == ids["e"] == ids["g"] == "R2"
    assert ids["m"] == ids["n"] == "R4"
    assert ids["h"] == ids["h2"] == "R6"
    assert ids["new1"] == resident_id_for("z", SECRET)
    assert ids["q1"] not in (reused, None), "an id once given must never come back meaning someone else"
    assert ids["q1"] == resident_id_for(salted("q", "run2"), SECRET) == resident_id_for("q@run2", SECRET)
    assert len({ids[k] for k in ("a", "c", "d", "m", "h", "q1", "new1")}) == 7
    assert history == sorted([
        ("R1", ids["c"], SPLIT, 1),
        ("R3", "R2", MERGE, 1),
        ("R5", "R4", MERGE, 1),
        (reused, "", RETIRE, 1),
    ])
