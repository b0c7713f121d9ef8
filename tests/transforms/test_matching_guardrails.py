"""Clustering guardrails: never two ID numbers in one resident, chains go to review, twins stay apart."""

from __future__ import annotations

import pandas as pd

from transforms.resolve.guardrails import CHAIN, cluster

COLUMNS = ["record_key_l", "record_key_r", "id_anchor_l", "id_anchor_r", "cluster_key_l", "cluster_key_r", "match_probability", "evidence"]


def pair(left: str, right: str, probability: float, left_id: str | None = None, right_id: str | None = None) -> tuple:
    def key(record: str, id_number: str | None) -> str:
        return f"id_number:{id_number}" if id_number else f"record:{record}"
    return (left, right, left_id, right_id, key(left, left_id), key(right, right_id), probability, f'{{"p": {probability}}}')


def frame(*pairs: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(pairs), columns=COLUMNS)


def test_a_record_linking_to_two_id_anchors_joins_the_stronger_and_the_other_goes_to_review():
    result = cluster(frame(pair("a", "x1", 0.999, right_id="ID1"), pair("a", "y1", 0.97, right_id="ID2")), threshold=0.95)
    assert result.anchors["record:a"] == ("id_number", "ID1")
    assert result.anchors["id_number:ID2"] == ("id_number", "ID2")
    assert result.review == [("a", "y1", CHAIN, 0.97, '{"p": 0.97}')]
    assert result.links["a"] == (0.999, '{"p": 0.999}')


def test_a_chain_through_records_without_ids_never_merges_two_id_anchors():
    # b–c is the weakest link of ID1 – b – c – ID2: it is refused, so no cluster holds two numbers.
    result = cluster(frame(
        pair("b", "x1", 0.99, right_id="ID1"), pair("c", "y1", 0.99, right_id="ID2"), pair("b", "c", 0.96),
    ), threshold=0.95)
    assert result.anchors["record:b"] == ("id_number", "ID1")
    assert result.anchors["record:c"] == ("id_number", "ID2")
    assert [row[2] for row in result.review] == [CHAIN]


def test_twins_with_different_valid_ids_stay_two_residents():
    # An ID-less record of one twin scores high against both twins' records.
    result = cluster(frame(pair("t", "twin1", 0.98, right_id="ID_T1"), pair("t", "twin2", 0.96, right_id="ID_T2")), threshold=0.95)
    anchors = {result.anchors["id_number:ID_T1"], result.anchors["id_number:ID_T2"]}
    assert anchors == {("id_number", "ID_T1"), ("id_number", "ID_T2")}


def test_records_without_ids_cluster_under_their_smallest_key_and_weak_links_do_not_join():
    result = cluster(frame(pair("r2", "r1", 0.99), pair("r3", "r2", 0.97), pair("r4", "r1", 0.6)), threshold=0.95)
    assert {result.anchors[f"record:{k}"] for k in ("r1", "r2", "r3")} == {("record", "r1")}
    assert "record:r4" not in result.anchors
    assert result.review == []
