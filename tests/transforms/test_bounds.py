"""Bounds on what Splink can score a pair: read from the levels' SQL, and never below what Splink scores."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from transforms.resolve.bounds import Level, comparison_bounds, parsed_level
from transforms.resolve.profile import load_profile


def levels_by_label(name: str) -> dict[str, Level]:
    model = load_profile().trained_model()
    bound = next(c for c in comparison_bounds(model, load_profile()) if c.name == name)
    return {level.label: level for level in bound.levels}


def test_an_exact_level_is_decided_by_its_equality():
    name = levels_by_label("name")
    assert name["exact name"].agreements == (("name_raw_clean",),) and name["exact name"].decided
    assert name["exact name"].tf is not None and name["exact name"].tf.column == "name_raw_clean"
    assert name["null"].is_null and name["null"].decided and name["null"].missing == ("name",)


def test_a_level_with_more_than_equalities_only_needs_them():
    name, dates = levels_by_label("name"), levels_by_label("birth_date")
    assert name["pinyin Jaro-Winkler >= 0.9 (same surname)"].agreements == (("surname",),)
    assert not name["pinyin Jaro-Winkler >= 0.9 (same surname)"].decided
    assert dates["day-month swap"].agreements == (("YEAR(birth_date)",),) and not dates["day-month swap"].decided
    assert dates["one day apart"].agreements == () and not dates["one day apart"].decided
    assert levels_by_label("id_number")["same first 14"].decided, "an equality of one expression over each side decides it"


def test_a_level_takes_the_agreements_its_comparison_declares():
    # No equality in its SQL, but comparisons.LEVEL_AGREEMENTS promises one of three, and LEVEL_BOUND_AGREEMENTS one of 18 (tested
    # in test_matching_comparisons).
    typo = levels_by_label("id_number")["one digit or transposition in first 17"]
    assert [len(clause) for clause in typo.agreements] == [3, 18] and not typo.decided


def test_a_null_level_of_other_tests_is_never_decided():
    rounded = levels_by_label("id_rounded")["null"]
    assert rounded.is_null and not rounded.decided


def test_or_of_equalities_is_one_clause_of_alternatives():
    level = parsed_level({"sql_condition": "(a_l = a_r OR lower(b_l) = lower(b_r)) AND c_l = c_r", "label_for_charts": "x",
                          "m_probability": 0.5, "u_probability": 0.25}, [])
    assert level.agreements == (("a", "LOWER(b)"), ("c",)) and level.decided and level.weight == 1.0
    unknown = parsed_level({"sql_condition": "a_l = b_r", "label_for_charts": "y"}, [])
    assert unknown.agreements == () and not unknown.decided and math.isinf(unknown.weight), "no m or u: nothing bounds it"


def rarer(table: pa.Table, column: str) -> pa.Table:
    return table.set_column(table.column_names.index(f"tf_{column}"), f"tf_{column}", pc.divide(table[f"tf_{column}"], 1000.0))


@pytest.mark.spark
def test_no_pair_scores_above_its_bound_nor_is_weighed_when_ruled_out(spark, city_run):
    """Every pair of the small city's records sharing a blocking key (what an incremental run's edge holds), scored by Splink
    with the run's model and frequencies."""
    from splink import Linker, SparkAPI

    from cityhub.lake_tables import read_table
    from transforms.resolve.bounds import PairSides, bound_columns, may_be_weighed, possible_levels, threshold_weight
    from transforms.resolve.columns import comparison_columns, with_sql
    from transforms.resolve.incremental import MODEL, load_model, read_term_frequencies, spark_frame
    from transforms.resolve.matching import scoring_columns
    from transforms.resolve.probabilistic import link_allowed, rule_keys

    lake, profile = city_run.lake, load_profile()
    folder = lake.resolved("city1", MODEL)
    # Frequencies a thousand times lower than the small city's, so that rare values' adjustments raise their weight, as in a big city.
    model, frequencies = load_model(folder), {column: rarer(table, column) for column, table in read_term_frequencies(folder).items()}
    frame = comparison_columns(spark_frame(spark, read_table(lake.standardised_persons("city1"))), profile).selectExpr(
        "*", "CAST(NULL AS STRING) AS id_anchor", "CAST(NULL AS STRING) AS id_guard", "record_key AS cluster_key")
    keys = rule_keys(frame, profile.blocking).toArrow().select(["record_key", "key"])
    pairs = keys.join(keys.rename_columns(["other", "key"]), "key").filter(pc.less(pc.field("record_key"), pc.field("other")))
    pairs = pairs.group_by(["record_key", "other"]).aggregate([]).rename_columns(["join_key_l", "join_key_r"])
    db_api = SparkAPI(spark_session=spark)
    linker = Linker(db_api.register(frame.select(*scoring_columns(profile))), model, validate_settings=False)
    for column, table in frequencies.items():
        linker.table_management.register_term_frequency_lookup(db_api.register(spark_frame(spark, table)), column)
    blocked = spark_frame(spark, pairs.append_column("match_key", pa.array(["0"] * pairs.num_rows)))
    linker.table_management.register_blocked_pairs_for_predict(db_api.register(blocked))
    scored = linker.inference.predict().as_spark_dataframe()
    scored = scored.select("record_key_l", "record_key_r", "match_weight", "mw_tf_adj_name",
                           link_allowed(model, profile).alias("allowed")).toArrow()

    bounds = comparison_bounds(model, profile)
    columns = bound_columns(bounds)
    records = with_sql(frame, columns).select("record_key", *columns).toArrow()
    sides = PairSides.of(records, scored["record_key_l"], scored["record_key_r"], columns)
    prior = threshold_weight(model["probability_two_random_records_match"])
    bound = possible_levels(bounds, sides, prior, frequencies).best
    weight = scored["match_weight"].to_numpy()
    assert scored.num_rows == pairs.num_rows > 1000
    assert np.all(bound >= weight - 1e-9), "a bound below Splink's match weight"
    assert pc.max(scored["mw_tf_adj_name"]).as_py() > 0, "some pairs' name frequencies raise their weight"
    weighed = (weight >= threshold_weight(profile.review_threshold)) & scored["allowed"].to_numpy(zero_copy_only=False)
    ruled_in = may_be_weighed(bounds, model, profile, sides, frequencies)
    assert not np.any(weighed & ~ruled_in), "a pair Splink weighs was ruled out"
    assert weighed.sum() > 100 and ruled_in.sum() < 1.2 * weighed.sum(), (weighed.sum(), ruled_in.sum(), pairs.num_rows)
