"""Clustering of scored pairs with guardrails, on the driver (the pairs above the review threshold are few).

Nodes are the deterministic clusters (an ID-anchored resident, a name + birth date group, a lone
record). Each node is held to its guard number: its ID anchor, or a number with a zeroed tail (a
spreadsheet's damage that passed the checksum), which agrees with any number sharing its first 15
digits. The guardrails, in order:

1. A pair links only when the profile's link requirements hold (`allowed`): agreeing phones,
   addresses and birth dates alone are what a household shares (twins, a mother and her newborn).
2. A record without a guard number whose best link and its best link to a node of an incompatible
   number differ by less than the ambiguity margin (match-weight bits) joins neither: it goes to
   review as `ambiguous` (a father and son of one name at one address).
3. Links at or above the match threshold are taken strongest first and merge nodes, except that a
   merge which would put two incompatible numbers in one resident is refused: a resident never holds
   two different valid ID numbers. The refused link goes to review (`chain`) with its evidence; the
   record keeps the link that reached a node first, its stronger one. Twins (different valid
   numbers) are never merged.
4. A pair between the review and match thresholds that ends up in two residents goes to review as
   `possible_match` (the strongest such pair per record), so a steward can join what the evidence
   could not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

CHAIN = "chain"
AMBIGUOUS = "ambiguous"
POSSIBLE_MATCH = "possible_match"
ZERO_TAIL = "000"

ReviewRow = tuple[str, str, str, float, str]  # REVIEW_COLUMNS


@dataclass
class Clusters:
    """Outcome of clustering: new anchors of merged clusters, the link that joined each record, review rows."""

    anchors: dict[str, tuple[str, str]] = field(default_factory=dict)  # cluster_key → (anchor_kind, anchor_value)
    links: dict[str, tuple[float, str]] = field(default_factory=dict)  # record_key → (probability, evidence)
    review: list[ReviewRow] = field(default_factory=list)


def is_wildcard(number: str | None) -> bool:
    """True for a guard number with a zeroed tail (anchors never have one: such numbers are doubted)."""
    return number is not None and number.endswith(ZERO_TAIL)


def compatible(a: str | None, b: str | None) -> bool:
    """True when one resident may hold both numbers: either is absent, they are equal, or a zeroed tail shares the other's first 15 digits."""
    if a is None or b is None or a == b:
        return True
    return (is_wildcard(a) or is_wildcard(b)) and a[:15] == b[:15]


def merged_guard(a: str | None, b: str | None) -> str | None:
    """The guard of two compatible nodes merged: a full number over a zeroed tail."""
    if a is None or (is_wildcard(a) and b is not None):
        return b
    return a


class _UnionFind:
    """Disjoint sets of cluster keys, each set holding compatible numbers only (its guard is the most specific)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.guard: dict[str, str | None] = {}

    def add(self, key: str, guard: str | None) -> None:
        if key not in self.parent:
            self.parent[key], self.guard[key] = key, guard
        elif guard is not None:
            root = self.find(key)
            if compatible(self.guard[root], guard):
                self.guard[root] = merged_guard(self.guard[root], guard)

    def find(self, key: str) -> str:
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def root_of(self, key: str) -> str:
        """The set of `key`, or the key itself when it never joined one."""
        return self.find(key) if key in self.parent else key

    def union(self, a: str, b: str) -> bool:
        """Merge the sets of a and b unless their numbers are incompatible; False when refused."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if not compatible(self.guard[ra], self.guard[rb]):
            return False
        if rb < ra:
            ra, rb = rb, ra  # the smaller key leads, so a record-anchored cluster is named by its first key
        self.parent[rb] = ra
        self.guard[ra] = merged_guard(self.guard[ra], self.guard[rb])
        return True


def _none_for_missing(pairs: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    pairs = pairs.astype({c: object for c in columns})
    pairs[columns] = pairs[columns].where(pairs[columns].notna(), None)
    return pairs


def _unguarded_side(row) -> tuple[str, str, str | None]:
    """(the record without a guard number, the other record, the other's guard) of a pair; the left when both lack one."""
    if row.id_guard_l is None:
        return row.record_key_l, row.record_key_r, row.id_guard_r
    return row.record_key_r, row.record_key_l, row.id_guard_l


def _unanchored_side(row) -> tuple[str, str]:
    """(the record its ID number does not anchor, the other record) of a pair, for a review row; the left when neither is anchored."""
    if row.id_anchor_l is None:
        return row.record_key_l, row.record_key_r
    return row.record_key_r, row.record_key_l


def ambiguous_records(links: pd.DataFrame, margin: float) -> dict[str, list[ReviewRow]]:
    """Records without a guard number whose best link is not `margin` bits clear of their best link to an
    incompatible number, with a review row for each of the two."""
    found: dict[str, list[ReviewRow]] = {}
    best: dict[str, tuple[str, float, ReviewRow]] = {}  # open record → (guard of its best guarded link, weight, its row)
    for row in links.itertuples(index=False):  # strongest first
        if row.id_guard_l is not None and row.id_guard_r is not None:
            continue
        record, other, guard = _unguarded_side(row)
        if guard is None or record in found:
            continue
        review = (record, other, AMBIGUOUS, float(row.match_probability), row.evidence)
        if record not in best:
            best[record] = (guard, row.match_weight, review)
        elif not compatible(best[record][0], guard) and best[record][1] - row.match_weight < margin:
            found[record] = [best[record][2], review]
    return found


def possible_matches(pairs: pd.DataFrame, sets: _UnionFind, linked: set[str]) -> list[ReviewRow]:
    """Review rows for pairs between the review and match thresholds that clustering left apart: the strongest per record.

    The record named first is the one its ID number does not anchor (a steward decides whether it
    joins the other's resident); records that a link above the threshold joined are not listed.
    """
    best: dict[str, ReviewRow] = {}
    for row in pairs.itertuples(index=False):  # strongest first
        if sets.root_of(row.cluster_key_l) == sets.root_of(row.cluster_key_r):
            continue
        record, other = _unanchored_side(row)
        if record not in best and record not in linked:
            best[record] = (record, other, POSSIBLE_MATCH, float(row.match_probability), row.evidence)
    return list(best.values())


def cluster(pairs: pd.DataFrame, threshold: float, margin: float = 5.0) -> Clusters:
    """Merge clusters along allowed links >= threshold, strongest first, refusing merges of incompatible numbers.

    `pairs` has record_key, id_anchor, id_guard and cluster_key (kind:value) of both sides (`_l`, `_r`),
    match_probability, match_weight, allowed and evidence.
    """
    result = Clusters()
    pairs = _none_for_missing(pairs, ["id_anchor_l", "id_anchor_r", "id_guard_l", "id_guard_r"]).sort_values(
        ["match_weight", "record_key_l", "record_key_r"], ascending=[False, True, True])
    strong = pairs["match_probability"] >= threshold
    links = pairs[strong & pairs["allowed"].astype(bool)]
    ambiguous = ambiguous_records(links, margin)
    result.review.extend(row for rows in ambiguous.values() for row in rows)
    sets = _UnionFind()
    best: dict[str, tuple[float, str]] = {}  # record not anchored by an ID number → its strongest accepted link
    for row in links.itertuples(index=False):
        if row.record_key_l in ambiguous or row.record_key_r in ambiguous:
            continue
        sets.add(row.cluster_key_l, row.id_guard_l)
        sets.add(row.cluster_key_r, row.id_guard_r)
        if not sets.union(row.cluster_key_l, row.cluster_key_r):
            record, other = _unanchored_side(row)
            result.review.append((record, other, CHAIN, float(row.match_probability), row.evidence))
            continue
        for key, anchor in ((row.record_key_l, row.id_anchor_l), (row.record_key_r, row.id_anchor_r)):
            if anchor is None and key not in best:
                best[key] = (float(row.match_probability), row.evidence)
    result.links = best
    # Only pairs the link requirements allow: one that could never link (a different name and number
    # sharing a birth date) is no decision for a steward.
    result.review.extend(possible_matches(pairs[~strong & pairs["allowed"].astype(bool)], sets, set(best) | set(ambiguous)))
    members: dict[str, list[str]] = {}
    for key in sets.parent:
        members.setdefault(sets.find(key), []).append(key)
    for root, keys in members.items():
        guard = sets.guard[root]
        # A resident anchored by a number is named by it; any other by its smallest record key.
        anchor = ("id_number", guard) if guard and not is_wildcard(guard) else ("record", min(k.split(":", 1)[1] for k in keys))
        result.anchors.update((key, anchor) for key in keys)
    return result
