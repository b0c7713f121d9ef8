"""Each Chinese-aware comparison level, evaluated by Spark SQL exactly as Splink evaluates it."""

from __future__ import annotations

import datetime as dt

import pytest

from transforms.resolve.comparisons import comparison
from transforms.resolve.profile import ComparisonSpec

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def levels_of(spark):
    """A function: (comparison kind, column, [(left, right)]) → per pair the label of the first level that holds, in one query."""
    from splink import SparkAPI

    SparkAPI(spark_session=spark)  # registers Splink's similarity functions (jaro_winkler) in the session

    def levels(kind: str, column: str, pairs: list[tuple[dict, dict]]) -> list[str]:
        spec = comparison(ComparisonSpec(kind=kind, column=column))["comparison_levels"]
        cases = " ".join(f"WHEN {lvl['sql_condition']} THEN '{lvl['label_for_charts']}'" for lvl in spec if lvl["sql_condition"] != "ELSE")
        names = list(pairs[0][0])
        kinds = {name: "date" if name == "birth_date" else "string" for name in names}
        schema = ", ".join(["i int"] + [f"{n}_{side} {kinds[n]}" for side in "lr" for n in names])
        rows = [(i, *(left[n] for n in names), *(right[n] for n in names)) for i, (left, right) in enumerate(pairs)]
        frame = spark.createDataFrame(rows, schema)
        return [row["level"] for row in frame.selectExpr("i", f"CASE {cases} ELSE 'else' END AS level").orderBy("i").collect()]
    return levels


def name(raw: str, simplified: str, pinyin: str) -> dict:
    return {"name": simplified, "name_raw_clean": raw, "name_pinyin": pinyin, "given_name": simplified[1:], "surname": simplified[:1]}


NAME_CASES = [
    (name("张伟", "张伟", "zhang wei"), name("张伟", "张伟", "zhang wei"), "exact name"),
    (name("張偉", "张伟", "zhang wei"), name("张伟", "张伟", "zhang wei"), "same simplified form"),
    (name("张玮", "张玮", "zhang wei"), name("张伟", "张伟", "zhang wei"), "same pinyin (homophone)"),
    (name("张伟华", "张伟华", "zhang weihua"), name("张伟桦", "张伟桦", "zhang weihuan"), "pinyin Jaro-Winkler >= 0.9"),
    (name("李秀英", "李秀英", "li xiuying"), name("王秀英", "王秀英", "wang xiuying"), "given name only"),
    (name("李秀英", "李秀英", "li xiuying"), name("王建国", "王建国", "wang jianguo"), "else"),
]


def test_chinese_name_levels(levels_of):
    assert levels_of("chinese_name", "name", [(l, r) for l, r, _ in NAME_CASES]) == [e for _, _, e in NAME_CASES]


ID = "11010519491231002X"


ID_CASES = [
    (ID, "exact"),
    ("11010519491231003X", "one digit or transposition in first 17"),
    ("11010519491231020X", "one digit or transposition in first 17"),
    ("110105194912319999", "same first 14"),
    ("320105198001010011", "else"),
    (None, "null"),
]


def test_id_number_levels(levels_of):
    pairs = [({"id_number": ID}, {"id_number": other}) for other, _ in ID_CASES]
    assert levels_of("id_number", "id_number", pairs) == [e for _, e in ID_CASES]


DATE_CASES = [
    (dt.date(1980, 3, 7), "exact"), (dt.date(1980, 7, 3), "day-month swap"),
    (dt.date(1980, 3, 8), "one day apart"), (dt.date(1981, 3, 7), "else"),
]


def test_birth_date_levels(levels_of):
    pairs = [({"birth_date": dt.date(1980, 3, 7)}, {"birth_date": other}) for other, _ in DATE_CASES]
    assert levels_of("birth_date", "birth_date", pairs) == [e for _, e in DATE_CASES]


def test_exact_and_latin_name_levels(levels_of):
    phone = {"phone": "13800000000"}
    assert levels_of("exact", "phone", [(phone, phone), (phone, {"phone": "13900000000"})]) == ["exact", "else"]
    smith = {"name": "john smith", "surname": "smith"}
    pairs = [(smith, {"name": "jon smith", "surname": "smith"}), (smith, {"name": "mary smith", "surname": "smith"})]
    assert levels_of("latin_name", "name", pairs) == ["Jaro-Winkler >= 0.92", "same surname"]
