"""Matching: standardised person records → links (which resident anchor each record joins) and a review queue.

This is the interface the resolve step (and incremental runs) call. `match_persons` runs

1. the deterministic pass (linking.py): usable ID numbers anchor residents; a record whose ID
   number contradicts its own birth data (a parent's number on a child's record) is matched as a
   record without an ID, and the pair goes to review (`id_conflict`);
2. the probabilistic pass (probabilistic.py, Splink on Spark) for records not anchored by an ID;
3. clustering with guardrails (guardrails.py): never two ID numbers in one resident, chains to review.

Every link carries its rule, its probability and its evidence (JSON: the rule, or per comparison the
level and match weight).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.standardise.id_number import USABLE_STATUSES

from .guardrails import cluster
from .ids import ID_NUMBER_ANCHOR, RECORD_ANCHOR
from .linking import ID_DOUBT_FLAGS, SINGLETON, has_flag, link_records
from .probabilistic import score_pairs
from .profile import MatchingProfile, load_profile

REVIEW_COLUMNS = ("record_key", "other_record_key", "reason", "match_probability", "evidence")
REVIEW_SCHEMA = "record_key string, other_record_key string, reason string, match_probability double, evidence string"
LINK_COLUMNS = ("anchor_kind", "anchor_value", "match_rule", "match_probability", "match_evidence")
PROBABILISTIC, ID_CONFLICT = "probabilistic", "id_conflict"


@dataclass
class Matches:
    """The result of matching: one link per input record, pairs for review, and the trained model."""

    links: DataFrame   # input columns + anchor_kind, anchor_value, match_rule, match_probability, match_evidence
    review: DataFrame  # REVIEW_COLUMNS, evidence as JSON text
    model: dict | None  # the trained Splink model (JSON-able), reusable without retraining


def rule_evidence() -> Column:
    """Evidence of a deterministic link: the rule that made it, as JSON."""
    return F.to_json(F.struct(F.col("match_rule").alias("rule"), F.col("match_probability").cast("double").alias("probability")))


def unlinked(persons: DataFrame) -> DataFrame:
    """Every record on its own (profiles without an ID pass start here)."""
    return persons.select(
        "*", F.lit(RECORD_ANCHOR).alias("anchor_kind"), F.col("record_key").alias("anchor_value"),
        F.lit(SINGLETON).alias("match_rule"), F.lit(1.0).alias("match_probability"),
    )


def id_conflicts(persons: DataFrame) -> DataFrame:
    """Review rows for records whose usable ID number contradicts their own birth data, against the number's first anchored record."""
    doubted = F.lit(False)
    for flag in ID_DOUBT_FLAGS:
        doubted = doubted | has_flag(flag)
    usable = F.col("id_number").isNotNull() & F.col("id_status").isin(*sorted(USABLE_STATUSES))
    flagged = persons.filter(usable & doubted).select("record_key", "id_number", F.col("flags"))
    holders = persons.filter(usable & ~doubted).groupBy("id_number").agg(F.min("record_key").alias("other_record_key"))
    return flagged.join(holders, "id_number", "left").select(
        "record_key", "other_record_key", F.lit(ID_CONFLICT).alias("reason"), F.lit(None).cast("double").alias("match_probability"),
        F.to_json(F.struct(F.lit(ID_CONFLICT).alias("rule"), F.col("flags"))).alias("evidence"),
    )


def prepare_columns(links: DataFrame, profile: MatchingProfile) -> DataFrame:
    """The frame Splink scores: record_key, id_anchor, cluster_key and the columns the profile compares and blocks on."""
    kinds = {spec.kind for spec in profile.comparisons}
    frame = links.withColumn("cluster_key", F.concat_ws(":", "anchor_kind", "anchor_value"))
    frame = frame.withColumn("id_anchor", F.when(F.col("anchor_kind") == ID_NUMBER_ANCHOR, F.col("anchor_value")))
    if "chinese_name" in kinds:
        raw = F.regexp_replace(F.col("name_raw"), r"\s", "") if "name_raw" in links.columns else F.col("name")
        frame = frame.withColumns({
            "name_raw_clean": F.coalesce(raw, F.col("name")),
            "surname": F.substring("name", 1, 1), "given_name": F.expr("substring(name, 2)"),
        })
    if "latin_name" in kinds:
        name = F.lower(F.trim(F.regexp_replace("name", r"\s+", " ")))
        frame = frame.withColumn("name", F.when(name != "", name)).withColumn("surname", F.element_at(F.split("name", " "), -1))
    if "id_number" in kinds:
        # Records without a usable number still carry what they have: a typo'd number is evidence too.
        raw = F.upper(F.regexp_replace(F.col("id_number_raw"), r"[^0-9xX]", "")) if "id_number_raw" in links.columns else F.lit(None)
        frame = frame.withColumn("id_number", F.coalesce("id_number", F.when(F.length(raw) >= 15, raw)))
        frame = frame.withColumn("id_prefix14", F.when(F.length("id_number") >= 14, F.substring("id_number", 1, 14)))
    wanted = ["record_key", "id_anchor", "cluster_key", *profile.columns(),
              *(["name_raw_clean", "name_pinyin", "given_name", "surname"] if "chinese_name" in kinds else []),
              *(["surname"] if "latin_name" in kinds else [])]
    return frame.select(*dict.fromkeys(wanted))


def apply_clusters(links: DataFrame, anchors: dict, record_links: dict) -> DataFrame:
    """Links with merged clusters re-anchored and probabilistically joined records carrying probability and evidence."""
    spark = links.sparkSession
    cluster_key = F.concat_ws(":", "anchor_kind", "anchor_value")
    anchor_rows = pd.DataFrame([(k, kind, value) for k, (kind, value) in anchors.items()],
                               columns=["cluster_key", "new_kind", "new_value"])
    link_rows = pd.DataFrame([(k, p, e) for k, (p, e) in record_links.items()], columns=["record_key", "link_probability", "link_evidence"])
    anchor_frame = spark.createDataFrame(anchor_rows, "cluster_key string, new_kind string, new_value string")
    link_frame = spark.createDataFrame(link_rows, "record_key string, link_probability double, link_evidence string")
    joined = links.withColumn("cluster_key", cluster_key).join(F.broadcast(anchor_frame), "cluster_key", "left") \
        .join(F.broadcast(link_frame), "record_key", "left")
    linked = F.col("link_probability").isNotNull()
    return joined.select(
        *[c for c in links.columns if c not in LINK_COLUMNS],
        F.coalesce("new_kind", "anchor_kind").alias("anchor_kind"),
        F.coalesce("new_value", "anchor_value").alias("anchor_value"),
        F.when(linked, F.lit(PROBABILISTIC)).otherwise(F.col("match_rule")).alias("match_rule"),
        F.when(linked, F.col("link_probability")).otherwise(F.col("match_probability")).alias("match_probability"),
        F.when(linked, F.col("link_evidence")).otherwise(F.col("match_evidence")).alias("match_evidence"),
    )


def match_persons(persons: DataFrame, profile: MatchingProfile | None = None, model: dict | None = None) -> Matches:
    """Link standardised person records into resident anchors under `profile` (default: Chinese residents)."""
    profile = profile or load_profile()
    spark = persons.sparkSession
    links = link_records(persons) if profile.id_anchored else unlinked(persons)
    links = links.withColumn("match_probability", F.col("match_probability").cast("double")).withColumn("match_evidence", rule_evidence())
    links = links.persist()
    pairs, model = score_pairs(prepare_columns(links, profile), profile, model or profile.trained_model())
    clusters = cluster(pairs.toPandas(), profile.threshold)
    review = spark.createDataFrame(pd.DataFrame(clusters.review, columns=list(REVIEW_COLUMNS)), REVIEW_SCHEMA)
    if profile.id_anchored:
        review = id_conflicts(persons).unionByName(review)
    return Matches(links=apply_clusters(links, clusters.anchors, clusters.links), review=review, model=model)
