"""Deterministic linking of standardised person records into residents.

1. Records sharing a usable ID number (valid, upgraded_15, repaired) are one resident, unless the
   record's birth date contradicts the number (then it is treated as a record without one).
2. A record without one joins an ID-anchored resident when exactly one such resident has its
   name and birth date (then: name pinyin and birth date), with no conflicting gender.
3. Remaining records with the same name, birth date and gender link together; the rest stand alone.

Each step is a window over the records (no joins). Every step's window partitions by birth date
among other keys, so the records are shuffled once by birth date for all of them (a hash
partitioning on birth date alone clusters every (…, birth_date, …) partition): two shuffles in all,
with the ID checks' window by number. The
output says, per record, what anchors its resident (`anchor_kind`, `anchor_value`), the rule that
linked it and how sure the rule is; probabilistic scoring (Splink) can later replace steps 2–3 by
producing the same columns.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.standardise.id_number import USABLE_STATUSES
from transforms.standardise.person import BIRTH_DATE_FROM_ID_REPAIR, BIRTH_DATE_MISMATCH_FLAG, BIRTH_DATE_SLIP_FLAG, ZERO_TAIL_FLAG

from .ids import ID_NUMBER_ANCHOR, RECORD_ANCHOR

ID_NUMBER, NAME_BIRTH_DATE, SINGLETON = "id_number", "name_birth_date", "singleton"
LINK_COLUMNS = ("anchor_kind", "anchor_value", "match_rule", "match_probability")
# What the pass's windows link by besides the birth date: records differing on all of these never link here.
WINDOW_COLUMNS = ("id_number", "name", "name_pinyin")
# What the pass's windows over names partition by (link_records): a record without an anchor of its own is linked by the
# records sharing one of these with it (its number's records aside, which with_id_checks looks at).
NAME_WINDOWS = (("name", "birth_date"), ("name_pinyin", "birth_date"))
# What of a record with_id_checks reads (its own, and its number's other records'), and what link_records reads besides.
ID_CHECK_INPUTS = ("id_number", "id_status", "name", "flags", "repairs")
LINK_INPUTS = (*ID_CHECK_INPUTS, "name_pinyin", "birth_date", "gender")

# How sure each rule is: deterministic rules, so fixed values that order them.
PROBABILITY = {"id_number": 1.0, "name": 0.9, "pinyin": 0.8, "group": 0.9, "singleton": 1.0}


# Tests are written as Spark SQL text: a large expression built of many of them (the survivorship candidates, the ID checks)
# is then one call into Spark instead of hundreds.
def sql_string(value: str) -> str:
    """`value` as a Spark SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def has_flag_sql(flag: str, column: str = "flags") -> str:
    """SQL, true when the record's comma-separated `flags` (or another such column, e.g. `repairs`) include `flag`."""
    return f"coalesce(array_contains(split(`{column}`, ','), {sql_string(flag)}), false)"


def valid_number_sql() -> str:
    """SQL, true for a record whose standardised number has a usable status (valid, upgraded or repaired)."""
    return f"(id_number IS NOT NULL AND id_status IN ({', '.join(sql_string(status) for status in sorted(USABLE_STATUSES))}))"


# The pass below is written as Spark SQL text: built of Column calls, its windows and checks took over a thousand calls
# into Spark for every frame linked.
def stated_birth_date_sql() -> str:
    """SQL, true where the record stated its own birth date (standardisation did not read it from the number)."""
    return f"NOT {has_flag_sql(BIRTH_DATE_FROM_ID_REPAIR, 'repairs')}"


def vouched_names_sql(valid: str, contradicted: str) -> str:
    """SQL of the names of the records sharing this record's number that vouch for it (a usable number, a birth date stated and agreeing)."""
    return f"collect_set(CASE WHEN {valid} AND {stated_birth_date_sql()} AND NOT {contradicted} THEN name END) OVER (PARTITION BY id_number)"


def borrowed_number_sql(valid: str, vouched: str) -> str:
    """SQL, true for a record whose usable number is most likely someone else's although no birth date of its own says so.

    The record stated no birth date (it was read from the number), so the birth-date check cannot
    catch a parent's number on a child's record; its name then decides: it shares no character with
    the name of any record that vouches for the number (`vouched`: vouched_names_sql as a column). A
    typo, a homophone or a traditional form still shares characters with the right name; a child's
    name with the other parent's surname does not.
    """
    shares = f"exists({vouched}, other -> size(array_intersect(split(other, ''), split(name, ''))) > 0)"
    return f"({valid} AND NOT {stated_birth_date_sql()} AND name IS NOT NULL AND size({vouched}) > 0 AND NOT {shares})"


# What a record's ID number may do, worked out once per record as columns: written out as expressions
# at every use, the same flag tests nest so deep in later joins that Spark's optimizer spends minutes
# simplifying them.
ID_CHECK_COLUMNS = ("id_valid", "id_conflicting", "id_zero_tail", "id_usable")


def with_id_checks(records: DataFrame) -> DataFrame:
    """`records` with ID_CHECK_COLUMNS (kept if already there).

    - id_valid: a usable (valid, upgraded or repaired) number, doubted or not;
    - id_conflicting: the number contradicts the record's own birth date beyond a typing slip, or the
      record stated no birth date and its name has nothing in common with the number's vouched-for
      names (`borrowed_number`), so it is most likely someone else's (a parent's on a child's record):
      it must not pull the two people together, and the pair is reviewed;
    - id_zero_tail: the number ends in 000, maybe a spreadsheet's damage that passed the checksum by
      chance: it must not found a resident of its own, but its exact agreement is evidence;
    - id_usable: valid, not conflicting, no zeroed tail: it anchors a resident.
    """
    if set(ID_CHECK_COLUMNS) <= set(records.columns):
        return records
    valid = valid_number_sql()
    contradicted = f"({valid} AND {has_flag_sql(BIRTH_DATE_MISMATCH_FLAG)} AND NOT {has_flag_sql(BIRTH_DATE_SLIP_FLAG)})"
    conflicting, checked = contradicted, records
    if "repairs" in records.columns:  # without repairs a file cannot say which birth dates were read from the number
        # A column of its own: written out at each use, the window would be computed once per use.
        checked = records.withColumn("_vouched", F.expr(vouched_names_sql(valid, contradicted)))
        conflicting = f"({contradicted} OR {borrowed_number_sql(valid, '_vouched')})"
    checked = checked.withColumns({name: F.expr(sql) for name, sql in (
        ("id_valid", valid), ("id_conflicting", conflicting), ("id_zero_tail", f"({valid} AND {has_flag_sql(ZERO_TAIL_FLAG)})"))})
    return checked.withColumn("id_usable", F.expr("id_valid AND NOT id_conflicting AND NOT id_zero_tail")).drop("_vouched")


def id_conflict() -> Column:
    """True for records whose usable number is most likely someone else's (needs with_id_checks)."""
    return F.col("id_conflicting")


def usable_id() -> Column:
    """True for records whose number anchors a resident (needs with_id_checks)."""
    return F.col("id_usable")


def compatible_anchors(key: str, anchor: str) -> str:
    """SQL of the ID anchors sharing (key, birth_date) with this record whose gender is compatible with its own.

    Anchors are collected per key and gender they are compatible with: a male record may match
    anchors whose record says male or nothing; a record with no gender may match any.
    """
    window = f"OVER (PARTITION BY {key}, birth_date)"
    for_male = f"collect_set(CASE WHEN anchor_gender IS NULL OR anchor_gender = 'M' THEN {anchor} END) {window}"
    for_female = f"collect_set(CASE WHEN anchor_gender IS NULL OR anchor_gender = 'F' THEN {anchor} END) {window}"
    return f"CASE WHEN gender = 'M' THEN {for_male} WHEN gender = 'F' THEN {for_female} ELSE collect_set({anchor}) {window} END"


def with_unique_anchor(frame: DataFrame, name: str, key: str, anchor: str, wanted: str) -> DataFrame:
    """`frame` with column `name`: where `wanted`, the one ID anchor compatible with the record on (key, birth_date), else null (SQL arguments)."""
    # The anchors as a column of their own first: written out at each use, every window would be computed twice.
    frame = frame.withColumn("_anchors", F.expr(compatible_anchors(key, anchor)))
    unique = f"CASE WHEN {wanted} AND {key} IS NOT NULL AND birth_date IS NOT NULL AND size(_anchors) = 1 THEN element_at(_anchors, 1) END"
    return frame.withColumn(name, F.expr(unique)).drop("_anchors")


def link_records(persons: DataFrame) -> DataFrame:
    """The persons with ID_CHECK_COLUMNS and LINK_COLUMNS added: one link per standardised person record."""
    persons = with_id_checks(persons)
    # One shuffle for the three windows below (see the module docstring).
    frame = persons.repartition("birth_date").withColumn("anchor_gender", F.expr("CASE WHEN id_usable THEN gender END"))
    id_anchor = "CASE WHEN id_usable THEN id_number END"
    frame = with_unique_anchor(frame, "by_name", "name", id_anchor, "NOT id_usable")
    frame = with_unique_anchor(frame, "by_pinyin", "name_pinyin", id_anchor, "NOT id_usable AND by_name IS NULL")

    rest = "NOT id_usable AND by_name IS NULL AND by_pinyin IS NULL"
    groupable = f"{rest} AND name IS NOT NULL AND birth_date IS NOT NULL"
    group = f"OVER (PARTITION BY {groupable}, name, birth_date, gender)"
    frame = frame.withColumns({  # together: one window operator, one sort
        "group_first": F.expr(f"CASE WHEN {groupable} THEN min(record_key) {group} END"),
        "group_size": F.expr(f"CASE WHEN {groupable} THEN count(1) {group} END"),
    })
    grouped = f"{groupable} AND group_size > 1"

    def pick(name: str, when_anchored: str, by_name: str, by_pinyin: str, when_grouped: str, otherwise: str) -> str:
        return (f"CASE WHEN id_usable THEN {when_anchored} WHEN by_name IS NOT NULL THEN {by_name} WHEN by_pinyin IS NOT NULL THEN {by_pinyin} "
                f"WHEN {grouped} THEN {when_grouped} ELSE {otherwise} END AS {name}")

    number, record = sql_string(ID_NUMBER_ANCHOR), sql_string(RECORD_ANCHOR)
    by_name_rule = sql_string(NAME_BIRTH_DATE)
    return frame.selectExpr(
        *(f"`{column}`" for column in persons.columns),
        pick("anchor_kind", number, number, number, record, record),
        pick("anchor_value", "id_number", "by_name", "by_pinyin", "group_first", "record_key"),
        pick("match_rule", sql_string(ID_NUMBER), by_name_rule, by_name_rule, by_name_rule, sql_string(SINGLETON)),
        pick("match_probability", *(f"{PROBABILITY[k]!r}D" for k in ("id_number", "name", "pinyin", "group", "singleton"))),
    )
