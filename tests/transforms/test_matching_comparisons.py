"""Each Chinese-aware comparison level, evaluated by Spark SQL exactly as Splink evaluates it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
        kinds = {name: "date" if name == "birth_date" else "boolean" if name.endswith("_is_rounded") else "string" for name in names}
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
    (name("张伟华", "张伟华", "zhang weihua"), name("张伟桦", "张伟桦", "zhang weihuan"), "pinyin Jaro-Winkler >= 0.9 (same surname)"),
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


@settings(max_examples=8, deadline=None)
@given(st.lists(st.tuples(st.text("0123456789", min_size=17, max_size=17),
                          st.lists(st.tuples(st.sampled_from("sid"), st.integers(0, 16), st.sampled_from("0123456789")), max_size=2)),
                min_size=1, max_size=300))
def test_the_cheap_id_test_never_drops_a_pair_within_two_edits(spark, edited):
    """within_two_edits_possible is only a shortcut before the edit distance: it must hold for every pair two edits apart."""
    from transforms.resolve.comparisons import within_two_edits_possible

    def apply(number: str, edits) -> str:
        for kind, position, digit in edits:  # substitute, insert or delete at `position`
            number = {"s": number[:position] + digit + number[position + 1:], "i": number[:position] + digit + number[position:],
                      "d": number[:position] + number[position + 1:]}[kind]
        return number

    rows = [(number, apply(number, edits)) for number, edits in edited]
    frame = spark.createDataFrame(rows, "a string, b string")
    test = within_two_edits_possible("substring(a, 1, 17)", "substring(b, 1, 17)")
    near = frame.where("levenshtein(substring(a, 1, 17), substring(b, 1, 17)) <= 2")
    assert near.where(f"NOT {test}").count() == 0


# A number edited: (kind, position, other position, digit), kinds substitute, transpose two positions, insert, delete.
EDITS = st.lists(st.tuples(st.sampled_from("stid"), st.integers(0, 17), st.integers(0, 17), st.sampled_from("0123456789")), max_size=2)
# Pairs that reach "one digit or transposition in first 17" in every way its SQL allows: one digit in the region, in 7-12, in
# 13-17; a swap across 12|13; two digits far apart swapped; one moved from position 7 to 17 (a deletion and an insertion).
NEAR_IDS = [("110105194912310023", [("s", 2, 0, "9")]), ("110105194912310023", [("s", 9, 0, "1")]),
            ("110105194912310023", [("s", 15, 0, "7")]), ("110105194912310023", [("t", 11, 12, "")]),
            ("110105194912310023", [("t", 6, 16, "")]), ("110105194912310023", [("d", 6, 0, ""), ("i", 16, 0, "1")])]


def edited_number(number: str, edits) -> str:
    for kind, position, other, digit in edits:
        if kind == "t":
            chars = list(number.ljust(max(position, other) + 1))
            chars[position], chars[other] = chars[other], chars[position]
            number = "".join(chars).rstrip()
        else:
            number = {"s": number[:position] + digit + number[position + 1:], "i": number[:position] + digit + number[position:],
                      "d": number[:position] + number[position + 1:]}[kind]
    return number


TYPO = "one digit or transposition in first 17"


def promised(finer: bool) -> tuple[dict[str, str], tuple[str, ...]]:
    """(columns, the levels at which a pair must agree on one of them): the link keys' agreement columns from the typo level up, or
    the bounds' finer ones of the typo level."""
    from transforms.resolve.comparisons import LEVEL_BOUND_AGREEMENTS, agreement_columns

    if finer:
        return LEVEL_BOUND_AGREEMENTS["id_number"]("id_number")[TYPO], (TYPO,)
    return agreement_columns(ComparisonSpec(kind="id_number", column="id_number"), TYPO), ("exact", TYPO)


def upper_id_pairs_without_agreement(spark, levels_of, rows: list[tuple[str, str]], finer: bool = False) -> tuple[list[str], list[tuple[str, str]]]:
    """(each pair's id_number level, the pairs at the levels promised(finer) names agreeing on none of its columns)."""
    from pyspark.sql import functions as F

    levels = levels_of("id_number", "id_number", [({"id_number": a}, {"id_number": b}) for a, b in rows])
    agreements, upper = promised(finer)
    pairs = spark.createDataFrame([(i, a, b) for i, (a, b) in enumerate(rows)], "i int, l string, r string")

    def side(name: str):  # one side's agreement columns, suffixed like Splink's
        numbers = pairs.select("i", F.col(name).alias("id_number"))
        return numbers.select("i", *(F.expr(sql).alias(f"{column}_{name}") for column, sql in agreements.items()))

    sides = [side("l"), side("r")]
    agrees = F.lit(False)
    for name in agreements:
        agrees = agrees | F.coalesce(F.col(f"{name}_l") == F.col(f"{name}_r"), F.lit(False))
    agreeing = {row["i"]: row["agrees"] for row in sides[0].join(sides[1], "i").select("i", agrees.alias("agrees")).collect()}
    return levels, [rows[i] for i, level in enumerate(levels) if level in upper and not agreeing[i]]


@pytest.mark.parametrize("finer", [False, True], ids=["link-keys", "bounds"])
def test_every_pair_at_an_upper_id_level_agrees_on_an_agreement_column(spark, levels_of, finer):
    """agreement_columns is what an incremental run prunes by (a pair that may link must agree on one of them), and
    LEVEL_BOUND_AGREEMENTS what its bounds read (a pair at the typo level must agree on one of them)."""
    rows = [(number, edited_number(number, edits)) for number, edits in NEAR_IDS]
    levels, missed = upper_id_pairs_without_agreement(spark, levels_of, rows, finer)
    assert levels == [TYPO] * len(rows) and missed == []


@settings(max_examples=6, deadline=None)
@given(st.lists(st.tuples(st.text("0123456789", min_size=18, max_size=18), EDITS), min_size=1, max_size=300), st.booleans())
def test_no_edited_number_at_an_upper_id_level_escapes_the_agreement_columns(spark, levels_of, edited, finer):
    rows = [(number, edited_number(number, edits)) for number, edits in edited]
    assert upper_id_pairs_without_agreement(spark, levels_of, rows, finer)[1] == []


def test_name_levels_agree_on_what_they_compare(spark):
    from transforms.resolve.comparisons import agreement_columns

    spec = ComparisonSpec(kind="chinese_name", column="name")
    assert sorted(agreement_columns(spec, "exact name")) == ["name_raw_clean"]
    assert sorted(agreement_columns(spec, "same pinyin (homophone)")) == ["name", "name_pinyin", "name_raw_clean"]
    assert agreement_columns(spec, "given name only") is None, "a Jaro-Winkler level agrees on nothing exactly"


def test_link_keys_follow_the_profile_requirements(spark):
    from transforms.resolve.probabilistic import keeps_link_keys, link_agreements
    from transforms.resolve.profile import load_profile

    columns = ["name", "name_pinyin", "name_raw_clean", "id_number"]
    assert sorted(link_agreements(load_profile(), columns)) == sorted(
        ["name", "name_pinyin", "name_raw_clean", "id_number", "id_number_7_12", "id_number_13_17", "id_number_sorted"])
    assert link_agreements(load_profile("latin_person"), columns) is None, "a profile without link requirements lets any pair link"
    assert keeps_link_keys(load_profile()) and not keeps_link_keys(load_profile("latin_person"))


def test_a_spreadsheet_rounded_number_is_compared_only_where_one_side_has_no_more(levels_of):
    """3.30108200E+17 is what Excel shows of 330108199808130670: the ninth digit rounded up carries."""
    def rounded(digits: str, spreadsheet: bool) -> dict:
        return {"id_rounded": digits, "id_rounded_is_rounded": spreadsheet}
    shown, full, other = rounded("330108200", True), rounded("330108200", False), rounded("330108199", False)
    pairs = [(full, shown), (shown, shown), (shown, other), (full, full), (full, {"id_rounded": None, "id_rounded_is_rounded": False})]
    assert levels_of("rounded_id", "id_rounded", pairs) == ["agrees with a spreadsheet-rounded number"] * 2 + ["else", "null", "null"]


DATE_CASES = [
    (dt.date(1980, 3, 7), "exact"), (dt.date(1980, 7, 3), "day-month swap"),
    (dt.date(1980, 3, 8), "one day apart"), (dt.date(1981, 3, 7), "else"),
]


def test_birth_date_levels(levels_of):
    pairs = [({"birth_date": dt.date(1980, 3, 7)}, {"birth_date": other}) for other, _ in DATE_CASES]
    assert levels_of("birth_date", "birth_date", pairs) == [e for _, e in DATE_CASES]


def address(admin_code: str | None, detail: str) -> dict:
    return {"address_key": f"{admin_code}|{detail}" if admin_code else detail, "admin_code": admin_code}


ADDRESS_CASES = [
    (address("330102", "清波街道延安路45号14幢1单元1103室"), "exact address"),
    (address("330102", "清波街道延安路45号14幢1单元1108室"), "address Jaro-Winkler >= 0.9"),
    (address("330102", "小营街道中山中路286号"), "same division"),
    (address("330106", "翠苑街道天目山路334号"), "else"),
]


def test_address_levels(levels_of):
    home = address("330102", "清波街道延安路45号14幢1单元1103室")
    pairs = [(home, other) for other, _ in ADDRESS_CASES] + [(home, {"address_key": None, "admin_code": None})]
    assert levels_of("address", "address_key", pairs) == [e for _, e in ADDRESS_CASES] + ["null"]


def test_latin_addresses_compare_by_their_text(levels_of):
    flat = address(None, "12highstreet,leedsls14ab")
    pairs = [(flat, address(None, "12highstreet,leedsls14ab")), (flat, address(None, "12highstreet,leedsls14ac")),
             (flat, address(None, "99parklane,london"))]
    assert levels_of("address", "address_key", pairs) == ["exact address", "address Jaro-Winkler >= 0.9", "else"]


def test_exact_and_latin_name_levels(levels_of):
    phone = {"phone": "13800000000"}
    assert levels_of("exact", "phone", [(phone, phone), (phone, {"phone": "13900000000"})]) == ["exact", "else"]
    smith = {"name": "john smith", "surname": "smith"}
    pairs = [(smith, {"name": "jon smith", "surname": "smith"}), (smith, {"name": "mary smith", "surname": "smith"})]
    assert levels_of("latin_name", "name", pairs) == ["Jaro-Winkler >= 0.92", "same surname"]


ONE_DIGIT = "one digit or transposition in first 17"
REQUIREMENT_CASES = [
    ("else", ONE_DIGIT, False),  # twins: one sequence digit apart, names wholly different
    ("given name only", ONE_DIGIT, True),  # a typo in the number, a surname written otherwise
    ("null", ONE_DIGIT, True),  # a record without a name does not contradict the number
    ("same pinyin (homophone)", "else", True),
    ("pinyin Jaro-Winkler >= 0.9 (same surname)", "same first 14", False),  # siblings of one birthday
    ("null", "null", False),
]


def test_link_requirements_refuse_what_a_household_shares(spark):
    from transforms.resolve.probabilistic import level_labels, link_allowed
    from transforms.resolve.profile import load_profile

    profile = load_profile()
    model = profile.trained_model()
    weight = {name: {label: w for w, label in by_weight.items()} for name, by_weight in level_labels(model).items()}
    rows = [(i, weight["name"][name_level], weight["id_number"][id_level]) for i, (name_level, id_level, _) in enumerate(REQUIREMENT_CASES)]
    frame = spark.createDataFrame(rows, "i int, mw_name double, mw_id_number double")
    allowed = [row["allowed"] for row in frame.select("i", link_allowed(model, profile).alias("allowed")).orderBy("i").collect()]
    assert allowed == [expected for *_, expected in REQUIREMENT_CASES]
