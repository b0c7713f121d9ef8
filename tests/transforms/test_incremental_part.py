"""The part an incremental run matches again: whole residents, every record of an ID number or of a name window, every record a
weighed pair reaches, and the holders of the keys of the records whose own pairs may differ (the pairs they form, which Splink
scores: test_incremental.py)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from transforms.resolve.incremental import (
    Changes, Neighbourhood, Reach, checked_records, closed_part, may_link, name_windows, unsettled_records,
)

# Live-run residents A {a1 a2}, B {b1}, C {c1 c2}, D {d1}, E {e1}; c1 and d1 are not anchored by a number of their own.
XREF = pa.table({"record_key": ["a1", "a2", "b1", "c1", "c2", "d1", "e1"], "resident_id": ["A", "A", "B", "C", "C", "D", "E"],
                 "match_rule": ["id_number", "id_number", "id_number", "probabilistic", "id_number", "name_birth_date", "id_number"]})
BORN = dt.date(1990, 1, 2)
# a2 and e1 carry one number (e1's a parent's, say: another resident); c1 and d1 share a name and birth date, b1 another name.
PERSONS = pa.table({"record_key": ["a1", "a2", "b1", "c1", "c2", "d1", "e1"], "id_number": ["N1", "N2", "N3", None, "N4", "N5", "N2"],
                    "name": ["甲", "甲", "丙", "丁", "丁", "丁", "戊"], "name_pinyin": ["jia", "jia", "bing", "ding", "ding", "ding", "wu"],
                    "birth_date": [BORN, BORN, BORN, BORN, None, BORN, BORN]})
NO_PAIRS = pa.table({"record_key_l": pa.array([], pa.string()), "record_key_r": pa.array([], pa.string())})
# a1 and b1 share a blocking key (k1), c1 and d1 another (k2).
KEYS = pa.table({"record_key": ["a1", "b1", "c1", "d1", "c2"], "key": pa.array([1, 1, 2, 2, 3], pa.int64())})
NOTHING_NEW = pa.table({"record_key": pa.array([], pa.string()), "key": pa.array([], pa.int64())})


def part(*start: str, pairs: pa.Table = NO_PAIRS, persons: pa.Table = PERSONS) -> tuple[list[str], list[str]]:
    records, residents = closed_part(pa.array(list(start)), Reach.of(persons, XREF, pairs))
    return sorted(records.to_pylist()), sorted(residents.to_pylist())


def test_a_resident_comes_whole_with_every_record_sharing_an_id_number():
    # b1 shares a key with a1 but no weighed pair: B stays out
    assert part("a1") == (["a1", "a2", "e1"], ["A", "E"])


def test_a_weighed_pair_brings_the_other_record_and_its_resident():
    pairs = pa.table({"record_key_l": ["b1"], "record_key_r": ["c1"]})
    assert part("c2", pairs=pairs) == (["b1", "c1", "c2", "d1"], ["B", "C", "D"])
    assert part("b1", pairs=pairs) == (["b1", "c1", "c2", "d1"], ["B", "C", "D"]), "from either side"


def test_a_record_its_own_number_does_not_anchor_brings_its_name_window():
    # c1 (no number of its own) shares 丁 and a birth date with d1: the deterministic pass looks at both
    assert part("c2") == (["c1", "c2", "d1"], ["C", "D"])
    # a1 is anchored by its own number: a2 and e1 come through the resident and the number, b1 (丙) shares only the birth date
    assert part("a1")[0] == ["a1", "a2", "e1"]


def test_a_gone_record_brings_its_resident_but_is_not_matched():
    records, residents = closed_part(pa.array(["gone", "b1"]),
                                     Reach.of(PERSONS, pa.concat_tables([XREF, pa.table({"record_key": ["gone"], "resident_id": ["B"],
                                                                                         "match_rule": ["id_number"]})]), NO_PAIRS))
    assert sorted(records.to_pylist()) == ["b1", "gone"] and residents.to_pylist() == ["B"]


def test_name_windows_need_both_values():
    windows = name_windows(PERSONS)
    assert sorted(windows.filter(pa.compute.equal(windows["record_key"], "c2"))["window"].to_pylist()) == [], "c2 has no birth date"
    assert len(set(windows.filter(pa.compute.is_in(windows["record_key"], pa.array(["c1", "d1"])))["window"].to_pylist())) == 2


def unsettled(current: pa.Table, before: pa.Table, changed: list[str], steady: list[str] = ()) -> tuple[list[str], list[str]]:
    changes = Changes.of(current, before)
    assert sorted(changes.keys.to_pylist()) == sorted(changed)
    checked = checked_records(current, changes)
    found = unsettled_records(changes, checked, pa.array(list(steady), pa.string()), Reach.of(current, XREF, NO_PAIRS))
    return sorted(checked.to_pylist()), sorted(found.to_pylist())


def test_records_are_checked_again_when_they_share_a_number_now_or_before_with_a_changed_one():
    before = PERSONS.set_column(1, "id_number", pa.array(["N1", "N2", "N3", None, "N4", "N5", "N3"]))  # e1 held b1's number before
    assert unsettled(PERSONS, before, ["e1"]) == (["a2", "b1", "e1"], ["a2", "b1", "e1"]), "the numbers it holds now and held before"
    # a2 and b1 are anchored by their own numbers before and now: their checks came out as before, and their pairs are the live run's
    assert unsettled(PERSONS, before, ["e1"], steady=["a2", "b1"]) == (["a2", "b1", "e1"], ["e1"])


def test_a_record_without_an_anchor_of_its_own_is_unsettled_by_a_change_in_its_name_window():
    renamed = PERSONS.set_column(PERSONS.schema.get_field_index("name"), "name", pa.array(["甲", "甲", "丙", "丁", "丁", "乙", "戊"]))
    # c1 renamed? no: d1 (linked by name and birth date) is renamed, so c1 (no number, 丁) may link otherwise; c2 has no birth date
    assert unsettled(renamed, PERSONS, ["d1"], steady=[])[1] == ["c1", "d1"]
    # a1 shares 甲 and a birth date with a2, but its own number anchors it: the window does not link it
    renumbered = PERSONS.set_column(1, "id_number", pa.array(["N1", "N9", "N3", None, "N4", "N5", "N2"]))
    assert unsettled(renumbered, PERSONS, ["a2"])[1] == ["a2", "e1"]


def test_a_change_the_id_checks_and_the_deterministic_pass_do_not_read_unsettles_only_the_record():
    phones = pa.array(["1", "2", "3", "4", "5", "6", "7"])
    before, now = PERSONS.append_column("phone", phones), PERSONS.append_column("phone", pa.array(["1", "9", "3", "4", "5", "6", "7"]))
    assert unsettled(now, before, ["a2"]) == (["a2"], ["a2"]), "its phone: e1 (its number) and a1 (its window) are as they were"


def holders(pairs: pa.Table) -> list[str]:
    return sorted(set(pairs["holder"].to_pylist()))


def test_holders_of_old_and_new_keys():
    neighbourhood = Neighbourhood.of(KEYS, pa.table({"record_key": ["c2"], "key": pa.array([2], pa.int64())}), pa.array(["a1"]))
    assert holders(neighbourhood.pairs(pa.array(["a1"]))) == ["a1", "b1"], "an unchanged record's kept key"
    assert holders(neighbourhood.pairs(pa.array(["c2"]))) == ["c1", "c2", "d1"], "a changed record's key now"
    assert neighbourhood.pairs(pa.array(["a1"]), among=pa.array(["c1", "b1"])).to_pylist() == [{"record": "a1", "holder": "b1"}]


def test_a_record_brings_only_the_holders_it_may_link_to():
    # c1 and d1 share a blocking key (k2) but no link key: the profile refuses their pair whatever it scores
    links = pa.table({"record_key": ["c1", "c2", "d1"], "key": pa.array([7, 7, 8], pa.int64())})
    assert holders(Neighbourhood.of(KEYS, NOTHING_NEW, pa.array(["c1"]), links).pairs(pa.array(["c1"]))) == ["c1"]
    agreeing = pa.table({"record_key": ["c1", "d1"], "key": pa.array([7, 7], pa.int64())})
    assert holders(Neighbourhood.of(KEYS, NOTHING_NEW, pa.array(["c1"]), agreeing).pairs(pa.array(["c1"]))) == ["c1", "d1"]


def test_a_holder_counts_only_through_a_blocking_key_and_a_link_key_it_shares_with_the_same_record():
    own = pa.table({"record_key": ["x", "y"], "key": pa.array([1, 2], pa.int64())})
    holding = pa.table({"record_key": ["h", "g"], "key": pa.array([1, 2], pa.int64())})
    links = pa.table({"record_key": ["x", "y", "h", "g"], "key": pa.array([10, 20, 20, 20], pa.int64())})
    # h shares a blocking key with x and a link key with y only; g both with y
    assert may_link(own, holding, links).to_pylist() == [{"record": "y", "holder": "g"}]
    assert sorted(may_link(own, holding, None)["holder"].to_pylist()) == ["g", "h"], "a profile letting any pair link: every holder"
