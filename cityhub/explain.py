"""`cityhub explain <resident_id>`: why records were joined into a resident, and where each golden field came from.

Everything is read from the shared layer (what subscribers see): the golden record and its
lineage (the record and survivorship rule behind each field), every linked source record with its
match rule, probability and evidence, the resident's id history and its open review items. An id
that was merged away is followed to the resident that absorbed it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from .sharedlayer import engine_for
from .sharedlayer.schema import resident, resident_id_history, resident_lineage, resident_xref, review_queue

MAX_FOLLOWED = 20  # merge chains longer than this mean a cycle in the history, which is a bug


class ExplainError(LookupError):
    """The resident id is unknown (or retired); the message says what was looked up and what to do."""


@dataclass
class Explanation:
    """Everything `cityhub explain` shows about one resident."""

    resident_id: str
    asked_for: str
    followed: list[dict] = field(default_factory=list)  # merge steps from the id asked for to resident_id
    golden: dict[str, Any] = field(default_factory=dict)
    lineage: list[dict] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain, JSON-ready data (evidence parsed from its JSON text)."""
        return json.loads(json.dumps(self.__dict__, default=str))


def _rows(connection: sa.Connection, query: sa.Select) -> list[dict]:
    return [dict(row._mapping) for row in connection.execute(query)]


def _parse_evidence(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # shown as written rather than hidden


def follow_merges(connection: sa.Connection, resident_id: str) -> tuple[str, list[dict]]:
    """The live resident an id now means (following merges), and the merge steps taken."""
    steps: list[dict] = []
    current = resident_id
    while connection.execute(sa.select(resident.c.resident_id).where(resident.c.resident_id == current)).first() is None:
        changes = _rows(connection, sa.select(resident_id_history).where(resident_id_history.c.old_resident_id == current)
                        .order_by(resident_id_history.c.changed_at.desc(), resident_id_history.c.record_count.desc()))
        merged = [c for c in changes if c["change"] == "merge" and c["new_resident_id"]]
        if not merged:
            retired = [c for c in changes if c["change"] == "retire"]
            if retired:
                raise ExplainError(f"resident {current} was retired in run {retired[0]['run_id']}: {retired[0]['reason']}")
            raise ExplainError(f"no resident {resident_id!r} in the shared layer (nor in resident_id_history); "
                               "check the id, or run `cityhub status` to see which run is published")
        steps.append(merged[0])
        current = merged[0]["new_resident_id"]
        if len(steps) > MAX_FOLLOWED:
            raise ExplainError(f"resident_id_history from {resident_id} does not end in a live resident after {MAX_FOLLOWED} merges")
    return current, steps


def explain_resident(url: str, resident_id: str) -> Explanation:
    """Read the explanation of `resident_id` (or of the resident it was merged into) from the shared layer at `url`."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            live, steps = follow_merges(connection, resident_id)
            explanation = Explanation(resident_id=live, asked_for=resident_id, followed=steps)
            [explanation.golden] = _rows(connection, sa.select(resident).where(resident.c.resident_id == live))
            explanation.lineage = _rows(connection, sa.select(resident_lineage).where(resident_lineage.c.resident_id == live)
                                        .order_by(resident_lineage.c.attribute))
            explanation.records = _rows(connection, sa.select(resident_xref).where(resident_xref.c.resident_id == live)
                                        .order_by(resident_xref.c.source, resident_xref.c.record_key))
            for record in explanation.records:
                record["match_evidence"] = _parse_evidence(record["match_evidence"])
            ids = sa.or_(resident_id_history.c.old_resident_id == live, resident_id_history.c.new_resident_id == live)
            explanation.history = _rows(connection, sa.select(resident_id_history).where(ids).order_by(resident_id_history.c.changed_at))
            keys = sa.select(resident_xref.c.record_key).where(resident_xref.c.resident_id == live)
            open_items = sa.select(review_queue).where(
                review_queue.c.status == "open", sa.or_(review_queue.c.record_key.in_(keys), review_queue.c.other_record_key.in_(keys)))
            explanation.reviews = _rows(connection, open_items)
            for item in explanation.reviews:
                item["evidence"] = _parse_evidence(item["evidence"])
    finally:
        engine.dispose()
    return explanation


def _evidence_text(evidence: Any) -> str:
    """Per-field evidence on one line: `field=value` pairs, or the text as stored."""
    if isinstance(evidence, dict):
        return ", ".join(f"{key}={value}" for key, value in evidence.items())
    return "" if evidence is None else str(evidence)


def render(explanation: Explanation, console: Console) -> None:
    """Print the explanation as rich tables."""
    for step in explanation.followed:
        console.print(f"[yellow]{step['old_resident_id']} was merged into {step['new_resident_id']}[/yellow] "
                      f"in run {step['run_id']} ({step['reason']})")
    golden = Table(title=f"resident {explanation.resident_id}: golden record")
    for column in ("field", "value", "from record", "source", "rule"):
        golden.add_column(column)
    for row in explanation.lineage:
        golden.add_row(row["attribute"], str(row["value"]), str(row["record_key"]), str(row["source"]), str(row["rule"]))
    console.print(golden)
    records = Table(title=f"linked source records ({len(explanation.records)})")
    for column in ("record", "source", "rule", "probability", "evidence"):
        records.add_column(column)
    for row in explanation.records:
        probability = "" if row["match_probability"] is None else f"{row['match_probability']:.4f}"
        records.add_row(row["record_key"], f"{row['source']}.{row['stream']}", str(row["match_rule"]), probability,
                        _evidence_text(row["match_evidence"]))
    console.print(records)
    if explanation.history:
        history = Table(title="id history")
        for column in ("run", "change", "old id", "new id", "records", "reason"):
            history.add_column(column)
        for row in explanation.history:
            history.add_row(row["run_id"], row["change"], row["old_resident_id"], str(row["new_resident_id"] or ""),
                            str(row["record_count"]), str(row["reason"]))
        console.print(history)
    else:
        console.print("id history: none (this id has not been merged or split)")
    if explanation.reviews:
        reviews = Table(title="open review items")
        for column in ("record", "other record", "reason", "probability", "evidence"):
            reviews.add_column(column)
        for row in explanation.reviews:
            probability = "" if row["match_probability"] is None else f"{row['match_probability']:.4f}"
            reviews.add_row(row["record_key"], row["other_record_key"], row["reason"], probability, _evidence_text(row["evidence"]))
        console.print(reviews)
    else:
        console.print("open review items: none")
