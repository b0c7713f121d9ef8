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

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from cityhub.lake_tables import conformed, lookup

from .columns import comparison_columns, helper_columns
from .guardrails import cluster
from .ids import ID_NUMBER_ANCHOR, RECORD_ANCHOR
from .linking import ID_CHECK_COLUMNS, SINGLETON, id_conflict, link_records, usable_id, with_id_checks
from .probabilistic import score_pairs
from .profile import MatchingProfile, load_profile

REVIEW_SCHEMA = pa.schema([("record_key", pa.string()), ("other_record_key", pa.string()), ("reason", pa.string()),
                           ("match_probability", pa.float64()), ("evidence", pa.string())])
REVIEW_COLUMNS = tuple(REVIEW_SCHEMA.names)
# The pairs clustering weighs: scored at or above the review threshold, and allowed by the profile's link requirements.
PAIR_SCHEMA = pa.schema([("record_key_l", pa.string()), ("record_key_r", pa.string())])
LINK_COLUMNS = ("anchor_kind", "anchor_value", "match_rule", "match_probability", "match_evidence")
# What identifies a record in the xref: the links carry these of the person columns, no others.
RECORD_COLUMNS = ("record_key", "source", "stream", "source_record_id", "batch_id")
# What id_conflicts reads of a record: its number as standardised (the scoring columns blank a conflicting one) and its checks.
CONFLICT_COLUMNS = ("id_number", "flags", *ID_CHECK_COLUMNS)
# Prefix of the carried columns in the scoring frame: comparison_columns rewrites some person
# columns (id_number, birth_date…) for scoring, and the carried ones must stay as they were.
CARRIED = "_link_"
PROBABILISTIC, ID_CONFLICT = "probabilistic", "id_conflict"


@dataclass
class Matches:
    """The result of matching: one link per input record, pairs for review, and the trained model."""

    links: pa.Table   # RECORD_COLUMNS (those the input has) + anchor_kind, anchor_value, match_rule, match_probability, match_evidence
    review: pa.Table  # REVIEW_SCHEMA, evidence as JSON text
    model: dict | None  # the trained Splink model (JSON-able), reusable without retraining
    term_frequencies: dict[str, DataFrame] = field(default_factory=dict)  # column → its Splink term frequency table
    blocking_keys: DataFrame | None = None  # (record_key, key) of every input record (probabilistic.rule_keys), materialised
    link_keys: DataFrame | None = None  # probabilistic.link_keys of every input record, materialised (None: any pair may link)
    pairs: pa.Table = field(default_factory=PAIR_SCHEMA.empty_table)  # PAIR_SCHEMA: every pair clustering weighed (weighed_pairs)


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
    """Review rows for records whose usable ID number contradicts their own birth data, against the number's first anchored record.

    `persons` needs record_key, id_number, flags and the ID checks (added when missing).
    """
    persons = with_id_checks(persons)
    flagged = persons.filter(id_conflict()).select("record_key", "id_number", F.col("flags"))
    holders = persons.filter(usable_id()).groupBy("id_number").agg(F.min("record_key").alias("other_record_key"))
    return flagged.join(holders, "id_number", "left").select(
        "record_key", "other_record_key", F.lit(ID_CONFLICT).alias("reason"), F.lit(None).cast("double").alias("match_probability"),
        F.to_json(F.struct(F.lit(ID_CONFLICT).alias("rule"), F.col("flags"))).alias("evidence"),
    )


def guard_number(links: DataFrame) -> Column:
    """The number the clustering guardrail holds a record to: its anchor, or a zeroed-tail number (which agrees with any sharing its first 15 digits)."""
    anchor = F.when(F.col("anchor_kind") == ID_NUMBER_ANCHOR, F.col("anchor_value"))
    if "id_zero_tail" not in links.columns:
        return anchor  # a person file without ID numbers
    return anchor.when(F.col("id_zero_tail") & ~id_conflict(), F.col("id_number"))


def scoring_columns(profile: MatchingProfile) -> list[str]:
    """The columns Splink scores on: record_key, id_anchor, id_guard, cluster_key and those the profile compares and blocks on."""
    return list(dict.fromkeys(["record_key", "id_anchor", "id_guard", "cluster_key", *profile.columns(), *helper_columns(profile)]))


def prepare_columns(links: DataFrame, profile: MatchingProfile) -> DataFrame:
    """The links' scoring columns beside the columns carried past scoring (RECORD_COLUMNS, LINK_COLUMNS, CONFLICT_COLUMNS present)."""
    frame = links.withColumns({
        "cluster_key": F.concat_ws(":", "anchor_kind", "anchor_value"),
        "id_anchor": F.when(F.col("anchor_kind") == ID_NUMBER_ANCHOR, F.col("anchor_value")),
        "id_guard": guard_number(links),
    })
    kept = [f"`{c}` AS `{CARRIED}{c}`" for c in dict.fromkeys((*RECORD_COLUMNS, *LINK_COLUMNS, *CONFLICT_COLUMNS))
            if c in links.columns and c != "record_key"]
    frame = comparison_columns(frame.selectExpr("*", *kept), profile)  # SQL text: one call into Spark, not two per column
    return frame.select(*scoring_columns(profile), *(c for c in frame.columns if c.startswith(CARRIED)))


def carried(frame: DataFrame, columns: tuple[str, ...]) -> DataFrame:
    """record_key and those of `columns` a prepare_columns frame carries, under their own names."""
    return frame.selectExpr("record_key", *(f"`{CARRIED}{c}` AS `{c}`" for c in columns if f"{CARRIED}{c}" in frame.columns))


def weighed_pairs(pairs: pd.DataFrame) -> pa.Table:
    """PAIR_SCHEMA of the scored pairs clustering weighs (guardrails.cluster reads only the allowed ones).

    Clustering is decided within the groups these pairs connect: an incremental run keeps them to find
    the records a change can reach (incremental.py).
    """
    allowed = pairs.loc[pairs["allowed"].astype(bool), list(PAIR_SCHEMA.names)]
    return pa.Table.from_pandas(allowed, schema=PAIR_SCHEMA, preserve_index=False)


def apply_clusters(links: pa.Table, anchors: dict, record_links: dict) -> pa.Table:
    """Links (Arrow) with merged clusters re-anchored and probabilistically joined records carrying probability and evidence."""
    cluster_key = pc.binary_join_element_wise(links["anchor_kind"], links["anchor_value"], ":")
    anchor_table = pa.table({"cluster_key": pa.array(list(anchors), pa.string()),
                             "new_kind": pa.array([kind for kind, _ in anchors.values()], pa.string()),
                             "new_value": pa.array([value for _, value in anchors.values()], pa.string())})
    link_table = pa.table({"record_key": pa.array(list(record_links), pa.string()),
                           "probability": pa.array([p for p, _ in record_links.values()], pa.float64()),
                           "evidence": pa.array([e for _, e in record_links.values()], pa.string())})
    anchored = lookup(cluster_key, anchor_table, "cluster_key", ["new_kind", "new_value"])
    joined = lookup(links["record_key"], link_table, "record_key", ["probability", "evidence"])
    linked = pc.is_valid(joined["probability"])
    columns = {name: links[name] for name in links.column_names if name not in LINK_COLUMNS}
    columns.update({
        "anchor_kind": pc.coalesce(anchored["new_kind"], links["anchor_kind"]),
        "anchor_value": pc.coalesce(anchored["new_value"], links["anchor_value"]),
        "match_rule": pc.if_else(linked, PROBABILISTIC, links["match_rule"]),
        "match_probability": pc.if_else(linked, joined["probability"], links["match_probability"]),
        "match_evidence": pc.if_else(linked, joined["evidence"], links["match_evidence"]),
    })
    return pa.table(columns)


def match_persons(persons: DataFrame, profile: MatchingProfile | None = None, model: dict | None = None,
                  term_frequencies: dict[str, DataFrame] | None = None) -> Matches:
    """Link standardised person records into resident anchors under `profile` (default: Chinese residents).

    `model` and `term_frequencies` (of an earlier run, over all its records) are used instead of
    training and of counting frequencies on `persons`: an incremental run matches a part of the records.
    """
    profile = profile or load_profile()
    links = link_records(persons) if profile.id_anchored else unlinked(persons)
    links = links.withColumn("match_probability", F.col("match_probability").cast("double")).withColumn("match_evidence", rule_evidence())
    # One cache, narrow: what Splink scores, what the links carry on and what id_conflicts reads. Counted at once so the
    # planner knows its real size (a small incremental part then joins by broadcast, not by shuffles).
    frame = prepare_columns(links, profile).persist()
    frame.count()
    try:
        scored = score_pairs(frame.select(*scoring_columns(profile)), profile, model, term_frequencies)
        pairs = scored.pairs.toPandas()
        clusters = cluster(pairs, profile.threshold, profile.ambiguity_margin)
        # The links and the review rows come to the driver, where clustering was done: ids are assigned there (registry.py).
        linked = apply_clusters(carried(frame, RECORD_COLUMNS + LINK_COLUMNS).toArrow(), clusters.anchors, clusters.links)
        review = pa.Table.from_pandas(pd.DataFrame(clusters.review, columns=list(REVIEW_COLUMNS)), schema=REVIEW_SCHEMA, preserve_index=False)
        if profile.id_anchored:
            review = pa.concat_tables([conformed(id_conflicts(carried(frame, CONFLICT_COLUMNS)).toArrow(), REVIEW_SCHEMA), review])
    finally:
        frame.unpersist()
    return Matches(links=linked, review=review, model=scored.model, term_frequencies=scored.term_frequencies,
                   blocking_keys=scored.blocking_keys, link_keys=scored.link_keys, pairs=weighed_pairs(pairs))
