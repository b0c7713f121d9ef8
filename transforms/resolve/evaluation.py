"""Accuracy of a resolution against the simulator's ground truth, without enumerating record pairs.

Pairwise scores come from the contingency table of predicted cluster × true person: with n_ij records
in both cluster i and person j, a_i records in cluster i and b_j records of person j,
TP = Σ C(n_ij, 2), predicted pairs = Σ C(a_i, 2), true pairs = Σ C(b_j, 2). B-cubed scores average,
over records, the share of a record's cluster that is its person (precision) and the share of its
person that is in its cluster (recall).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

import pandas as pd


@dataclass(frozen=True)
class Accuracy:
    """Pairwise and B-cubed scores of one resolution, plus how often the planted hard cases were merged."""

    records: int
    predicted_clusters: int
    true_persons: int
    true_positive_pairs: int
    predicted_pairs: int
    true_pairs: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    twins_merged: int | None = None
    twins_total: int | None = None
    parent_id_on_child_merged: int | None = None
    parent_id_on_child_total: int | None = None

    def to_dict(self) -> dict:
        """Plain data for JSON results."""
        return asdict(self)


def _pairs(sizes: pd.Series) -> int:
    """Σ C(n, 2) over group sizes."""
    values = sizes.astype("int64")
    return int((values * (values - 1) // 2).sum())


def _ratio(numerator: float, denominator: float) -> float:
    # No pairs predicted (or none true) means nothing was got wrong (or nothing could be missed).
    return 1.0 if denominator == 0 else numerator / denominator


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def aligned_frame(predicted: Mapping[str, str], truth: Mapping[str, str]) -> pd.DataFrame:
    """Records present in both mappings as columns record_key, cluster, person (missing ones are dropped)."""
    frame = pd.DataFrame({"cluster": pd.Series(predicted, dtype="object")})
    frame["person"] = pd.Series(truth, dtype="object")
    frame = frame.dropna(subset=["cluster", "person"])
    frame.index.name = "record_key"
    return frame.reset_index()


def score_frame(frame: pd.DataFrame) -> Accuracy:
    """Pairwise and B-cubed scores of a frame with one row per record and columns `cluster`, `person`."""
    if frame.empty:
        return Accuracy(0, 0, 0, 0, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    cells = frame.groupby(["cluster", "person"], sort=False).size().rename("n").reset_index()
    cluster_sizes = frame.groupby("cluster", sort=False).size()
    person_sizes = frame.groupby("person", sort=False).size()
    tp, predicted, true = _pairs(cells["n"]), _pairs(cluster_sizes), _pairs(person_sizes)
    precision, recall = _ratio(tp, predicted), _ratio(tp, true)
    # Each cell's n records each see n of their cluster's a_i and n of their person's b_j.
    a = cells["cluster"].map(cluster_sizes).astype("float64")
    b = cells["person"].map(person_sizes).astype("float64")
    n = cells["n"].astype("float64")
    records = len(frame)
    b3_precision = float((n * n / a).sum() / records)
    b3_recall = float((n * n / b).sum() / records)
    return Accuracy(
        records=records, predicted_clusters=int(len(cluster_sizes)), true_persons=int(len(person_sizes)),
        true_positive_pairs=tp, predicted_pairs=predicted, true_pairs=true,
        pairwise_precision=precision, pairwise_recall=recall, pairwise_f1=_f1(precision, recall),
        bcubed_precision=b3_precision, bcubed_recall=b3_recall, bcubed_f1=_f1(b3_precision, b3_recall),
    )


def twins_merged(frame: pd.DataFrame, cases: Mapping[str, list[dict]]) -> tuple[int, int]:
    """(twin pairs with any record of one twin in a cluster of the other, twin pairs with records of both)."""
    clusters_by_person = frame.groupby("person")["cluster"].agg(set)
    merged = total = 0
    for case in cases.get("twins", []):
        twins = [clusters_by_person[p] for p in case.get("person_ids", []) if p in clusters_by_person.index]
        if len(twins) < 2:
            continue  # fewer than two twins have a resolved record: nothing to judge
        total += 1
        merged += any(twins[i] & twins[j] for i in range(len(twins)) for j in range(i + 1, len(twins)))
    return merged, total


def parent_id_on_child_merged(frame: pd.DataFrame, cases: Mapping[str, list[dict]]) -> tuple[int, int]:
    """(child records carrying a parent's ID that share a cluster with any parent record, such cases judged)."""
    cluster_of = frame.set_index("record_key")["cluster"]
    clusters_by_person = frame.groupby("person")["cluster"].agg(set)
    merged = total = 0
    for case in cases.get("parent_id_on_child", []):
        keys = [k for k in case.get("record_keys", []) if k in cluster_of.index]
        parent = case.get("parent_person_id")
        if not keys or parent not in clusters_by_person.index:
            continue  # the child's record or every parent record was dropped before resolution
        total += 1
        merged += any(cluster_of[k] in clusters_by_person[parent] for k in keys)
    return merged, total


def evaluate(predicted: Mapping[str, str], truth: Mapping[str, str], cases: Mapping[str, list[dict]] | None = None) -> Accuracy:
    """Scores of record_key → predicted cluster against record_key → true person, over records in both."""
    frame = aligned_frame(predicted, truth)
    accuracy = score_frame(frame)
    if cases is None:
        return accuracy
    twins, twins_total = twins_merged(frame, cases)
    parents, parents_total = parent_id_on_child_merged(frame, cases)
    return Accuracy(**{**accuracy.to_dict(), "twins_merged": twins, "twins_total": twins_total,
                       "parent_id_on_child_merged": parents, "parent_id_on_child_total": parents_total})


def load_truth(city_dir: Path) -> tuple[dict[str, str], dict[str, list[dict]]]:
    """record_key → person_id from `truth/records.csv` and the planted cases from `truth/cases.json`."""
    records = pd.read_csv(Path(city_dir) / "truth" / "records.csv", dtype=str, usecols=["record_key", "person_id"])
    cases = json.loads((Path(city_dir) / "truth" / "cases.json").read_text(encoding="utf-8"))
    return dict(zip(records["record_key"], records["person_id"])), cases
