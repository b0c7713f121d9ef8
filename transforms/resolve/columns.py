"""The columns the matching profile compares and blocks on, derived from canonical person records.

Nothing here depends on how records were linked, so the same columns serve scoring (matching.py)
and finding the records an incremental run must look at again (incremental.py).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.standardise.person import FROM_ID_REPAIRS

from .linking import has_flag, id_conflict, valid_id, with_id_checks
from .profile import MatchingProfile

# Excel's scientific form of a number: `3.30102198E+17` keeps nine significant digits, the last rounded.
SCIENTIFIC_ID = r"^([0-9])\.([0-9]{8})[eE]\+?17$"


def id_digits(links: DataFrame) -> Column:
    """The ID number a record carries for comparison: the usable one, else the digits of a 15+ character raw value (a typo is evidence too)."""
    if "id_number_raw" not in links.columns:
        return F.col("id_number")
    digits = F.upper(F.regexp_replace(F.col("id_number_raw"), r"[^0-9xX]", ""))
    return F.coalesce(F.col("id_number"), F.when(F.length(digits) >= 15, digits))


def spreadsheet_digits(links: DataFrame) -> Column:
    """The nine digits of a raw value in a spreadsheet's scientific form (null for any other)."""
    if "id_number_raw" not in links.columns:
        return F.lit(None).cast("string")
    raw = F.trim(F.col("id_number_raw"))
    return F.when(raw.rlike(SCIENTIFIC_ID), F.concat(F.regexp_extract(raw, SCIENTIFIC_ID, 1), F.regexp_extract(raw, SCIENTIFIC_ID, 2)))


def rounded_digits(number: Column) -> Column:
    """A number's first nine digits as a spreadsheet rounds them (from the first ten)."""
    return F.when(F.length(number) >= 15, ((F.substring(number, 1, 10).cast("bigint") + 5) / 10).cast("bigint").cast("string"))


def comparison_columns(records: DataFrame, profile: MatchingProfile) -> DataFrame:
    """`records` with every column the profile's comparisons and blocking rules read (names cleaned, ID digits, address key…)."""
    kinds = {spec.kind for spec in profile.comparisons}
    frame = records
    if "chinese_name" in kinds:
        raw = F.regexp_replace(F.col("name_raw"), r"\s", "") if "name_raw" in records.columns else F.col("name")
        frame = frame.withColumns({
            "name_raw_clean": F.coalesce(raw, F.col("name")),
            "surname": F.substring("name", 1, 1), "given_name": F.expr("substring(name, 2)"),
        })
    if "latin_name" in kinds:
        name = F.lower(F.trim(F.regexp_replace("name", r"\s+", " ")))
        frame = frame.withColumn("name", F.when(name != "", name)).withColumn("surname", F.element_at(F.split("name", " "), -1))
    if "id_number" in kinds:
        frame = with_id_checks(frame)
        # Training labels: records sharing a usable number are one person (doubted ones included, so
        # the labelled pairs show birth dates and genders as departments really write them). A number
        # contradicting its own record's birth date is someone else's: no evidence, so not compared.
        frame = frame.withColumn("id_label", F.when(valid_id(), F.col("id_number")))
        conflict = id_conflict()
        frame = frame.withColumns({
            "id_number": F.when(~conflict, id_digits(records)), "id_spreadsheet": F.when(~conflict, spreadsheet_digits(records)),
        })
        if "repairs" in records.columns:
            # Nor is what standardisation read from that number: it is the other person's birth date and gender.
            frame = frame.withColumns({
                column: F.when(~(conflict & has_flag(repair, "repairs")), F.col(column)) for column, repair in FROM_ID_REPAIRS.items()
            })
        length = F.length("id_number")
        frame = frame.withColumns({
            "id_rounded": F.coalesce("id_spreadsheet", rounded_digits(F.col("id_number"))),
            "id_rounded_is_rounded": F.col("id_spreadsheet").isNotNull(),
            "id_prefix14": F.when(length >= 14, F.substring("id_number", 1, 14)),
            # Blocks that a single typo or swap cannot break both of: the tail (digits 11-18), the region with the name.
            "id_tail": F.when(length == 18, F.substring("id_number", 11, 8)),
            "id_region": F.substring(F.coalesce("id_number", "id_spreadsheet"), 1, 6),
        })
    if "birth_date" in kinds:
        frame = frame.withColumn("birth_year", F.year("birth_date"))
    if "address" in kinds:
        admin_code = F.col("admin_code") if "admin_code" in records.columns else F.lit(None).cast("string")
        detail = F.lower(F.regexp_replace(F.col("address_detail"), r"\s+", "")) if "address_detail" in records.columns else F.lit(None)
        frame = frame.withColumns({"address_key": F.when(detail != "", F.concat_ws("|", admin_code, detail)), "admin_code": admin_code})
    return frame


def helper_columns(profile: MatchingProfile) -> list[str]:
    """Columns the comparisons' SQL reads beside the ones the profile names (`name_pinyin`, `admin_code`, the label…)."""
    kinds = {spec.kind for spec in profile.comparisons}
    extra = []
    if "chinese_name" in kinds:
        extra += ["name_raw_clean", "name_pinyin", "given_name", "surname"]
    if "latin_name" in kinds:
        extra += ["surname"]
    if "address" in kinds:
        extra += ["admin_code"]
    if "id_number" in kinds:
        extra += ["id_label", "id_rounded", "id_rounded_is_rounded"]
    return extra
