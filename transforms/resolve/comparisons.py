"""Splink comparison definitions for the matching profiles, as plain (JSON-able) settings dictionaries.

Splink has no Chinese-aware levels, so the name, ID number and birth date comparisons are custom SQL
levels over columns `prepare_columns` adds (see matching.py). Levels run from the strongest agreement
down; the first whose condition holds is the pair's level.
"""

from __future__ import annotations

from .profile import ComparisonSpec

JW = "jaro_winkler"  # registered in Spark by Splink from its similarity jar (transforms/spark.py puts it on the classpath)


def _level(sql: str, label: str, tf_column: str | None = None) -> dict:
    level = {"sql_condition": sql, "label_for_charts": label}
    if tf_column:
        level.update(tf_adjustment_column=tf_column, tf_adjustment_weight=1.0)
    return level


def _null(*columns: str) -> dict:
    condition = " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in columns)
    return {"sql_condition": condition, "label_for_charts": "null", "is_null_level": True}


ELSE = {"sql_condition": "ELSE", "label_for_charts": "else"}


def chinese_name(spec: ComparisonSpec) -> dict:
    """Exact raw name / same simplified form / same toneless pinyin (homophone) / pinyin Jaro-Winkler in one surname / given name only.

    Term frequencies adjust the exact level only, on the column it compares: Splink scales a level by
    the u of the exact-match level of its frequency column, so frequencies of `name` on the exact
    raw-name level would be scaled by the (far smaller) u of `same simplified form`.
    """
    c = spec.column
    tf = f"{c}_raw_clean" if spec.term_frequency else None
    return {"output_column_name": c, "comparison_levels": [
        _null(c),
        _level(f"{c}_raw_clean_l = {c}_raw_clean_r", "exact name", tf),
        _level(f"{c}_l = {c}_r", "same simplified form"),
        _level(f"{c}_pinyin_l = {c}_pinyin_r", "same pinyin (homophone)"),
        _level(f"surname_l = surname_r AND {JW}({c}_pinyin_l, {c}_pinyin_r) >= 0.9", "pinyin Jaro-Winkler >= 0.9 (same surname)"),
        _level("given_name_l = given_name_r AND length(given_name_l) >= 1", "given name only"),
        ELSE,
    ]}


def latin_name(spec: ComparisonSpec) -> dict:
    """Exact lower-cased name / Jaro-Winkler >= 0.92 / >= 0.8 / same surname."""
    c = spec.column
    tf = c if spec.term_frequency else None
    return {"output_column_name": c, "comparison_levels": [
        _null(c),
        _level(f"{c}_l = {c}_r", "exact name", tf),
        _level(f"{JW}({c}_l, {c}_r) >= 0.92", "Jaro-Winkler >= 0.92"),
        _level(f"{JW}({c}_l, {c}_r) >= 0.8", "Jaro-Winkler >= 0.8"),
        _level("surname_l = surname_r", "same surname"),
        ELSE,
    ]}


def within_two_edits_possible(a: str, b: str) -> str:
    """SQL, true whenever the 17-character `a` and `b` are at most two edits apart (and for some pairs that are not).

    Two edits break at most two of a's three segments (1-6, 7-12, 13-17), so one of them is whole
    somewhere in b. Three substring searches are several times cheaper than the edit distance, and
    false for about nine in ten random pairs of one city's numbers (the shared region code keeps
    the rest): Splink's u sampling compares a million random pairs.
    """
    return "(" + " OR ".join(f"instr({b}, substring({a}, {start}, {length})) > 0" for start, length in ((1, 6), (7, 6), (13, 5))) + ")"


def id_number(spec: ComparisonSpec) -> dict:
    """Exact / one digit or one swap in the first 17 / same first 14 (region + birth date) / else."""
    c = spec.column
    a, b = f"substring({c}_l, 1, 17)", f"substring({c}_r, 1, 17)"
    distance = f"levenshtein({a}, {b})"
    one_swap = f"({distance} = 2 AND array_sort(split({a}, '')) = array_sort(split({b}, '')))"
    return {"output_column_name": c, "comparison_levels": [
        _null(c),
        _level(f"{c}_l = {c}_r", "exact"),
        _level(f"length({a}) = 17 AND length({b}) = 17 AND {within_two_edits_possible(a, b)} AND ({distance} = 1 OR {one_swap})",
               "one digit or transposition in first 17"),
        _level(f"substring({c}_l, 1, 14) = substring({c}_r, 1, 14)", "same first 14"),
        ELSE,
    ]}


def rounded_id(spec: ComparisonSpec) -> dict:
    """A spreadsheet's rounded form of a number (`3.30102198E+17`) agrees with the other's first nine digits, or not.

    The column holds every number's nine leading digits as a spreadsheet rounds them (prepare_columns),
    and `<column>_is_rounded` says which record has only those. Pairs where neither does are the null
    level, so the comparison says nothing about them (id_number does) and its m and u are those of
    pairs that involve a rounded number: agreeing means the same region and decade of birth.
    """
    c = spec.column
    null = f"{c}_l IS NULL OR {c}_r IS NULL OR NOT ({c}_is_rounded_l OR {c}_is_rounded_r)"
    return {"output_column_name": c, "comparison_levels": [
        {"sql_condition": null, "label_for_charts": "null", "is_null_level": True},
        _level(f"{c}_l = {c}_r", "agrees with a spreadsheet-rounded number"),
        ELSE,
    ]}


def birth_date(spec: ComparisonSpec) -> dict:
    """Exact / day and month swapped / one day apart."""
    c = spec.column
    return {"output_column_name": c, "comparison_levels": [
        _null(c),
        _level(f"{c}_l = {c}_r", "exact"),
        _level(f"year({c}_l) = year({c}_r) AND month({c}_l) = day({c}_r) AND day({c}_l) = month({c}_r)", "day-month swap"),
        _level(f"abs(datediff({c}_l, {c}_r)) = 1", "one day apart"),
        ELSE,
    ]}


def address(spec: ComparisonSpec) -> dict:
    """Exact address (division code and detail) / Jaro-Winkler >= 0.9 in one division / same division / else; term frequencies on the exact level.

    The column is prepare_columns' address key (`<admin_code>|<detail>`, the detail alone when no
    division was recognised), so Latin-script addresses compare by their text.
    """
    c = spec.column
    tf = c if spec.term_frequency else None
    return {"output_column_name": c, "comparison_levels": [
        _null(c),
        _level(f"{c}_l = {c}_r", "exact address", tf),
        # Within one division only (or where neither has one): Jaro-Winkler over every pair costs more than all the rest.
        _level(f"coalesce(admin_code_l, '') = coalesce(admin_code_r, '') AND {JW}({c}_l, {c}_r) >= 0.9", "address Jaro-Winkler >= 0.9"),
        _level("admin_code_l = admin_code_r", "same division"),
        ELSE,
    ]}


def exact(spec: ComparisonSpec) -> dict:
    """Exact match or not."""
    c = spec.column
    tf = c if spec.term_frequency else None
    return {"output_column_name": c, "comparison_levels": [_null(c), _level(f"{c}_l = {c}_r", "exact", tf), ELSE]}


BUILDERS = {"chinese_name": chinese_name, "latin_name": latin_name, "id_number": id_number, "rounded_id": rounded_id,
            "birth_date": birth_date, "address": address, "exact": exact}


def comparison(spec: ComparisonSpec) -> dict:
    """The Splink comparison dictionary of one profile comparison."""
    return BUILDERS[spec.kind](spec)


def id_number_agreements(c: str) -> dict[str, dict[str, str]]:
    """What a pair at each of id_number's upper levels agrees on (see `agreement_columns`).

    One digit wrong in the first 17 leaves digits 7-12 or 13-17 whole (whichever it is not in);
    the level's other case, two edits that keep the same digits (a transposition), leaves the sorted
    digits equal. Either needs 17 characters on both sides, as the level does.
    """
    full = f"length(substring({c}, 1, 17)) = 17"
    return {"exact": {c: c}, "one digit or transposition in first 17": {
        f"{c}_7_12": f"CASE WHEN {full} THEN substring({c}, 7, 6) END", f"{c}_13_17": f"CASE WHEN {full} THEN substring({c}, 13, 5) END",
        f"{c}_sorted": f"CASE WHEN {full} THEN array_join(array_sort(split(substring({c}, 1, 17), '')), '') END",
    }}


# Per comparison kind, given its column: per level label, the columns (by name, as Spark SQL over the scoring frame) of
# which a pair at that level agrees on one. Levels missing here promise no agreement (a Jaro-Winkler level agrees on
# nothing exactly).
LEVEL_AGREEMENTS = {
    "chinese_name": lambda c: {"exact name": {f"{c}_raw_clean": f"{c}_raw_clean"}, "same simplified form": {c: c},
                               "same pinyin (homophone)": {f"{c}_pinyin": f"{c}_pinyin"}},
    "latin_name": lambda c: {"exact name": {c: c}},
    "id_number": id_number_agreements,
    "birth_date": lambda c: {"exact": {c: c}},
    "address": lambda c: {"exact address": {c: c}},
    "exact": lambda c: {"exact": {c: c}},
}


def one_substitution_agreements(c: str) -> dict[str, dict[str, str]]:
    """What a pair at id_number's typo level agrees on, finer than id_number_agreements: the first 17 digits with one of them left
    out, for each of the 17 (one digit wrong leaves the other 16 in place), or the sorted digits (a transposition)."""
    full, digits = f"length(substring({c}, 1, 17)) = 17", f"substring({c}, 1, 17)"
    without = {f"{c}_without_{i}": f"CASE WHEN {full} THEN concat(substring({digits}, 1, {i - 1}), substring({digits}, {i + 1})) END"
               for i in range(1, 18)}
    return {"one digit or transposition in first 17": {**without, f"{c}_sorted": id_number_agreements(c)["one digit or transposition in first 17"][f"{c}_sorted"]}}


# As LEVEL_AGREEMENTS, finer and too many to key every record by (link keys): what an incremental run's bounds read of the pairs
# at its edge (bounds.py). At the 1M city's edge they halved the pairs a bound could not rule out (30,829 to 14,998; Splink
# weighs 14,435): most were two people of one surname born the same day, whose numbers share digits 7-12 but differ in more
# than one digit.
LEVEL_BOUND_AGREEMENTS = {"id_number": one_substitution_agreements}


def level_agreements(spec: ComparisonSpec, label: str) -> dict[str, str] | None:
    """Columns (name → Spark SQL) of which every pair at level `label` of `spec` agrees on at least one; None: it promises none."""
    return LEVEL_AGREEMENTS.get(spec.kind, lambda c: {})(spec.column).get(label)


def bound_agreements(spec: ComparisonSpec, label: str) -> list[dict[str, str]]:
    """Every set of columns (name → Spark SQL) of which a pair at level `label` of `spec` agrees on at least one (level_agreements and
    LEVEL_BOUND_AGREEMENTS)."""
    finer = LEVEL_BOUND_AGREEMENTS.get(spec.kind, lambda c: {})(spec.column).get(label)
    return [agreements for agreements in (level_agreements(spec, label), finer) if agreements]


def agreement_columns(spec: ComparisonSpec, at_least: str) -> dict[str, str] | None:
    """Columns (name → Spark SQL) such that every pair at level `at_least` of `spec`, or a stronger one, agrees on at least one of them.

    None when some such level promises no agreement: then nothing rules a pair out. An incremental
    run uses this to skip the records that share a blocking key with a changed one but could never
    link to it (incremental.py).
    """
    labels = [level["label_for_charts"] for level in comparison(spec)["comparison_levels"] if not level.get("is_null_level")]
    columns = {}
    for label in labels[:labels.index(at_least) + 1]:
        agreements = level_agreements(spec, label)
        if agreements is None:
            return None
        columns.update(agreements)
    return columns
