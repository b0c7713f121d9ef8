"""The dataset gate's outcomes kept in the shared layer (`gate_outcome`, revision 0003), run by run.

The gate (`cityhub.quality.gates.gate_resolved`) decides on the run's resolved Parquet; its outcomes
(`outcomes.json`, layer `resolved`) and decision (`gate.json`) stay in the run folder, which an
auditor reading the shared layer may not have. So the publish writes one row per (run, dataset,
rule) inside its own transaction: severity, pass or fail, unexpected rows, and whether the dataset
was held. When the gate holds the whole publish there is no publish transaction; the rows are written
on their own, so the auditor still sees why nothing was published. Writing a run again replaces its rows.

No GX import here: `cityhub quality report` reads the history without loading Great Expectations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from cityhub.sharedlayer import engine_for
from cityhub.sharedlayer.schema import gate_outcome

CRITICAL = "critical"  # cityhub.quality.suites.CRITICAL, spelt here to keep GX out
RULE_LENGTH = gate_outcome.c.rule.type.length


@dataclass(frozen=True)
class GateOutcome:
    """One rule of the dataset gate on one dataset in one run."""

    run_id: str
    dataset: str
    rule: str
    severity: str
    success: bool
    unexpected_count: int | None
    held: bool


def rule_key(outcome: dict) -> str:
    """The rule an outcomes.json row checks: its `meta.rule`, else `<expectation>(<target>)` (unique within a suite)."""
    rule = outcome.get("rule") or f"{outcome.get('expectation')}({outcome.get('target')})"
    return rule[:RULE_LENGTH]


def gate_outcome_rows(run_id: str, outcomes: Iterable[dict], held: Iterable[str]) -> list[dict]:
    """The gate's outcomes (outcomes.json rows of layer `resolved`) as gate_outcome rows, one per dataset and rule.

    Two expectations checking one rule are one row: failed if either failed, their unexpected rows
    summed, critical if either is.
    """
    held = set(held)
    rows: dict[tuple[str, str], dict] = {}
    for outcome in outcomes:
        dataset, rule = outcome["dataset"], rule_key(outcome)
        unexpected = outcome.get("unexpected_count")
        row = rows.setdefault((dataset, rule), {"run_id": run_id, "dataset": dataset, "rule": rule, "severity": outcome.get("severity") or CRITICAL,
                                                "success": True, "unexpected_count": None, "held": dataset in held})
        row["success"] = row["success"] and bool(outcome.get("success"))
        if unexpected is not None:
            row["unexpected_count"] = (row["unexpected_count"] or 0) + int(unexpected)
        if outcome.get("severity") == CRITICAL:
            row["severity"] = CRITICAL
    return list(rows.values())


def replace_gate_outcomes(connection: sa.Connection, run_id: str, rows: list[dict]) -> None:
    """Replace the run's gate_outcome rows with `rows`, in the caller's transaction."""
    connection.execute(gate_outcome.delete().where(gate_outcome.c.run_id == run_id))
    if rows:
        connection.execute(gate_outcome.insert(), rows)


def record_gate_outcomes(url: str, run_id: str, rows: list[dict]) -> None:
    """Replace the run's gate_outcome rows in a transaction of their own (the gate held the whole publish)."""
    engine = engine_for(url)
    try:
        with engine.begin() as connection:
            replace_gate_outcomes(connection, run_id, rows)
    finally:
        engine.dispose()


def load_gate_outcomes(url: str, up_to_run: str | None = None) -> list[GateOutcome]:
    """Every stored gate outcome (of the runs up to `up_to_run`, when given), oldest run first."""
    query = sa.select(gate_outcome).order_by(gate_outcome.c.run_id, gate_outcome.c.dataset, gate_outcome.c.rule)
    if up_to_run is not None:
        query = query.where(gate_outcome.c.run_id <= up_to_run)
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return [GateOutcome(r.run_id, r.dataset, r.rule, r.severity, bool(r.success),
                                None if r.unexpected_count is None else int(r.unexpected_count), bool(r.held))
                    for r in connection.execute(query)]
    finally:
        engine.dispose()


@dataclass(frozen=True)
class DatasetGate:
    """One dataset at the gate of a run: held or not, the rules it failed, and how long it has been held."""

    dataset: str
    held: bool
    rules: int  # rules checked
    failed: tuple[GateOutcome, ...]  # critical first, then most unexpected rows
    held_runs: int  # gated runs in a row, ending with this one, that held the dataset (0 when published)
    last_passed: str | None  # the latest earlier run whose gate let the dataset through


def dataset_gates(history: list[GateOutcome], run_id: str) -> list[DatasetGate]:
    """Each dataset's gate in `run_id`, with its streak of held runs from the earlier runs in `history`."""
    by_run: dict[str, dict[str, list[GateOutcome]]] = {}
    for outcome in history:
        if outcome.run_id <= run_id:
            by_run.setdefault(outcome.run_id, {}).setdefault(outcome.dataset, []).append(outcome)
    current = by_run.get(run_id, {})
    earlier = sorted((run for run in by_run if run < run_id), reverse=True)
    gates = []
    for dataset, outcomes in sorted(current.items()):
        held = any(o.held for o in outcomes)
        streak, last_passed = int(held), None
        for run in earlier:
            was_held = any(o.held for o in by_run[run].get(dataset, ()))
            if dataset in by_run[run] and not was_held:
                last_passed = run
                break
            streak += int(held and was_held)
        failed = sorted((o for o in outcomes if not o.success), key=lambda o: (o.severity != CRITICAL, -(o.unexpected_count or 0), o.rule))
        gates.append(DatasetGate(dataset, held, len(outcomes), tuple(failed), streak, last_passed))
    return gates
