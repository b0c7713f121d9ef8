"""Pairwise and B-cubed accuracy and the hard-case counts, on examples small enough to compute by hand."""

from __future__ import annotations

import json

import pytest

from transforms.resolve.evaluation import evaluate, load_truth

# Truth: person p1 has records a, b, c; p2 has d, e; p3 has f (true pairs: 3 + 1 + 0 = 4).
TRUTH = {"a": "p1", "b": "p1", "c": "p1", "d": "p2", "e": "p2", "f": "p3"}


def test_a_perfect_resolution_scores_one_everywhere():
    acc = evaluate({k: f"c-{v}" for k, v in TRUTH.items()}, TRUTH)
    assert (acc.true_positive_pairs, acc.predicted_pairs, acc.true_pairs) == (4, 4, 4)
    assert acc.pairwise_precision == acc.pairwise_recall == acc.pairwise_f1 == 1.0
    assert acc.bcubed_precision == acc.bcubed_recall == acc.bcubed_f1 == 1.0
    assert (acc.records, acc.predicted_clusters, acc.true_persons) == (6, 3, 3)


def test_all_singletons_are_precise_but_find_no_pair():
    acc = evaluate({k: k for k in TRUTH}, TRUTH)
    assert (acc.true_positive_pairs, acc.predicted_pairs, acc.true_pairs) == (0, 0, 4)
    assert acc.pairwise_precision == 1.0 and acc.pairwise_recall == 0.0 and acc.pairwise_f1 == 0.0
    # B-cubed recall: a, b, c see 1/3 each, d, e 1/2 each, f 1/1 -> (1 + 1 + 1) / 6.
    assert acc.bcubed_precision == 1.0
    assert acc.bcubed_recall == pytest.approx(0.5)
    assert acc.bcubed_f1 == pytest.approx(2 * 0.5 / 1.5)


def test_merging_everything_finds_every_pair_but_is_imprecise():
    acc = evaluate({k: "one" for k in TRUTH}, TRUTH)
    assert (acc.true_positive_pairs, acc.predicted_pairs, acc.true_pairs) == (4, 15, 4)
    assert acc.pairwise_precision == pytest.approx(4 / 15) and acc.pairwise_recall == 1.0
    assert acc.pairwise_f1 == pytest.approx(2 * (4 / 15) / (4 / 15 + 1))
    # B-cubed precision: a, b, c see 3/6, d, e 2/6, f 1/6 -> (9 + 4 + 1) / 36.
    assert acc.bcubed_precision == pytest.approx(14 / 36) and acc.bcubed_recall == 1.0


def test_a_mixed_resolution_by_the_contingency_table():
    # Clusters: {a, b} (p1), {c, d} (p1 + p2), {e, f} (p2 + p3).
    predicted = {"a": "x", "b": "x", "c": "y", "d": "y", "e": "z", "f": "z"}
    acc = evaluate(predicted, TRUTH)
    assert (acc.true_positive_pairs, acc.predicted_pairs, acc.true_pairs) == (1, 3, 4)
    assert acc.pairwise_precision == pytest.approx(1 / 3) and acc.pairwise_recall == pytest.approx(1 / 4)
    assert acc.pairwise_f1 == pytest.approx(2 / 7)
    # Precision per record: a, b 1; c, d, e, f 1/2 -> 4 / 6. Recall: a, b 2/3; c 1/3; d, e 1/2; f 1 -> (2/3+2/3+1/3+1/2+1/2+1) / 6.
    assert acc.bcubed_precision == pytest.approx(4 / 6)
    assert acc.bcubed_recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 0.5 + 0.5 + 1) / 6)


def test_records_missing_from_either_side_are_left_out():
    predicted = {"a": "x", "b": "x", "quarantined-nowhere": "x"}
    acc = evaluate(predicted, TRUTH)
    assert acc.records == 2 and acc.true_pairs == 1 and acc.pairwise_f1 == 1.0


def test_nothing_to_score_is_neither_right_nor_wrong_and_does_not_fail():
    acc = evaluate({}, TRUTH, {"twins": [], "parent_id_on_child": []})
    assert acc.records == 0 and acc.pairwise_f1 == 1.0 and acc.bcubed_f1 == 1.0
    assert (acc.twins_merged, acc.twins_total, acc.parent_id_on_child_merged, acc.parent_id_on_child_total) == (0, 0, 0, 0)


CASES = {
    # p1 and p2 are twins; so are p3 and p4 (p4 has no resolved record, so that pair is not judged).
    "twins": [{"person_ids": ["p1", "p2"], "record_keys": ["a", "d"]}, {"person_ids": ["p3", "p4"], "record_keys": ["f"]}],
    # Child p3's record f carries the number of parent p1.
    "parent_id_on_child": [{"person_ids": ["p3"], "parent_person_id": "p1", "field": "id_number", "record_keys": ["f"]}],
}


def test_twins_and_a_parents_number_on_a_child_kept_apart_count_zero():
    acc = evaluate({k: f"c-{v}" for k, v in TRUTH.items()}, TRUTH, CASES)
    assert (acc.twins_merged, acc.twins_total) == (0, 1)
    assert (acc.parent_id_on_child_merged, acc.parent_id_on_child_total) == (0, 1)


def test_any_record_of_one_twin_in_the_others_cluster_counts_as_merged():
    # Only b (p1, not listed in the case's record keys) lands with p2's records.
    predicted = {"a": "x", "b": "y", "c": "x", "d": "y", "e": "y", "f": "w"}
    acc = evaluate(predicted, TRUTH, CASES)
    assert (acc.twins_merged, acc.twins_total) == (1, 1)
    assert acc.parent_id_on_child_merged == 0


def test_a_childs_record_in_any_parent_cluster_counts_as_merged():
    predicted = {"a": "x", "b": "x", "c": "y", "d": "z", "e": "z", "f": "y"}
    acc = evaluate(predicted, TRUTH, CASES)
    assert (acc.parent_id_on_child_merged, acc.parent_id_on_child_total) == (1, 1)
    assert acc.twins_merged == 0


def test_truth_files_are_read_as_the_simulator_writes_them(tmp_path):
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "records.csv").write_text(
        "source,stream,source_record_id,record_key,person_id\nhealth,patients,007,health:patients:007,P000001\n", encoding="utf-8")
    (tmp_path / "truth" / "cases.json").write_text(json.dumps(CASES), encoding="utf-8")
    truth, cases = load_truth(tmp_path)
    assert truth == {"health:patients:007": "P000001"}  # leading zeros kept: ids are strings
    assert cases["twins"][0]["person_ids"] == ["p1", "p2"]
