"""The probabilistic pass: Splink 5 (Fellegi-Sunter) on Spark over the records the deterministic pass left open.

Every record takes part, but a candidate pair is only scored when at least one side is not anchored
by an ID number and the two are not already in one cluster: records without a usable ID are scored
against each other and against *all* records of ID-anchored clusters (not a representative, so every
spelling a department used can vouch for the link).

Training (when no model is given), all on the run's own records: λ from the profile's deterministic
rule, u by random sampling, m from the pairs the label column says are matches (records sharing a
usable ID number), then by expectation maximisation on each of the profile's EM blocking rules for
what labels cannot show (how often an ID number is mistyped). Levels no training pair reached get a
small floor m. The trained model is a plain settings dictionary, reusable by a later (incremental)
run without retraining.
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from .columns import with_sql
from .comparisons import agreement_columns, comparison
from .linking import WINDOW_COLUMNS, sql_string
from .profile import MatchingProfile

UNIQUE_ID = "record_key"
# Carried onto each scored pair (both sides) for clustering.
PAIR_COLUMNS = ("record_key", "id_anchor", "id_guard", "cluster_key")
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
        "additional_columns_to_retain": ["id_anchor", "id_guard", "cluster_key"],
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": False,
        "max_iterations": profile.training.max_iterations,
        "em_convergence": 0.001,
    }


def present_sql(columns: list[str]) -> str:
    """SQL, true where every one of `columns` has a value: a blocking rule or a counted rule applies to the record."""
    return " AND ".join(f"`{column}` IS NOT NULL" for column in columns) or "true"


def all_present(columns: list[str]) -> Column:
    """present_sql as a column."""
    return F.expr(present_sql(columns))


def rule_pairs(frame: DataFrame, columns: list[str]) -> tuple[float, int]:
    """(pairs of records agreeing on every one of `columns`, records): the groups' Σ C(n, 2), in one aggregation."""
    groups = frame.groupBy(F.when(all_present(columns), F.struct(*columns)).alias("group")).count()
    counted = groups.agg(
        F.sum(F.when(F.col("group").isNotNull(), F.col("count") * (F.col("count") - 1) / 2)).alias("pairs"),
        F.sum("count").alias("records"),
    ).first()
    return float(counted["pairs"] or 0.0), int(counted["records"] or 0)


class PairCounts:
    """`rule_pairs` of one frame, each rule counted once: training asks for the same rule (the ID label) more than once."""

    def __init__(self, frame: DataFrame) -> None:
        self.frame = frame
        self._counted: dict[tuple[str, ...], tuple[float, int]] = {}

    def __call__(self, columns: list[str]) -> tuple[float, int]:
        key = tuple(columns)
        if key not in self._counted:
            self._counted[key] = rule_pairs(self.frame, list(columns))
        return self._counted[key]


def prior_match_probability(counts: PairCounts, profile: MatchingProfile) -> float:
    """λ, the probability that two random records match: pairs agreeing on the deterministic rule, over its recall, over all pairs.

    What Splink's `estimate_probability_two_random_records_match` computes for one rule, as one
    aggregation instead of a blocking job.
    """
    agreeing, records = counts(profile.training.deterministic_rule)
    total = records * (records - 1) / 2
    if total == 0 or agreeing == 0:
        return 1.0 / max(records, 2)  # nothing to estimate from: about one match per record
    return min(agreeing / profile.training.deterministic_recall / total, 0.5)


def too_few_labels(counts: PairCounts, profile: MatchingProfile) -> bool:
    """True when the run has fewer labelled pairs than the profile needs to train m (no label column: never)."""
    column = profile.training.label_column
    return column is not None and counts([column])[0] < profile.training.min_label_pairs


def train(linker, profile: MatchingProfile) -> None:
    """u by random sampling, m from the label column and by EM on the profile's EM blocks (λ is in the settings)."""
    from splink import block_on

    training = profile.training
    linker.training.estimate_u_using_random_sampling(max_pairs=training.u_max_pairs, seed=1, num_chunks=training.u_chunks)
    if training.label_column:
        linker.training.estimate_m_from_label_column(training.label_column)
    for rule in training.em_blocking:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))


# The least m a level keeps: a level (almost) no training pair fell into is rare among matches, but
# an m of (nearly) zero would make it veto any pair whatever else agrees (one mistyped gender).
MIN_M = 1e-3


def floor_unseen_levels(model: dict, u_pairs: float) -> dict:
    """The model with every level's m at least MIN_M, and untrained u set to 1 / the pairs u was sampled from.

    A level none of `u_pairs` random pairs reached has u below about 1 / u_pairs; left untrained,
    Splink would score it with a default u that swamps what the level says. m and u are renormalised
    per comparison.
    """
    for comp in model["comparisons"]:
        levels = [level for level in comp["comparison_levels"] if not level.get("is_null_level")]
        for level in levels:
            level["m_probability"] = max(level.get("m_probability") or 0.0, MIN_M)
            level["u_probability"] = level.get("u_probability") or 1.0 / u_pairs
        for key in ("m_probability", "u_probability"):
            total = sum(level[key] for level in levels)
            for level in levels:
                level[key] /= total
    return model


def level_labels(model: dict) -> dict[str, dict[float, str]]:
    """Per comparison output column: level match weight (rounded) → level label, from the model's m and u.

    Splink's predictions carry each comparison's match weight (`mw_<name>`, term frequencies apart in
    `mw_tf_adj_<name>`) but not its level, so the level is the one whose m and u give that weight.
    """
    labels = {}
    for comp in model["comparisons"]:
        by_weight = {0.0: "null"}
        for level in comp["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if not level.get("is_null_level") and m and u:
                by_weight[round(math.log2(m / u), 4)] = level["label_for_charts"]
        labels[comp["output_column_name"]] = by_weight
    return labels


# The columns below are written as Spark SQL text: built of Column calls, the evidence of a dozen comparisons took hundreds
# of calls into Spark for each query that scores pairs.
def double_sql(value: float) -> str:
    """A float as an exact Spark SQL double literal."""
    return f"CAST('{value!r}' AS DOUBLE)"


def level_sql(name: str, by_weight: dict[float, str]) -> str:
    """SQL of the level label of comparison `name` on a scored pair."""
    entries = ", ".join(f"{double_sql(weight)}, {sql_string(label)}" for weight, label in by_weight.items())
    return f"map({entries})[round(`mw_{name}`, 4)]"


def evidence_column(model: dict, columns: list[str]) -> Column:
    """JSON evidence of a scored pair: per comparison its level and match weight (log2 Bayes factor, term frequency included), and the probability."""
    entries = []
    for name, by_weight in level_labels(model).items():
        weight = f"`mw_{name}` + `mw_tf_adj_{name}`" if f"mw_tf_adj_{name}" in columns else f"`mw_{name}`"
        entries.append(f"named_struct('comparison', {sql_string(name)}, 'level', {level_sql(name, by_weight)}, "
                       f"'match_weight', round({weight}, 3))")
    return F.expr(f"to_json(named_struct('rule', 'probabilistic', 'probability', round(match_probability, 6), "
                  f"'match_weight', round(match_weight, 3), 'comparisons', array({', '.join(entries)})))")


def link_allowed(model: dict, profile: MatchingProfile) -> Column:
    """True for pairs meeting one of the profile's `link_requires` (all pairs when it lists none)."""
    if not profile.link_requires:
        return F.lit(True)
    labels = level_labels(model)
    order = {comp["output_column_name"]: [level["label_for_charts"] for level in comp["comparison_levels"] if not level.get("is_null_level")]
             for comp in model["comparisons"]}

    def level_at_least(condition) -> str:  # null where the pair has no level for it (a side without the value)
        levels = order[condition.comparison]
        level = level_sql(condition.comparison, labels[condition.comparison])
        wanted = ", ".join(sql_string(label) for label in levels[:levels.index(condition.at_least) + 1])
        return f"CASE WHEN {level} != 'null' THEN {level} IN ({wanted}) END"

    met = []
    for requirement in profile.link_requires:
        met.append(" AND ".join([f"coalesce({level_at_least(requirement)}, false)",
                                 *(f"coalesce({level_at_least(condition)}, true)" for condition in requirement.provided)]))
    return F.expr(" OR ".join(f"({condition})" for condition in met))


def rule_keys(frame: DataFrame, rules: list[list[str]], carry: tuple[str, ...] = ()) -> DataFrame:
    """(record_key, *carry, rule, key): one row per blocking rule a record has every column of, `key` a 64-bit hash of the rule's position and values.

    One pass over the records (an exploded array), not one scan per rule.
    """
    # One SQL expression: built of Column calls, the keys of a dozen rules took hundreds of calls into Spark.
    keys = [f"CASE WHEN {present_sql(rule)} THEN named_struct('rule', {position}, 'key', xxhash64({position}, {', '.join(f'`{c}`' for c in rule)})) END"
            for position, rule in enumerate(rules)]
    exploded = frame.select("record_key", *carry, F.expr(f"explode(array_compact(array({', '.join(keys)})))").alias("block"))
    return exploded.select("record_key", *carry, "block.rule", "block.key")


def link_agreements(profile: MatchingProfile, columns: list[str]) -> dict[str, str] | None:
    """Columns (name → Spark SQL over a frame of `columns`) of which two records agree on at least one whenever their link could matter.

    A pair the profile's `link_requires` refuses plays no part in clustering, whatever its score:
    every pair that may link agrees on a column one of the requirements' comparisons promises
    (comparisons.agreement_columns). The deterministic pass links by the number, the name and its
    pinyin (linking.WINDOW_COLUMNS), so those are added for a profile that runs it. None when the
    profile requires nothing, or a requirement promises no agreement: any pair may link.
    """
    if not profile.link_requires:
        return None
    specs = {spec.column: spec for spec in profile.comparisons}
    agreements = {}
    for requirement in profile.link_requires:
        promised = agreement_columns(specs[requirement.comparison], requirement.at_least)
        if promised is None:
            return None
        agreements.update(promised)
    if profile.id_anchored:
        agreements.update({column: f"`{column}`" for column in WINDOW_COLUMNS if column in columns})
    return agreements


def keeps_link_keys(profile: MatchingProfile) -> bool:
    """True when runs under `profile` keep link keys (some pairs can never link)."""
    return link_agreements(profile, []) is not None


def link_keys(frame: DataFrame, profile: MatchingProfile) -> DataFrame | None:
    """(record_key, key): a key for every link agreement a record has a value of; two records that may link share one (None: any two may)."""
    agreements = link_agreements(profile, frame.columns)
    if agreements is None:
        return None
    return rule_keys(with_sql(frame, agreements), [[name] for name in agreements]).select("record_key", "key")


def pair_keys(frame: DataFrame, rules: list[list[str]]) -> DataFrame:
    """rule_keys of every record with what candidate_pairs needs of it (id_anchor, cluster_key)."""
    return rule_keys(frame, rules, carry=("id_anchor", "cluster_key"))


# Rule keys of records without an ID anchor up to which they are broadcast to the join with every
# record's keys (about 60 bytes each); more, and both sides are shuffled.
BROADCAST_FREE_KEYS = 500_000


def candidate_pairs(keys: DataFrame) -> DataFrame:
    """Splink's blocked id pairs (match_key, join_key_l, join_key_r) from `pair_keys`: records agreeing on any rule's columns, worth scoring.

    A pair is worth scoring when it is not one cluster already and a side has no ID anchor (two
    anchors never link by probability), so only the keys of records without one are joined with
    every record's keys: one join for all rules, then one de-duplication keeping a pair's first rule
    (Splink's own blocking: each rule excludes the pairs of the rules before it). Few records lack
    an anchor in an ID-bearing file, so their keys are broadcast and every record's keys are read
    once, not shuffled. Two values hashing alike would only add a pair to score, never a link.
    """
    free = keys.where(F.col("id_anchor").isNull())
    if free.count() <= BROADCAST_FREE_KEYS:
        free = F.broadcast(free)
    left, right = free.alias("l"), keys.alias("r")
    on = (F.col("l.key") == F.col("r.key")) & (F.col("l.cluster_key") != F.col("r.cluster_key"))
    once = F.col("r.id_anchor").isNotNull() | (F.col("l.record_key") < F.col("r.record_key"))  # both free: found from each side
    pairs = left.join(right, on).where(once).select(
        F.col("l.rule").alias("rule"),
        F.least("l.record_key", "r.record_key").alias("join_key_l"), F.greatest("l.record_key", "r.record_key").alias("join_key_r"))
    return pairs.groupBy("join_key_l", "join_key_r").agg(F.min("rule").cast("string").alias("match_key"))


def training_sample(frame: DataFrame, records: int, total: int) -> DataFrame:
    """About `records` of the frame's records, whole clusters at a time (chosen by a hash of the cluster key); all when fewer."""
    if total <= records:
        return frame
    share = int(records / total * 1_000_000)
    return frame.where(F.abs(F.xxhash64("cluster_key")) % 1_000_000 < share)


def trained_model(counts: PairCounts, profile: MatchingProfile, db_api) -> dict:
    """A model trained on (a sample of) the counted frame: λ from all of it, u, m from the sample (see `train`)."""
    from splink import Linker

    frame = counts.frame
    untrained = settings(profile)
    untrained["probability_two_random_records_match"] = prior_match_probability(counts, profile)
    records = counts(profile.training.deterministic_rule)[1]  # every record, counted with the rule
    sample = training_sample(frame, profile.training.sample_records, records).persist()
    try:
        linker = Linker(db_api.register(sample), untrained, log_level=logging.WARNING)
        train(linker, profile)
        return floor_unseen_levels(linker.misc.save_model_to_json(), profile.training.u_max_pairs)
    finally:
        sample.unpersist()


def tf_columns(model: dict) -> list[str]:
    """The columns the model's levels adjust by term frequency."""
    return sorted({level["tf_adjustment_column"] for comp in model["comparisons"] for level in comp["comparison_levels"]
                   if level.get("tf_adjustment_column")})


def term_frequency_tables(frame: DataFrame, model: dict, given: dict[str, DataFrame] | None, db_api) -> dict[str, DataFrame]:
    """The model's term frequency tables by column: the `given` ones (an earlier run's), the others counted on the whole frame."""
    from splink import Linker

    tables = {column: table for column, table in (given or {}).items() if column in tf_columns(model)}
    missing = [column for column in tf_columns(model) if column not in tables]
    if missing:
        counting = Linker(db_api.register(frame), model, log_level=logging.WARNING)
        tables.update({column: counting.table_management.compute_tf_table(column).as_spark_dataframe() for column in missing})
    return tables


@dataclass
class Scored:
    """What the probabilistic pass gives matching: scored pairs, the (trained) model, its frequencies, every record's blocking keys."""

    pairs: DataFrame  # PAIR_COLUMNS of both sides (`_l`, `_r`), match_probability, match_weight, allowed, evidence
    model: dict
    term_frequencies: dict[str, DataFrame]
    blocking_keys: DataFrame  # (record_key, key) of every record, materialised: an incremental run starts from them
    link_keys: DataFrame | None  # link_keys of every record, materialised (None: the profile lets any pair link)


def score_pairs(frame: DataFrame, profile: MatchingProfile, model: dict | None,
                term_frequencies: dict[str, DataFrame] | None = None) -> Scored:
    """Scored candidate pairs at or above the review threshold, with evidence; the (trained) model; its term frequency tables; the blocking keys.

    `frame` carries PAIR_COLUMNS and the profile's columns. Pairs come back with PAIR_COLUMNS of both
    sides (`_l`, `_r`), match_probability, match_weight, `allowed` (the profile's link requirements
    hold) and evidence. Term frequencies are computed on the whole frame unless given (an incremental
    run scores a part of the records with the frequencies of all of them).
    """
    from splink import SparkAPI

    db_api = SparkAPI(spark_session=frame.sparkSession)
    counts = PairCounts(frame)
    if model is None and profile.model and too_few_labels(counts, profile):
        model = profile.trained_model()  # too small a run to estimate m on: the profile's reference model
    if model is None:
        model = trained_model(counts, profile, db_api)
    tables = term_frequency_tables(frame, model, term_frequencies, db_api)
    # Checkpointed: the pairs join them twice, and the resolve step keeps them for the next incremental run.
    keys = pair_keys(frame, profile.blocking).localCheckpoint()
    pairs = predicted_pairs(frame, candidate_pairs(keys).localCheckpoint(), model, tables, profile, db_api)
    links = link_keys(frame, profile)
    return Scored(pairs, model, tables, keys.select("record_key", "key"), links.localCheckpoint() if links is not None else None)


def predicted_pairs(frame: DataFrame, blocked: DataFrame, model: dict, tables: dict[str, DataFrame], profile: MatchingProfile,
                    db_api=None) -> DataFrame:
    """The `blocked` id pairs (match_key, join_key_l, join_key_r) of `frame`'s records that Splink scores at or above the review
    threshold: PAIR_COLUMNS of both sides (`_l`, `_r`), match_probability, match_weight, `allowed` and evidence.

    `frame` carries PAIR_COLUMNS and the profile's columns; `tables` are the model's term frequencies by column; `db_api` the
    caller's Splink SparkAPI (each new one registers Splink's functions in Spark again).
    """
    from splink import Linker, SparkAPI

    db_api = db_api or SparkAPI(spark_session=frame.sparkSession)
    # Splink scores only the pairs given, but joins the frequencies onto every record it is given:
    # records in no candidate pair (most of them) are left out.
    paired = blocked.select(F.col("join_key_l").alias(UNIQUE_ID)).unionByName(blocked.select(F.col("join_key_r").alias(UNIQUE_ID)))
    # The model was trained (or is the profile's reference model, checked by its tests): Splink's check of its settings
    # against the columns parses every level's SQL again, a tenth of a second per predict.
    linker = Linker(db_api.register(frame.join(paired.distinct(), UNIQUE_ID, "left_semi")), model, log_level=logging.WARNING,
                    validate_settings=False)
    for column, table in tables.items():
        linker.table_management.register_term_frequency_lookup(db_api.register(table), column)
    linker.table_management.register_blocked_pairs_for_predict(db_api.register(blocked))
    predictions = linker.inference.predict(threshold_match_probability=profile.review_threshold).as_spark_dataframe()
    return predictions.select(
        *(f"{column}_{side}" for column in PAIR_COLUMNS for side in "lr"),
        F.col("match_probability").cast("double").alias("match_probability"),
        F.col("match_weight").cast("double").alias("match_weight"),
        link_allowed(model, profile).alias("allowed"),
        evidence_column(model, predictions.columns).alias("evidence"),
    )


def splink_views(spark: SparkSession) -> set[str]:
    """The temporary views Splink has registered in the session (its inputs and its intermediate tables)."""
    return {table.name for table in spark.catalog.listTables(pattern="__splink__*") if table.isTemporary}


@contextmanager
def splink_in_memory(spark: SparkSession) -> Iterator:
    """A Splink SparkAPI that caches its intermediate tables instead of writing them as Parquet and reading them back, and
    drops them, uncached, when the block is left (Splink itself never releases a table on Spark).

    For a predict over a few hundred thousand given pairs, where the Parquet round trip took a third of
    its time (an incremental run's edge at 1M: 12.8-14.9 s written, 8.3-9.0 s cached). A full run's
    millions of predictions, and small parts, where the cache saved nothing, are written as Splink does.
    """
    from splink import SparkAPI

    before = splink_views(spark)
    try:
        yield SparkAPI(spark_session=spark, break_lineage_method="persist")
    finally:
        for view in splink_views(spark) - before:
            spark.catalog.dropTempView(view)
