"""Candidate pairs (free records' rule keys joined with everyone's, Splink's blocking semantics) and survivorship's choice of one winner per attribute."""

from __future__ import annotations

from datetime import datetime

import pytest

from transforms.resolve import probabilistic
from transforms.resolve.probabilistic import candidate_pairs, pair_keys, rule_keys
from transforms.resolve.survivorship import CANDIDATE_SCHEMA, choose

pytestmark = pytest.mark.spark

FRAME = "record_key string, id_anchor string, cluster_key string, a string, b string"


@pytest.fixture(params=["broadcast", "shuffled"])
def join_strategy(request, spark, monkeypatch):
    """Candidate pairs' join with few free records (their keys broadcast) or many (both sides shuffled, Spark not broadcasting either)."""
    if request.param == "broadcast":
        yield request.param
        return
    monkeypatch.setattr(probabilistic, "BROADCAST_FREE_KEYS", 0)
    previous = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    try:
        yield request.param
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", previous)


def test_each_pair_comes_once_with_its_first_rule_and_only_when_worth_scoring(spark, join_strategy):
    frame = spark.createDataFrame([
        ("r1", None, "record:r1", "1", "x"), ("r2", None, "record:r2", "1", "x"),  # both rules: the first counts
        ("r3", None, "record:r3", None, "y"), ("r4", None, "record:r4", "2", "y"),  # the second rule only
        ("r5", "A", "id:A", "3", None), ("r6", "B", "id:B", "3", None),  # both anchored by a number: not scored
        ("r7", None, "record:r7", "4", None), ("r8", None, "record:r7", "4", None),  # one cluster already
        ("r9", "C", "id:C", "5", None), ("r10", None, "record:r10", "5", None),  # one side open
        ("r11", None, "record:r11", "6", None),  # nobody shares its key
    ], FRAME)
    pairs = {(row.join_key_l, row.join_key_r): row.match_key for row in candidate_pairs(pair_keys(frame, [["a"], ["b"]])).collect()}
    assert pairs == {("r1", "r2"): "0", ("r3", "r4"): "1", ("r10", "r9"): "0"}


def test_rule_keys_differ_by_rule_even_for_the_same_values(spark):
    frame = spark.createDataFrame([("r1", None, "record:r1", "1", "1")], FRAME)
    keys = rule_keys(frame, [["a"], ["b"], ["a", "b"]]).collect()
    assert [row.rule for row in keys] == [0, 1, 2] and len({row.key for row in keys}) == 3


def candidate(resident, attribute, value, record_key, updated_at=None, rank=1000, source="health"):
    stamp = datetime.fromisoformat(updated_at) if updated_at else None
    return (resident, attribute, value, None, record_key, source, "patients", stamp, rank)


def test_one_winner_per_resident_and_attribute_with_the_rule_that_decided_it(spark):
    rows = [
        # authority before recency
        candidate("A", "name", "张三", "ps:1", rank=0, source="public_security"),
        candidate("A", "name", "张叁", "h:1", "2026-05-01"),
        # the most recent value
        candidate("A", "phone", "111", "h:2", "2025-01-01"), candidate("A", "phone", "111", "h:3", "2025-02-01"),
        candidate("A", "phone", "222", "h:4", "2026-01-01"),
        # no dates: the most frequent value, counted within the resident only
        candidate("A", "ethnicity", "回", "h:5"), candidate("A", "ethnicity", "汉", "h:6"), candidate("A", "ethnicity", "汉", "h:7"),
        candidate("B", "ethnicity", "回", "h:8"), candidate("B", "ethnicity", "回", "h:9"), candidate("B", "ethnicity", "汉", "h:10"),
        # the same newest date twice: not decided by recency, the more frequent value wins
        candidate("B", "phone", "333", "h:11", "2026-03-01"), candidate("B", "phone", "444", "h:12", "2026-03-01"),
        candidate("B", "phone", "444", "h:13", "2025-03-01"),
        # a newer candidate without a value (death evidence with no readable date) never beats a value
        candidate("B", "death_date", None, "h:14", "2026-06-01"), candidate("B", "death_date", "2026-04-02", "h:15", "2026-04-03"),
    ]
    winners = {(row.resident_id, row.attribute): (row.value, row.record_key, row.rule)
               for row in choose(spark.createDataFrame(rows, CANDIDATE_SCHEMA)).collect()}
    assert winners == {
        ("A", "name"): ("张三", "ps:1", "authority"),
        ("A", "phone"): ("222", "h:4", "most_recent"),
        ("A", "ethnicity"): ("汉", "h:6", "most_frequent"),
        ("B", "ethnicity"): ("回", "h:8", "most_frequent"),
        ("B", "phone"): ("444", "h:12", "most_frequent"),
        ("B", "death_date"): ("2026-04-02", "h:15", "most_frequent"),  # not newer than the evidence it beat
    }
