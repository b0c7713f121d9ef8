"""The benchmark's plain Splink peer on a handful of hand-made records, in the shared Spark session."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.e2e]

COLUMNS = ("record_key", "id_number_raw", "name_raw", "birth_date_raw", "phone_raw", "gender_raw")
# Three people seen by several departments with light noise, plus clearly different people around them.
ROWS = [
    ("ps:1", "11010519491231002X", "张伟", "1949-12-31", "13800138000", "男"),
    ("ca:1", "11010519491231002x ", " 张伟", "19491231", "138 0013 8000", "男"),
    ("hl:1", "11010519491231002X", "张伟", "1949/12/31", "13800138000", "男"),
    ("ps:2", "440106198702150528", "李娜", "1987-02-15", "13912345678", "女"),
    ("hs:2", "440106198702150528", "李娜", "1987-02-15", "", "女"),
    ("ps:3", "310104200105206113", "王芳", "2001-05-20", "13700001111", "女"),
    ("hl:3", "310104200105206113", "王芳", "2001-05-20", "13700001111", "女"),
    ("ps:4", "510107196303033311", "陈静", "1963-03-03", "13622223333", "女"),
    ("ps:5", "320102197811114412", "刘洋", "1978-11-11", "13544445555", "男"),
    ("ps:6", "420111199507076618", "杨磊", "1995-07-07", "13366667777", "男"),
    ("ps:7", "610113198212129935", "赵强", "1982-12-12", "13288889999", "男"),
    ("ps:8", "370102196910101240", "黄敏", "1969-10-10", "13177778888", "女"),
]


def test_the_session_has_splinks_similarity_jar(spark):
    from splink.backends.spark import similarity_jar_location

    assert similarity_jar_location() in spark.conf.get("spark.jars", "")


def test_light_cleaning_keeps_raw_values_naive(spark):
    from benchmarks.resolution.plain_splink import light_clean

    cleaned = {row["record_key"]: row for row in light_clean(spark.createDataFrame(ROWS, list(COLUMNS))).collect()}
    assert cleaned["ca:1"]["id_number"] == "11010519491231002X"
    assert cleaned["ca:1"]["name"] == "张伟" and cleaned["ca:1"]["phone"] == "13800138000"
    assert cleaned["hl:1"]["birth_date"] == cleaned["ca:1"]["birth_date"] == "1949-12-31"
    assert cleaned["hs:2"]["phone"] is None


def test_plain_splink_links_obvious_duplicates_and_keeps_different_people_apart(spark):
    from benchmarks.resolution.plain_splink import Options, cluster_records

    # The same model and training steps; fewer EM iterations and sampling chunks, and in-memory lineage
    # breaks, are plenty for a dozen records and keep the test quick.
    quick = Options(max_iterations=3, u_chunks=1, break_lineage_method="persist")
    clusters = cluster_records(spark, spark.createDataFrame(ROWS, list(COLUMNS)), quick)
    assert set(clusters) == {row[0] for row in ROWS}
    assert clusters["ps:1"] == clusters["ca:1"] == clusters["hl:1"]
    assert clusters["ps:2"] == clusters["hs:2"]
    assert clusters["ps:3"] == clusters["hl:3"]
    people = {clusters[key] for key in ("ps:1", "ps:2", "ps:3", "ps:4", "ps:5", "ps:6", "ps:7", "ps:8")}
    assert len(people) == 8, "different people must stay in different clusters"
