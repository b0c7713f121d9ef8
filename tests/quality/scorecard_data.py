"""A hand-built run for the scorecard: departments whose every dimension is known exactly.

Department `a` (stream s1 maps all six person fields) and `b` (stream s2 maps ID number, name and
address); `c` records items (stream s3, one person may own several), `d` is a register (s4). The canonical fields come from the real standardiser, so flags and statuses are the
pipeline's own. The expected numbers are worked out by hand in tests/quality/test_scorecard.py.
"""

from __future__ import annotations

from datetime import date, datetime

from simulators.idnumber import make_id_number
from transforms.standardise.person import standardise_person

MALE_ID = make_id_number("110101", date(1980, 5, 6), 123)      # odd sequence: male
FEMALE_ID = make_id_number("110102", date(1991, 2, 3), 124)    # even sequence: female
BAD_ID = MALE_ID[:-1] + ("0" if MALE_ID[-1] != "0" else "1")  # wrong check character

PERSONS_SCHEMA = (
    "record_key string, source string, stream string, source_record_id string, batch_id string, source_updated_at timestamp, "
    "id_number string, id_number_raw string, id_status string, name string, name_raw string, gender string, gender_raw string, "
    "birth_date date, birth_date_raw string, phone string, phone_raw string, address_raw string, address string, admin_code string, "
    "death_date date, repairs string, flags string"
)
RAW = {
    # key: (source, stream, batch, raw fields)
    "a:s1:1": ("a", "s1", "b1", dict(id_number=MALE_ID, name="张三", gender="男", birth_date="1980-05-06", phone="13800138000",
                                    address="北京市东城区东华门街道1号", source_updated_at="2026-06-01T08:00:00")),
    "a:s1:2": ("a", "s1", "b2", dict(id_number=MALE_ID, name="张三", gender="男", birth_date="1980-05-06", phone=None, address="",
                                    source_updated_at="2026-06-29T12:00:00")),
    "a:s1:3": ("a", "s1", "b2", dict(id_number=BAD_ID, name="李四", gender="女", birth_date="1990-01-01", phone="12345",
                                    address="火星基地", source_updated_at="2026-06-30T10:00:00")),
    "a:s1:4": ("a", "s1", "b2", dict(id_number=FEMALE_ID, name="王五", gender="男", birth_date="1991-02-04", phone="13900139000",
                                    address="北京市东城区三号", source_updated_at="2026-06-20T10:00:00")),
    "b:s2:1": ("b", "s2", "b1", dict(id_number=MALE_ID, name="张叁", address="北京市东城区东华门街道1号", source_updated_at="2026-06-01T08:00:00")),
    "b:s2:2": ("b", "s2", "b1", dict(id_number=FEMALE_ID, name="赵六", address=None, source_updated_at="2026-06-01T08:00:00")),
    # One owner, three item records: two different units, and the first unit entered twice.
    **{f"c:s3:{n}": ("c", "s3", "b1", dict(name="孙八", source_updated_at="2026-06-01T08:00:00")) for n in (1, 2, 3)},
    # A register holding the same person twice with different facts (two households).
    **{f"d:s4:{n}": ("d", "s4", "b1", dict(name="周九", source_updated_at="2026-06-01T08:00:00")) for n in (1, 2)},
}
RESIDENT_OF = {"a:s1:1": "R1", "a:s1:2": "R1", "b:s2:1": "R1", "a:s1:3": "R3", "a:s1:4": "R4", "b:s2:2": "R5",
               "c:s3:1": "R6", "c:s3:2": "R6", "c:s3:3": "R6", "d:s4:1": "R7", "d:s4:2": "R7"}
# Standardised facts as the standardiser writes them (keys, then one column per fact of the source).
FACTS = {"c": [("c:s3:1", "unit-A"), ("c:s3:2", "unit-B"), ("c:s3:3", "unit-A")],
         "d": [("d:s4:1", "household-1"), ("d:s4:2", "household-2")]}
QUARANTINED_VALUE = f"{MALE_ID[:-1]}Y | 钱七"


def person_rows() -> list[tuple]:
    """The standardised person rows, in PERSONS_SCHEMA order."""
    rows = []
    for key, (source, stream, batch, raw) in RAW.items():
        std = standardise_person(raw, today=date(2026, 6, 30))
        rows.append((key, source, stream, key.rsplit(":", 1)[1], batch, datetime.fromisoformat(raw["source_updated_at"]),
                     std["id_number"], raw.get("id_number"), std["id_status"], std["name"], raw.get("name"), std["gender"],
                     raw.get("gender"), std["birth_date"], raw.get("birth_date"), std["phone"], raw.get("phone"), raw.get("address"),
                     std["address"], std["admin_code"], std["death_date"], std["repairs"], std["flags"]))
    return rows


def frames(spark):
    """persons, quarantine, xref, residents and the standardised fact frames of the hand-built run."""
    persons = spark.createDataFrame(person_rows(), PERSONS_SCHEMA)
    quarantine = spark.createDataFrame(
        [("b:s2:9", "b", "s2", "9", "b1", "no_identity", "no usable ID number and no usable name", QUARANTINED_VALUE, "run1")],
        "record_key string, source string, stream string, source_record_id string, batch_id string, rule string, reason string, value string, run_id string")
    xref = spark.createDataFrame([(key, RAW[key][0], resident) for key, resident in RESIDENT_OF.items()], "record_key string, source string, resident_id string")
    facts = [spark.createDataFrame([(key, key, key.split(":")[1], key.rsplit(":", 1)[1], "b1", value) for key, value in rows],
                                   "record_key string, fact_key string, stream string, source_record_id string, batch_id string, unit string")
             for rows in FACTS.values()]
    residents = spark.createDataFrame(
        [("R1", "张三", "M", date(1980, 5, 6)), ("R3", "李四", "F", date(1990, 1, 1)), ("R4", "王五", "F", date(1991, 2, 3)),
         ("R5", "赵六", "F", date(1991, 2, 3)), ("R6", "孙八", None, None), ("R7", "周九", None, None)],
        "resident_id string, name string, gender string, birth_date date")
    return persons, quarantine, xref, residents, facts
