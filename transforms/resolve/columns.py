"""The columns the matching profile compares and blocks on, derived from canonical person records.

Nothing here depends on how records were linked, so the same columns serve scoring (matching.py)
and finding the records an incremental run must look at again (incremental.py).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.standardise.person import FROM_ID_REPAIRS

from .linking import has_flag_sql, sql_string, with_id_checks
from .profile import MatchingProfile

# Excel's scientific form of a number: `3.30102198E+17` keeps nine significant digits, the last rounded.
SCIENTIFIC_ID = r"^([0-9])\.([0-9]{8})[eE]\+?17$"
A_SPACE, SPACES = sql_string(r"\s"), sql_string(r"\s+")  # as Spark SQL regular expression literals


# Written as Spark SQL text: built of Column calls, these columns took hundreds of calls into Spark for every frame matched.
def id_digits(columns: list[str]) -> str:
    """SQL of the ID number a record carries for comparison: the usable one, else the digits of a 15+ character raw value (a typo is evidence too)."""
    if "id_number_raw" not in columns:
        return "id_number"
    digits = "upper(regexp_replace(id_number_raw, '[^0-9xX]', ''))"
    return f"coalesce(id_number, CASE WHEN length({digits}) >= 15 THEN {digits} END)"


def spreadsheet_digits(columns: list[str]) -> str:
    """SQL of the nine digits of a raw value in a spreadsheet's scientific form (null for any other)."""
    if "id_number_raw" not in columns:
        return "CAST(NULL AS STRING)"
    raw, pattern = "trim(id_number_raw)", sql_string(SCIENTIFIC_ID)
    return f"CASE WHEN {raw} RLIKE {pattern} THEN concat(regexp_extract({raw}, {pattern}, 1), regexp_extract({raw}, {pattern}, 2)) END"


def rounded_digits(number: str) -> str:
    """SQL of a number's first nine digits as a spreadsheet rounds them (from the first ten)."""
    return f"CASE WHEN length({number}) >= 15 THEN CAST(CAST((CAST(substring({number}, 1, 10) AS BIGINT) + 5) / 10 AS BIGINT) AS STRING) END"


def with_sql(frame: DataFrame, columns: dict[str, str]) -> DataFrame:
    """`frame` with `columns` (name → SQL), each computed from the frame as it was."""
    return frame.withColumns({name: F.expr(sql) for name, sql in columns.items()})


def comparison_columns(records: DataFrame, profile: MatchingProfile) -> DataFrame:
    """`records` with every column the profile's comparisons and blocking rules read (names cleaned, ID digits, address key…)."""
    kinds = {spec.kind for spec in profile.comparisons}
    columns, frame = records.columns, records
    if "chinese_name" in kinds:
        raw = f"regexp_replace(name_raw, {A_SPACE}, '')" if "name_raw" in columns else "name"
        frame = with_sql(frame, {"name_raw_clean": f"coalesce({raw}, name)", "surname": "substring(name, 1, 1)", "given_name": "substring(name, 2)"})
    if "latin_name" in kinds:
        name = f"lower(trim(regexp_replace(name, {SPACES}, ' ')))"
        frame = with_sql(with_sql(frame, {"name": f"CASE WHEN {name} != '' THEN {name} END"}), {"surname": "element_at(split(name, ' '), -1)"})
    if "id_number" in kinds:
        frame = with_id_checks(frame)
        # Training labels: records sharing a usable number are one person (doubted ones included, so
        # the labelled pairs show birth dates and genders as departments really write them). A number
        # contradicting its own record's birth date is someone else's: no evidence, so not compared.
        frame = with_sql(frame, {"id_label": "CASE WHEN id_valid THEN id_number END"})
        frame = with_sql(frame, {"id_number": f"CASE WHEN NOT id_conflicting THEN {id_digits(columns)} END",
                                 "id_spreadsheet": f"CASE WHEN NOT id_conflicting THEN {spreadsheet_digits(columns)} END"})
        if "repairs" in columns:
            # Nor is what standardisation read from that number: it is the other person's birth date and gender.
            frame = with_sql(frame, {column: f"CASE WHEN NOT (id_conflicting AND {has_flag_sql(repair, 'repairs')}) THEN `{column}` END"
                                     for column, repair in FROM_ID_REPAIRS.items()})
        frame = with_sql(frame, {
            "id_rounded": f"coalesce(id_spreadsheet, {rounded_digits('id_number')})",
            "id_rounded_is_rounded": "id_spreadsheet IS NOT NULL",
            "id_prefix14": "CASE WHEN length(id_number) >= 14 THEN substring(id_number, 1, 14) END",
            # Blocks that a single typo or swap cannot break both of: the tail (digits 11-18), the region with the name.
            "id_tail": "CASE WHEN length(id_number) = 18 THEN substring(id_number, 11, 8) END",
            "id_region": "substring(coalesce(id_number, id_spreadsheet), 1, 6)",
        })
    if "birth_date" in kinds:
        frame = with_sql(frame, {"birth_year": "year(birth_date)"})
    if "address" in kinds:
        admin_code = "admin_code" if "admin_code" in columns else "CAST(NULL AS STRING)"
        detail = f"lower(regexp_replace(address_detail, {SPACES}, ''))" if "address_detail" in columns else "CAST(NULL AS STRING)"
        frame = with_sql(frame, {"address_key": f"CASE WHEN {detail} != '' THEN concat_ws('|', {admin_code}, {detail}) END", "admin_code": admin_code})
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
