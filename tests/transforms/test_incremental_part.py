"""The part an incremental run matches again: whole residents, every record of an ID number, the neighbours of records without an anchor."""

from __future__ import annotations

import pyarrow as pa

from transforms.resolve.incremental import Neighbourhood, closed_part, may_link, sharing_a_number

# Live-run residents A {a1 a2}, B {b1}, C {c1 c2}, D {d1}, E {e1}; c1 has no ID anchor.
XREF = pa.table({"record_key": ["a1", "a2", "b1", "c1", "c2", "d1", "e1"], "resident_id": ["A", "A", "B", "C", "C", "D", "E"]})
# a2 and e1 carry one number (e1's a parent's, say: another resident).
PERSONS = pa.table({"record_key": ["a1", "a2", "b1", "c1", "c2", "d1", "e1"], "id_number": ["N1", "N2", "N3", None, "N4", "N5", "N2"]})
# a1 and b1 share a blocking key (k1), c1 and d1 another (k2).
KEYS = pa.table({"record_key": ["a1", "b1", "c1", "d1", "c2"], "key": pa.array([1, 1, 2, 2, 3], pa.int64())})
FREE = pa.array(["c1"])
NOTHING_NEW = pa.table({"record_key": pa.array([], pa.string()), "key": pa.array([], pa.int64())})
NEIGHBOURHOOD = Neighbourhood.of(KEYS, NOTHING_NEW, FREE)


def part(*start: str) -> tuple[list[str], list[str]]:
    records, residents = closed_part(pa.array(list(start)), PERSONS, XREF, NEIGHBOURHOOD, FREE)
    return sorted(records.to_pylist()), sorted(residents.to_pylist())


def test_a_resident_comes_whole_with_every_record_sharing_an_id_number():
    # b1 shares a key with a1, but two anchored records are never scored against each other: B stays out
    assert part("a1") == (["a1", "a2", "e1"], ["A", "E"])


def test_a_record_without_an_anchor_brings_the_residents_it_shares_a_key_with():
    assert part("c2") == (["c1", "c2", "d1"], ["C", "D"])


def test_a_gone_record_brings_its_resident_but_is_not_matched():
    records, residents = closed_part(pa.array(["gone", "b1"]), PERSONS, pa.concat_tables([XREF, pa.table({"record_key": ["gone"], "resident_id": ["B"]})]),
                                     NEIGHBOURHOOD, FREE)
    assert sorted(records.to_pylist()) == ["b1"] and residents.to_pylist() == ["B"]


def test_holders_and_number_sharing():
    neighbourhood = Neighbourhood.of(KEYS, pa.table({"record_key": ["a1"], "key": pa.array([2], pa.int64())}), pa.array(["a1"]))
    assert sorted(neighbourhood.holders(pa.array(["a1"])).to_pylist()) == ["a1", "b1", "c1", "d1"], "a1's old key and its new one"
    assert neighbourhood.holders(pa.array(["a1"]), among=FREE).to_pylist() == ["c1"]
    assert sorted(sharing_a_number(PERSONS, pa.array(["e1"])).to_pylist()) == ["a2", "e1"]


def test_a_record_without_an_anchor_brings_only_the_holders_it_may_link_to():
    # c1 and d1 share a blocking key (k2) but no link key: the profile refuses their pair whatever it scores, so D stays out
    links = pa.table({"record_key": ["c1", "c2", "d1"], "key": pa.array([7, 7, 8], pa.int64())})
    neighbourhood = Neighbourhood.of(KEYS, NOTHING_NEW, FREE, links)
    records, residents = closed_part(pa.array(["c2"]), PERSONS, XREF, neighbourhood, FREE)
    assert (sorted(records.to_pylist()), sorted(residents.to_pylist())) == (["c1", "c2"], ["C"])
    agreeing = pa.table({"record_key": ["c1", "d1"], "key": pa.array([7, 7], pa.int64())})
    records, residents = closed_part(pa.array(["c2"]), PERSONS, XREF, Neighbourhood.of(KEYS, NOTHING_NEW, FREE, agreeing), FREE)
    assert (sorted(records.to_pylist()), sorted(residents.to_pylist())) == (["c1", "c2", "d1"], ["C", "D"])


def test_a_holder_counts_only_through_a_blocking_key_and_a_link_key_it_shares_with_the_same_record():
    own = pa.table({"record_key": ["x", "y"], "key": pa.array([1, 2], pa.int64())})
    holding = pa.table({"record_key": ["h", "g"], "key": pa.array([1, 2], pa.int64())})
    links = pa.table({"record_key": ["x", "y", "h", "g"], "key": pa.array([10, 20, 20, 20], pa.int64())})
    # h shares a blocking key with x and a link key with y only; g both with y
    assert may_link(own, holding, links).to_pylist() == ["g"]
