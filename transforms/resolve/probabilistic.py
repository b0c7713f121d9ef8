"""The probabilistic pass: Splink 5 (Fellegi-Sunter) on Spark over the records the deterministic pass left open.

Every record takes part, but a candidate pair is only scored when at least one side is not anchored
by an ID number and the two are not already in one cluster: records without a usable ID are scored
against each other and against *all* records of ID-anchored clusters (not a representative, so every
spelling a department used can vouch for the link).

Training (when no model is given): λ from the profile's deterministic rule, u by random sampling,
m by expectation maximisation on each of the profile's EM blocking rules. The trained model is a
plain settings dictionary, reusable by a later (incremental) run without retraining.
"""

from __future__ import annotations

import logging
import math

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from .comparisons import comparison
from .profile import MatchingProfile

UNIQUE_ID = "record_key"
# Columns the pass adds to each record before Splink sees it (matching.prepare_columns).
OPEN_PAIR = "(l.id_anchor IS NULL OR r.id_anchor IS NULL) AND l.cluster_key <> r.cluster_key"


def blocking_rule(columns: list[str]) -> str:
    """SQL of one prediction blocking rule: the columns agree and the pair is worth scoring."""
    agree = " AND ".join(f"l.{c} = r.{c}" for c in columns)
    return f"{agree} AND {OPEN_PAIR}"


def settings(profile: MatchingProfile) -> dict:
    """Splink settings (untrained) for the profile."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": UNIQUE_ID,
        "comparisons": [comparison(spec) for spec in profile.comparisons],
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": blocking_rule(rule), "sql_dialect": "spark"} for rule in profile.blocking
        ],
        "additional_columns_to_retain": ["id_anchor", "cluster_key"],
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": False,
        "max_iterations": profile.training.max_iterations,
        "em_convergence": 0.001,
    }


def train(linker, profile: MatchingProfile) -> None:
    """λ from the deterministic rule, u by random sampling, m by EM on each EM blocking rule."""
    from splink import block_on

    training = profile.training
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*training.deterministic_rule)], recall=training.deterministic_recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=training.u_max_pairs, seed=1)
    for rule in training.em_blocking:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))


def level_weights(model: dict) -> dict[str, dict[float, str]]:
    """Per comparison output column: level match weight (rounded) → level label, from the trained m and u."""
    labels = {}
    for comp in model["comparisons"]:
        by_weight = {0.0: "null"}
        for level in comp["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if not level.get("is_null_level") and m and u:
                by_weight[round(math.log2(m / u), 4)] = level["label_for_charts"]
        labels[comp["output_column_name"]] = by_weight
    return labels


def evidence_column(model: dict, columns: list[str]) -> Column:
    """JSON evidence of a scored pair: per comparison its level and match weight (log2 Bayes factor), and the probability.

    Splink returns each comparison's match weight (`mw_<name>`, plus `mw_tf_adj_<name>` for term
    frequencies); the level is the one whose trained m/u give that weight.
    """
    entries = []
    for name, by_weight in level_weights(model).items():
        level_weight = F.col(f"mw_{name}")
        label = F.create_map(*(F.lit(x) for pair in by_weight.items() for x in pair))[F.round(level_weight, 4)]
        weight = level_weight + F.col(f"mw_tf_adj_{name}") if f"mw_tf_adj_{name}" in columns else level_weight
        entries.append(F.struct(F.lit(name).alias("comparison"), label.alias("level"), F.round(weight, 3).alias("match_weight")))
    return F.to_json(F.struct(
        F.lit("probabilistic").alias("rule"), F.round("match_probability", 6).alias("probability"),
        F.round("match_weight", 3).alias("match_weight"), F.array(*entries).alias("comparisons"),
    ))


def score_pairs(frame: DataFrame, profile: MatchingProfile, model: dict | None) -> tuple[DataFrame, dict]:
    """Scored candidate pairs at or above the review threshold, with evidence; and the (trained) model.

    `frame` carries record_key, id_anchor, cluster_key and the profile's columns. Pairs come back as
    record_key_l, record_key_r, id_anchor_l, id_anchor_r, cluster_key_l, cluster_key_r, match_probability, evidence.
    """
    from splink import Linker, SparkAPI

    db_api = SparkAPI(spark_session=frame.sparkSession)
    untrained = settings(profile)
    # The profile decides which pairs are scored, also under a model trained with other blocking rules.
    model = {**model, "blocking_rules_to_generate_predictions": untrained["blocking_rules_to_generate_predictions"]} if model else None
    linker = Linker(db_api.register(frame), model or untrained, log_level=logging.WARNING)
    if model is None:
        train(linker, profile)
        model = linker.misc.save_model_to_json()
    predictions = linker.inference.predict(threshold_match_probability=profile.review_threshold).as_spark_dataframe()
    pairs = predictions.select(
        "record_key_l", "record_key_r", "id_anchor_l", "id_anchor_r", "cluster_key_l", "cluster_key_r",
        F.col("match_probability").cast("double").alias("match_probability"),
        evidence_column(model, predictions.columns).alias("evidence"),
    )
    return pairs, model

