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

from pyspark.sql import Column, DataFrame, Window
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


# Some tests are written once as Spark SQL text: a large expression built of many of them (the survivorship candidates) is
# then one call into Spark instead of thousands. The Column helpers wrap the same text.
def sql_string(value: str) -> str:
    """`value` as a Spark SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def has_flag_sql(flag: str, column: str = "flags") -> str:
    """SQL of has_flag."""
    return f"coalesce(array_contains(split(`{column}`, ','), {sql_string(flag)}), false)"


def has_flag(flag: str, column: str = "flags") -> Column:
    """True when the record's comma-separated `flags` (or another such column, e.g. `repairs`) include `flag`."""
    return F.expr(has_flag_sql(flag, column))


def valid_number_sql() -> str:
    """SQL of valid_number."""
    return f"(id_number IS NOT NULL AND id_status IN ({', '.join(sql_string(status) for status in sorted(USABLE_STATUSES))}))"


def valid_number() -> Column:
    """True for a record whose standardised number has a usable status (valid, upgraded or repaired)."""
    return F.expr(valid_number_sql())


def stated_birth_date() -> Column:
    """True where the record stated its own birth date (standardisation did not read it from the number)."""
    return ~has_flag(BIRTH_DATE_FROM_ID_REPAIR, "repairs")


def vouched_names(valid: Column, contradicted: Column) -> Column:
    """The names of the records sharing this record's number that vouch for it (a usable number, a birth date stated and agreeing)."""
    vouching = valid & stated_birth_date() & ~contradicted
    return F.collect_set(F.when(vouching, F.col("name"))).over(Window.partitionBy("id_number"))


def borrowed_number(valid: Column, vouched: Column) -> Column:
    """True for a record whose usable number is most likely someone else's although no birth date of its own says so.

    The record stated no birth date (it was read from the number), so the birth-date check cannot
    catch a parent's number on a child's record; its name then decides: it shares no character with
    the name of any record that vouches for the number (`vouched`: `vouched_names` as a column). A
    typo, a homophone or a traditional form still shares characters with the right name; a child's
    name with the other parent's surname does not.
    """
    characters = F.split(F.col("name"), "")
    shares = F.exists(vouched, lambda other: F.size(F.array_intersect(F.split(other, ""), characters)) > 0)
    return valid & ~stated_birth_date() & F.col("name").isNotNull() & (F.size(vouched) > 0) & ~shares


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
    valid = valid_number()
    contradicted = valid & has_flag(BIRTH_DATE_MISMATCH_FLAG) & ~has_flag(BIRTH_DATE_SLIP_FLAG)
    conflicting, checked = contradicted, records
    if "repairs" in records.columns:  # without repairs a file cannot say which birth dates were read from the number
        # A column of its own: written out at each use, the window would be computed once per use.
        checked = records.withColumn("_vouched", vouched_names(valid, contradicted))
        conflicting = contradicted | borrowed_number(valid, F.col("_vouched"))
    checked = checked.withColumns({"id_valid": valid, "id_conflicting": conflicting, "id_zero_tail": valid & has_flag(ZERO_TAIL_FLAG)})
    return checked.withColumn("id_usable", F.col("id_valid") & ~F.col("id_conflicting") & ~F.col("id_zero_tail")).drop("_vouched")


def valid_id() -> Column:
    """True for records with a usable number, doubted or not (needs with_id_checks)."""
    return F.col("id_valid")


def id_conflict() -> Column:
    """True for records whose usable number is most likely someone else's (needs with_id_checks)."""
    return F.col("id_conflicting")


def usable_id() -> Column:
    """True for records whose number anchors a resident (needs with_id_checks)."""
    return F.col("id_usable")


def compatible_anchors(key: str, anchor: Column) -> Column:
    """The ID anchors sharing (key, birth_date) with this record whose gender is compatible with its own.

    Anchors are collected per key and gender they are compatible with: a male record may match
    anchors whose record says male or nothing; a record with no gender may match any.
    """
    window = Window.partitionBy(key, "birth_date")
    gender = F.col("anchor_gender")
    for_male = F.collect_set(F.when(gender.isNull() | (gender == "M"), anchor)).over(window)
    for_female = F.collect_set(F.when(gender.isNull() | (gender == "F"), anchor)).over(window)
    for_any = F.collect_set(anchor).over(window)
    return F.when(F.col("gender") == "M", for_male).when(F.col("gender") == "F", for_female).otherwise(for_any)


def with_unique_anchor(frame: DataFrame, name: str, key: str, anchor: Column, wanted: Column) -> DataFrame:
    """`frame` with column `name`: where `wanted`, the one ID anchor compatible with the record on (key, birth_date), else null."""
    # The anchors as a column of their own first: written out at each use, every window would be computed twice.
    frame = frame.withColumn("_anchors", compatible_anchors(key, anchor))
    known = F.col(key).isNotNull() & F.col("birth_date").isNotNull()
    unique = F.when(wanted & known & (F.size("_anchors") == 1), F.element_at("_anchors", 1))
    return frame.withColumn(name, unique).drop("_anchors")


def link_records(persons: DataFrame) -> DataFrame:
    """The persons with ID_CHECK_COLUMNS and LINK_COLUMNS added: one link per standardised person record."""
    persons = with_id_checks(persons)
    anchored = usable_id()
    # One shuffle for the three windows below (see the module docstring).
    frame = persons.repartition("birth_date").withColumn("anchor_gender", F.when(anchored, F.col("gender")))
    id_anchor = F.when(anchored, F.col("id_number"))
    frame = with_unique_anchor(frame, "by_name", "name", id_anchor, ~anchored)
    frame = with_unique_anchor(frame, "by_pinyin", "name_pinyin", id_anchor, ~anchored & F.col("by_name").isNull())

    rest = ~anchored & F.col("by_name").isNull() & F.col("by_pinyin").isNull()
    groupable = rest & F.col("name").isNotNull() & F.col("birth_date").isNotNull()
    group = Window.partitionBy(groupable, "name", "birth_date", "gender")
    frame = frame.withColumns({  # together: one window operator, one sort
        "group_first": F.when(groupable, F.min("record_key").over(group)),
        "group_size": F.when(groupable, F.count(F.lit(1)).over(group)),
    })
    grouped = groupable & (F.col("group_size") > 1)

    def pick(when_anchored, by_name, by_pinyin, when_grouped, otherwise) -> Column:
        return (F.when(anchored, when_anchored).when(F.col("by_name").isNotNull(), by_name)
                .when(F.col("by_pinyin").isNotNull(), by_pinyin).when(grouped, when_grouped).otherwise(otherwise))

    return frame.select(
        *persons.columns,
        pick(F.lit(ID_NUMBER_ANCHOR), F.lit(ID_NUMBER_ANCHOR), F.lit(ID_NUMBER_ANCHOR), F.lit(RECORD_ANCHOR), F.lit(RECORD_ANCHOR)).alias("anchor_kind"),
        pick(F.col("id_number"), F.col("by_name"), F.col("by_pinyin"), F.col("group_first"), F.col("record_key")).alias("anchor_value"),
        pick(F.lit(ID_NUMBER), F.lit(NAME_BIRTH_DATE), F.lit(NAME_BIRTH_DATE), F.lit(NAME_BIRTH_DATE), F.lit(SINGLETON)).alias("match_rule"),
        pick(*(F.lit(PROBABILITY[k]) for k in ("id_number", "name", "pinyin", "group", "singleton"))).alias("match_probability"),
    )
