"""Clustering of scored pairs with guardrails, on the driver (the pairs above the review threshold are few).

Nodes are the deterministic clusters (an ID-anchored resident, a name + birth date group, a lone
record). Links at or above the match threshold are taken strongest first and merge the two clusters,
except that a merge which would put two different ID anchors in one cluster is refused: a resident
never holds two different valid ID numbers. The refused link goes to the review queue (reason
`chain`) with its evidence; the record keeps the link that reached a cluster first, i.e. its stronger
one. Twins (different valid IDs) are two anchors, so they are never merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

CHAIN = "chain"


@dataclass
class Clusters:
    """Outcome of clustering: new anchors of merged clusters, the link that joined each record, review rows."""

    anchors: dict[str, tuple[str, str]] = field(default_factory=dict)  # cluster_key → (anchor_kind, anchor_value)
    links: dict[str, tuple[float, str]] = field(default_factory=dict)  # record_key → (probability, evidence)
    review: list[tuple[str, str, str, float, str]] = field(default_factory=list)  # REVIEW_COLUMNS


class _UnionFind:
    """Disjoint sets of cluster keys, each set holding at most one ID anchor."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.anchor: dict[str, str | None] = {}

    def add(self, key: str, id_anchor: str | None) -> None:
        if key not in self.parent:
            self.parent[key], self.anchor[key] = key, id_anchor

    def find(self, key: str) -> str:
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> bool:
        """Merge the sets of a and b unless that joins two different ID anchors; False when refused."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        anchor_a, anchor_b = self.anchor[ra], self.anchor[rb]
        if anchor_a and anchor_b and anchor_a != anchor_b:
            return False
        if rb < ra:
            ra, rb = rb, ra  # the smaller key leads, so a record-anchored cluster is named by its first key
        self.parent[rb] = ra
        self.anchor[ra] = anchor_a or anchor_b
        return True


def cluster(pairs: pd.DataFrame, threshold: float) -> Clusters:
    """Merge clusters along links >= threshold, strongest first, refusing merges of two ID anchors.

    `pairs` has record_key_l/_r, id_anchor_l/_r, cluster_key_l/_r (kind:value), match_probability, evidence.
    """
    result = Clusters()
    pairs = pairs.astype({"id_anchor_l": object, "id_anchor_r": object})
    pairs[["id_anchor_l", "id_anchor_r"]] = pairs[["id_anchor_l", "id_anchor_r"]].where(pairs[["id_anchor_l", "id_anchor_r"]].notna(), None)
    links = pairs[pairs["match_probability"] >= threshold].sort_values(
        ["match_probability", "record_key_l", "record_key_r"], ascending=[False, True, True])
    sets = _UnionFind()
    best: dict[str, tuple[float, str]] = {}  # record without ID anchor → its strongest accepted link
    for row in links.itertuples(index=False):
        sets.add(row.cluster_key_l, row.id_anchor_l)
        sets.add(row.cluster_key_r, row.id_anchor_r)
        if not sets.union(row.cluster_key_l, row.cluster_key_r):
            open_key, other = (row.record_key_l, row.record_key_r) if row.id_anchor_l is None else (row.record_key_r, row.record_key_l)
            result.review.append((open_key, other, CHAIN, float(row.match_probability), row.evidence))
            continue
        for key, anchor in ((row.record_key_l, row.id_anchor_l), (row.record_key_r, row.id_anchor_r)):
            if anchor is None and key not in best:
                best[key] = (float(row.match_probability), row.evidence)
    result.links = best
    members: dict[str, list[str]] = {}
    for key in sets.parent:
        members.setdefault(sets.find(key), []).append(key)
    for root, keys in members.items():
        id_anchor = sets.anchor[root]
        # An ID-anchored cluster is named by its number; any other by its smallest record key.
        anchor = ("id_number", id_anchor) if id_anchor else ("record", min(k.split(":", 1)[1] for k in keys))
        result.anchors.update((key, anchor) for key in keys)
    return result
