"""Clustering guardrails: never two ID numbers in one resident, chains and ambiguity go to review, twins stay apart."""

from __future__ import annotations

import math

import pandas as pd

from transforms.resolve.guardrails import AMBIGUOUS, CHAIN, POSSIBLE_MATCH, cluster, compatible

COLUMNS = ["record_key_l", "record_key_r", "id_anchor_l", "id_anchor_r", "id_guard_l", "id_guard_r", "cluster_key_l", "cluster_key_r",
           "match_probability", "match_weight", "allowed", "evidence"]
PRIOR = -20.0  # the prior's match weight: a pair's weight is its comparisons' sum plus this


def pair(left: str, right: str, probability: float, left_id: str | None = None, right_id: str | None = None,
         allowed: bool = True, left_guard: str | None = None, right_guard: str | None = None) -> tuple:
    """A scored pair; `*_id` anchors the record's cluster on that number, `*_guard` is a zeroed-tail number it carries."""
    def key(record: str, id_number: str | None) -> str:
        return f"id_number:{id_number}" if id_number else f"record:{record}"
    weight = math.log2(probability / (1 - probability)) if probability < 1 else 60.0
    return (left, right, left_id, right_id, left_id or left_guard, right_id or right_guard, key(left, left_id), key(right, right_id),
            probability, weight, allowed, f'{{"p": {probability}}}')


def frame(*pairs: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(pairs), columns=COLUMNS)


def test_a_record_linking_to_two_id_anchors_joins_the_clearly_stronger_and_the_other_goes_to_review():
    result = cluster(frame(pair("a", "x1", 0.99999, right_id="ID1"), pair("a", "y1", 0.97, right_id="ID2")), threshold=0.95)
    assert result.anchors["record:a"] == ("id_number", "ID1")
    assert result.anchors["id_number:ID2"] == ("id_number", "ID2")
    assert result.review == [("a", "y1", CHAIN, 0.97, '{"p": 0.97}')]
    assert result.links["a"] == (0.99999, '{"p": 0.99999}')


def test_a_record_about_as_close_to_two_residents_joins_neither_and_is_reviewed_as_ambiguous():
    # A father and son of one name at one address: the son's and the father's records score alike.
    result = cluster(frame(pair("f", "son", 0.9999, right_id="ID_SON"), pair("f", "father", 0.9998, right_id="ID_FATHER")), threshold=0.95)
    assert "record:f" not in result.anchors and "f" not in result.links
    assert [(row[0], row[1], row[2]) for row in result.review] == [("f", "son", AMBIGUOUS), ("f", "father", AMBIGUOUS)]


def test_a_chain_through_records_without_ids_never_merges_two_id_anchors():
    # b–c is the weakest link of ID1 – b – c – ID2: it is refused, so no cluster holds two numbers.
    result = cluster(frame(
        pair("b", "x1", 0.99, right_id="ID1"), pair("c", "y1", 0.99, right_id="ID2"), pair("b", "c", 0.96),
    ), threshold=0.95)
    assert result.anchors["record:b"] == ("id_number", "ID1")
    assert result.anchors["record:c"] == ("id_number", "ID2")
    assert [row[2] for row in result.review] == [CHAIN]


def test_twins_with_different_valid_ids_stay_two_residents():
    # An ID-less record of one twin scores high against both twins' records: too close to call, so it joins neither.
    result = cluster(frame(pair("t", "twin1", 0.98, right_id="ID_T1"), pair("t", "twin2", 0.96, right_id="ID_T2")), threshold=0.95)
    assert result.anchors == {}  # every cluster keeps the anchor it had
    assert [row[:3] for row in result.review] == [("t", "twin1", AMBIGUOUS), ("t", "twin2", AMBIGUOUS)]


def test_a_pair_the_link_requirements_refuse_never_links_whatever_its_probability():
    # A newborn's record and its mother's share phone, address and birth data of the household, not a name.
    result = cluster(frame(pair("baby", "mother", 0.999999, right_id="ID_M", allowed=False)), threshold=0.95)
    assert "record:baby" not in result.anchors and result.links == {}


def test_records_without_ids_cluster_under_their_smallest_key_and_weak_links_are_reviewed():
    result = cluster(frame(pair("r2", "r1", 0.99), pair("r3", "r2", 0.97), pair("r4", "r1", 0.6), pair("r5", "r1", 0.9, allowed=False)),
                     threshold=0.95)
    assert {result.anchors[f"record:{k}"] for k in ("r1", "r2", "r3")} == {("record", "r1")}
    assert "record:r4" not in result.anchors
    # r5's pair fails the link requirements (another name and number), so it is no review item.
    assert result.review == [("r4", "r1", POSSIBLE_MATCH, 0.6, '{"p": 0.6}')]


def test_a_zeroed_tail_number_joins_the_resident_whose_number_it_could_be_but_not_another():
    zero = "330110199410282000"  # 330110199410282721 after a spreadsheet zeroed its last three digits
    assert compatible(zero, "330110199410282721") and not compatible(zero, "330106198001010011")
    assert not compatible("330110199410282721", "330110199410282713")  # twins share the first 15, not the number
    result = cluster(frame(
        pair("z", "own", 0.999, left_guard=zero, right_id="330110199410282721"),
        pair("z", "other", 0.99, left_guard=zero, right_id="330106198001010011"),
    ), threshold=0.95)
    assert result.anchors["record:z"] == ("id_number", "330110199410282721")
    assert [row[:3] for row in result.review] == [("z", "other", CHAIN)]
