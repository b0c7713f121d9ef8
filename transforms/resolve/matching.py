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


from .guardrails import cluster
from .ids import ID_NUMBER_ANCHOR, RECORD_ANCHOR
from transforms.standardise.person import ZERO_TAIL_FLAG

from .linking import SINGLETON, has_flag, id_conflict, link_records, usable_id, valid_id
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
    flagged = persons.filter(id_conflict()).select("record_key", "id_number", F.col("flags"))
    holders = persons.filter(usable_id()).groupBy("id_number").agg(F.min("record_key").alias("other_record_key"))
    return flagged.join(holders, "id_number", "left").select(
        "record_key", "other_record_key", F.lit(ID_CONFLICT).alias("reason"), F.lit(None).cast("double").alias("match_probability"),
        F.to_json(F.struct(F.lit(ID_CONFLICT).alias("rule"), F.col("flags"))).alias("evidence"),
    )


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


def guard_number(links: DataFrame) -> Column:
    """The number the clustering guardrail holds a record to: its anchor, or a zeroed-tail number (which agrees with any sharing its first 15 digits)."""
    anchor = F.when(F.col("anchor_kind") == ID_NUMBER_ANCHOR, F.col("anchor_value"))
    if not {"id_number", "id_status", "flags"} <= set(links.columns):
        return anchor  # a person file without ID numbers
    return anchor.when(valid_id() & has_flag(ZERO_TAIL_FLAG) & ~id_conflict(), F.col("id_number"))


def prepare_columns(links: DataFrame, profile: MatchingProfile) -> DataFrame:
    """The frame Splink scores: record_key, id_anchor, cluster_key and the columns the profile compares and blocks on."""
    kinds = {spec.kind for spec in profile.comparisons}
    frame = links.withColumn("cluster_key", F.concat_ws(":", "anchor_kind", "anchor_value"))
    frame = frame.withColumn("id_anchor", F.when(F.col("anchor_kind") == ID_NUMBER_ANCHOR, F.col("anchor_value")))
    frame = frame.withColumn("id_guard", guard_number(links))
    extra: list[str] = []
    if "chinese_name" in kinds:
        raw = F.regexp_replace(F.col("name_raw"), r"\s", "") if "name_raw" in links.columns else F.col("name")
        frame = frame.withColumns({
            "name_raw_clean": F.coalesce(raw, F.col("name")),
            "surname": F.substring("name", 1, 1), "given_name": F.expr("substring(name, 2)"),
        })
        extra += ["name_raw_clean", "name_pinyin", "given_name", "surname"]
    if "latin_name" in kinds:
        name = F.lower(F.trim(F.regexp_replace("name", r"\s+", " ")))
        frame = frame.withColumn("name", F.when(name != "", name)).withColumn("surname", F.element_at(F.split("name", " "), -1))
        extra += ["surname"]
    if "id_number" in kinds:
        # Training labels: records sharing a usable number are one person (doubted ones included, so
        # the labelled pairs show birth dates and genders as departments really write them). A number
        # contradicting its own record's birth date is someone else's: no evidence, so not compared.
        frame = frame.withColumn("id_label", F.when(valid_id(), F.col("id_number")))
        conflict = id_conflict()
        frame = frame.withColumns({
            "id_number": F.when(~conflict, id_digits(links)), "id_spreadsheet": F.when(~conflict, spreadsheet_digits(links)),
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
        admin_code = F.col("admin_code") if "admin_code" in links.columns else F.lit(None).cast("string")
        detail = F.lower(F.regexp_replace(F.col("address_detail"), r"\s+", "")) if "address_detail" in links.columns else F.lit(None)
        key = F.when(detail != "", F.concat_ws("|", admin_code, detail))
        frame = frame.withColumns({"address_key": key, "admin_code": admin_code})
        extra += ["admin_code"]
    if "id_number" in kinds:
        extra += ["id_label", "id_rounded", "id_rounded_is_rounded"]
    wanted = ["record_key", "id_anchor", "id_guard", "cluster_key", *profile.columns(), *extra]
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
    frame = prepare_columns(links, profile).persist()
    try:
        pairs, model = score_pairs(frame, profile, model)
        clusters = cluster(pairs.toPandas(), profile.threshold, profile.ambiguity_margin)
    finally:
        frame.unpersist()
    review = spark.createDataFrame(pd.DataFrame(clusters.review, columns=list(REVIEW_COLUMNS)), REVIEW_SCHEMA)
    if profile.id_anchored:
        review = id_conflicts(persons).unionByName(review)
    return Matches(links=apply_clusters(links, clusters.anchors, clusters.links), review=review, model=model)
