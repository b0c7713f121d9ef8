"""A parent's number on a child's record that states no birth date: the name decides, and nothing read from the number is used."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.spark

PARENT_ID = "330106199811212666"
SCHEMA = "record_key string, id_number string, id_status string, name string, name_pinyin string, birth_date date, gender string, flags string, repairs string"


def records(spark, *rows):
    return spark.createDataFrame(list(rows), SCHEMA)


def parent(key: str, name: str = "李敏颖") -> tuple:
    return (key, PARENT_ID, "valid", name, "li min ying", date(1998, 11, 21), "F", None, None)


def child(key: str, name: str) -> tuple:
    # No birth date or gender of its own: standardisation read both from the (parent's) number.
    return (key, PARENT_ID, "valid", name, "chen jing", date(1998, 11, 21), "F", None, "birth_date:from_id_number,gender:from_id_number")


def checks(frame) -> dict[str, bool]:
    from transforms.resolve.linking import with_id_checks

    return {row.record_key: row.id_conflicting for row in with_id_checks(frame).select("record_key", "id_conflicting").collect()}


def test_a_record_without_its_own_birth_date_whose_name_shares_nothing_with_the_numbers_holder_is_not_anchored_by_it(spark):
    frame = records(spark, parent("p1"), parent("p2"), child("c", "陈静"))
    assert checks(frame) == {"p1": False, "p2": False, "c": True}

    from transforms.resolve.linking import link_records

    links = {row.record_key: row for row in link_records(frame).collect()}
    assert links["p1"].anchor_value == links["p2"].anchor_value == PARENT_ID
    assert links["c"].anchor_value != PARENT_ID and links["c"].match_rule != "id_number"


def test_a_typo_or_a_shared_surname_keeps_the_number(spark):
    # 李敏英 is a slip of 李敏颖; 李静 may be a child too, but shares the surname: only other evidence could tell.
    frame = records(spark, parent("p1"), child("typo", "李敏英"), child("same_surname", "李静"))
    assert checks(frame) == {"p1": False, "typo": False, "same_surname": False}


def test_with_nobody_vouching_for_the_number_the_name_cannot_decide(spark):
    frame = records(spark, child("a", "陈静"), child("b", "王芳"))
    assert checks(frame) == {"a": False, "b": False}


def test_what_was_read_from_a_borrowed_number_is_not_compared(spark):
    from transforms.resolve.columns import comparison_columns
    from transforms.resolve.profile import load_profile

    frame = comparison_columns(records(spark, parent("p1"), child("c", "陈静")), load_profile())
    rows = {row.record_key: row for row in frame.select("record_key", "id_number", "birth_date", "gender").collect()}
    assert (rows["c"].id_number, rows["c"].birth_date, rows["c"].gender) == (None, None, None)
    assert (rows["p1"].id_number, rows["p1"].birth_date, rows["p1"].gender) == (PARENT_ID, date(1998, 11, 21), "F")


def test_a_golden_record_takes_nothing_from_a_borrowed_number(spark):
    from pyspark.sql import functions as F

    from transforms.resolve.survivorship import load_rules, person_candidates

    linked = records(spark, parent("p1"), child("c", "陈静")).withColumns({
        "resident_id": F.when(F.col("record_key") == "c", "R-CHILD").otherwise("R-PARENT"),
        "match_rule": F.when(F.col("record_key") == "c", "singleton").otherwise("id_number"),
        "source": F.lit("health"), "stream": F.lit("patients"), "source_updated_at": F.lit(None).cast("timestamp"),
        **{column: F.lit(None).cast("string") for column in ("ethnicity", "marital_status", "phone", "address", "admin_code", "death_date")},
    })
    candidates = person_candidates(linked, load_rules())
    attributes = {(row.resident_id, row.attribute) for row in candidates.collect()}
    assert {("R-PARENT", "id_number"), ("R-PARENT", "birth_date"), ("R-PARENT", "gender")} <= attributes
    assert {attribute for resident, attribute in attributes if resident == "R-CHILD"} == {"name"}
