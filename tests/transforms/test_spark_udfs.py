"""The pandas UDFs give exactly what the pure functions give (one implementation)."""

from __future__ import annotations

from datetime import date

import pytest

from transforms.standardise.id_number import standardise_id_number
from transforms.standardise.names import standardise_name
from transforms.standardise.person import RAW_FIELDS, standardise_person
from transforms_rawdata import make_id

pytestmark = pytest.mark.spark

MALE = make_id("110101", "19900307", "013")
ROWS = [
    (MALE, "张三", "1", "19900307", "+86 13800138000", "北京市东城区1号", "汉", "20", None, "2024-01-01T00:00:00Z"),
    (MALE.lower()[:6] + MALE[8:17], "張學友", "male", "1990-02-30", "87654321", None, None, None, "2024-01-01", "bad"),
    ("1.10101E+17", None, None, None, None, "某某路", "穿青人", "同居", "2024-13-01", None),
    (None, None, None, None, None, None, None, None, None, None),
]


def test_person_udf_equals_the_pure_function(spark):
    from pyspark.sql import functions as F

    from transforms.standardise.udfs import standardise_person_struct

    frame = spark.createDataFrame(ROWS, ", ".join(f"{name} string" for name in RAW_FIELDS))
    out = frame.select(standardise_person_struct({n: F.col(n) for n in RAW_FIELDS}).alias("s")).select("s.*").collect()
    assert [row.asDict() for row in out] == [standardise_person(dict(zip(RAW_FIELDS, raw))) for raw in ROWS]


def test_domain_udfs_equal_the_pure_functions(spark):
    from pyspark.sql import functions as F

    from transforms.standardise.udfs import id_number_udf, name_udf, parse_date_udf

    values = [MALE, MALE.lower(), "110101900307013", "abc", None, "張三", "19900307", "1990-02-30"]
    frame = spark.createDataFrame([(v,) for v in values], "v string")
    rows = frame.select(id_number_udf("v").alias("i"), name_udf("v").alias("n"), parse_date_udf("v").alias("d")).collect()
    for value, row in zip(values, rows):
        ident, name = standardise_id_number(value), standardise_name(value)
        assert tuple(row["i"]) == (ident.id_number, ident.status, ",".join(ident.repairs) or None)
        assert tuple(row["n"]) == (name.name, name.status, name.pinyin, name.initials)
    assert [r["d"] for r in rows][6:] == [date(1990, 3, 7), None]
