"""Persistent resident ids across runs: kept ids, splits, merges, retirements, no reused ids."""

from __future__ import annotations

import pyarrow as pa

from transforms.resolve.ids import resident_id_for, salted
from transforms.resolve.registry import HISTORY_SCHEMA, MERGE, RETIRE, SPLIT, assign_persistent_ids

SECRET = "registry-secret"


def links(clusters: dict[str, list[str]]) -> pa.Table:
    """Links of records grouped by anchor value: {anchor: [record_key, ...]}."""
    rows = [(key, "record", anchor) for anchor, keys in clusters.items() for key in keys]
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(("record_key", "anchor_kind", "anchor_value"))})


def previous(residents: dict[str, list[str]]) -> pa.Table:
    rows = [(key, rid) for rid, keys in residents.items() for key in keys]
    return pa.table({"record_key": [key for key, _ in rows], "resident_id": [rid for _, rid in rows]})


def register(clusters, before):
    registration = assign_persistent_ids(links(clusters), previous(before) if before is not None else None, SECRET, "run2")
    ids = dict(zip(registration.links["record_key"].to_pylist(), registration.links["resident_id"].to_pylist()))
    history = sorted((r["old_resident_id"], r["new_resident_id"] or "", r["change"], r["record_count"]) for r in registration.history.to_pylist())
    assert registration.history.schema == HISTORY_SCHEMA
    return ids, history


def test_first_run_ids_come_from_the_anchor():
    ids, history = register({"x": ["a", "b"], "y": ["c"]}, None)
    assert ids == {"a": resident_id_for("x", SECRET), "b": resident_id_for("x", SECRET), "c": resident_id_for("y", SECRET)}
    assert history == []


def test_ids_are_kept_through_new_records_splits_merges_and_retirements():
    # One run with every case at once.
    reused = resident_id_for("q", SECRET)  # a brand-new cluster anchored on "q" would get this retired id again
    before = {
        "R1": ["a", "b", "c"],  # splits: {a, b} keeps R1, c leaves
        "R2": ["d", "e"], "R3": ["g"],  # merge: R2 survives (more records), R3 is recorded as merged into it
        "R5": ["m"], "R4": ["n"],  # merge on a tie: the smaller id survives
        "R6": ["h"],  # unchanged but for a new record
        reused: ["gone"],  # retired: its one record is not in this run
    }
    clusters = {"x": ["a", "b"], "y": ["c"], "w": ["d", "e", "g"], "t": ["m", "n"], "v": ["h", "h2"], "q": ["q1"], "z": ["new1"]}
    ids, history = register(clusters, before)

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
