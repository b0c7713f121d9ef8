"""The benchmark's peer: a plain Splink 5 pipeline, as a competent newcomer would write it.

It reads the same standardised person records as cityhub's resolver but only their raw values,
cleans them lightly (trim, lower-case names, upper-case the ID's `x`, digits-only phones, a few
date formats), and leaves everything else to Splink: Jaro-Winkler on the name, exact DOB, ID, phone
and gender, blocking on ID, DOB, phone and name, u by random sampling, m by EM, a 0.9 threshold and
connected components. Nothing here knows about Chinese names or ID numbers; that is the point.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from cityhub.lake import Lake

THRESHOLD = 0.9
# The date layouts a newcomer would try after looking at a few rows; anything else stays null.
DATE_FORMATS = ("yyyy-MM-dd", "yyyyMMdd", "yyyy/M/d", "yyyy-M-d", "yyyy.M.d")
RAW_COLUMNS = ("record_key", "id_number_raw", "name_raw", "birth_date_raw", "phone_raw", "gender_raw")


@dataclass(frozen=True)
class Options:
    """Knobs a newcomer leaves at Splink's defaults; tests turn them down to stay quick on a dozen rows."""

    threshold: float = THRESHOLD
    max_iterations: int = 25  # Splink's default EM iterations
    u_max_pairs: float = 1e6
    u_chunks: int = 10  # Splink's default sampling chunks
    break_lineage_method: str | None = None  # Splink's default on Spark: parquet under the checkpoint dir


def _blank_to_null(column: Column) -> Column:
    return F.when(column == "", None).otherwise(column)


def naive_birth_date(raw: Column) -> Column:
    """The raw birth date parsed by the first of a few common layouts that fits (null otherwise)."""
    text = F.trim(raw)
    return F.coalesce(*(F.try_to_date(text, fmt) for fmt in DATE_FORMATS)).cast("string")


def light_clean(persons: DataFrame) -> DataFrame:
    """Splink's input: one row per record with cleaned name, birth_date, id_number, phone, gender."""
    return persons.select(
        F.col("record_key"),
        _blank_to_null(F.upper(F.regexp_replace(F.trim("id_number_raw"), r"\s+", ""))).alias("id_number"),
        _blank_to_null(F.lower(F.trim("name_raw"))).alias("name"),
        naive_birth_date(F.col("birth_date_raw")).alias("birth_date"),
        _blank_to_null(F.regexp_replace(F.col("phone_raw"), r"[^0-9]", "")).alias("phone"),
        _blank_to_null(F.lower(F.trim("gender_raw"))).alias("gender"),
    )


def settings(max_iterations: int = 25):
    """The Splink model: comparisons and the blocking rules that generate candidate pairs (EM iterations as Splink's default)."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.9, 0.7]),
            cl.ExactMatch("birth_date"),
            cl.ExactMatch("id_number"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("gender"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id_number"), block_on("birth_date"), block_on("phone"), block_on("name"),
        ],
        retain_intermediate_calculation_columns=False,
        max_iterations=max_iterations,
    )


def train(linker, options: Options = Options()) -> None:
    """λ from a deterministic ID rule, u by random sampling, m by EM on two blocking rules."""
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match([block_on("id_number")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=options.u_max_pairs, seed=1, num_chunks=options.u_chunks)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name"))


def cluster_records(spark: SparkSession, persons: DataFrame, options: Options = Options()) -> dict[str, str]:
    """record_key → cluster id from plain Splink over standardised person records (raw columns only)."""
    from splink import Linker, SparkAPI

    db_api = SparkAPI(spark_session=spark, break_lineage_method=options.break_lineage_method)
    cleaned = light_clean(persons).persist()
    try:
        linker = Linker(db_api.register(cleaned), settings(options.max_iterations), log_level=logging.WARNING)
        train(linker, options)
        predictions = linker.inference.predict(threshold_match_probability=options.threshold)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold_match_probability=options.threshold)
        frame = clusters.as_spark_dataframe().select("record_key", F.col("cluster_id").cast("string")).toPandas()
    finally:
        cleaned.unpersist()
    return dict(zip(frame["record_key"], frame["cluster_id"]))


def read_raw_persons(spark: SparkSession, lake: Lake, run_id: str) -> DataFrame:
    """The run's standardised person records, reduced to the raw columns the peer is allowed to see."""
    path: Path = lake.standardised_persons(run_id)
    return spark.read.parquet(str(path)).select(*RAW_COLUMNS)


def run_plain_splink(spark: SparkSession, lake: Lake, run_id: str, options: Options = Options()) -> dict[str, str]:
    """record_key → cluster id for the run's standardised persons, by the plain Splink pipeline."""
    return cluster_records(spark, read_raw_persons(spark, lake, run_id), options)
