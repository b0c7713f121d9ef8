"""Scorecard history in the shared layer, and the anomaly rules read from it.

`save_scorecard` replaces a run's rows (re-scoring a run is idempotent); `load_history` reads every
run's scores back; `detect_anomalies` compares a run's scores with the department's recent runs and
`detect_rule_spikes` a run's worst rules with the previous run's.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from cityhub.sharedlayer import engine_for
from cityhub.sharedlayer.schema import provider_rule_failure, provider_scorecard

from .scorecard import CRITICAL, WORST_RULES, DimensionScore, RuleFailure, Scorecard, rule_rank

# Anomaly rules: a score is compared with the same department's scores on the previous RECENT_RUNS runs.
RECENT_RUNS = 5
DROP_POINTS = 5.0        # a fall of more than this many points since the previous run
RANGE_MARGIN = 1.0       # points below the recent minimum before "below its recent range" fires
MIN_HISTORY = 2          # runs needed before a recent range means anything
# A rule's failing count spiking: at least SPIKE_MIN_COUNT and more than SPIKE_FACTOR times the previous run's.
# A large department's score barely moves when a few hundred rows break a rule; the count shows it.
SPIKE_FACTOR = 3.0
SPIKE_MIN_COUNT = 10


@dataclass(frozen=True)
class ScoreRow:
    """One stored score: run, department, dimension, score (None when nothing was scored), numerator, denominator."""

    run_id: str
    source: str
    dimension: str
    score: float | None
    numerator: int
    denominator: int


@dataclass(frozen=True)
class Anomaly:
    """A score that moved beyond what the department's recent history makes expected."""

    source: str
    dimension: str | None  # None for a rule's failing count (rule_spike)
    score: float | None
    rule: str
    message: str


def save_scorecard(url: str, scorecard: Scorecard) -> None:
    """Store a run's scores and worst rules, replacing whatever that run had stored before."""
    computed_at = scorecard.computed_at.astimezone(timezone.utc)
    scores = [{"run_id": scorecard.run_id, "source": s.source, "dimension": s.dimension, "score": s.score,
               "numerator": s.numerator, "denominator": s.denominator, "computed_at": computed_at} for s in scorecard.scores]
    rules = [{"run_id": scorecard.run_id, "source": r.source, "rule": r.rule[:255], "severity": r.severity,
              "failing_count": r.failing_count, "examples": json.dumps(list(r.examples), ensure_ascii=False),
              "computed_at": computed_at} for r in _unique_rules(scorecard.rules)]
    engine = engine_for(url)
    try:
        with engine.begin() as connection:
            for table in (provider_scorecard, provider_rule_failure):
                connection.execute(table.delete().where(table.c.run_id == scorecard.run_id))
            if scores:
                connection.execute(provider_scorecard.insert(), scores)
            if rules:
                connection.execute(provider_rule_failure.insert(), rules)
    finally:
        engine.dispose()


def _unique_rules(rules: list[RuleFailure]) -> list[RuleFailure]:
    # The key is (run, source, rule); a rule name cut to the column's length could repeat.
    seen, unique = set(), []
    for rule in rules:
        if (rule.source, rule.rule[:255]) not in seen:
            seen.add((rule.source, rule.rule[:255]))
            unique.append(rule)
    return unique


def load_history(url: str) -> list[ScoreRow]:
    """Every stored score, oldest run first."""
    query = sa.select(provider_scorecard).order_by(provider_scorecard.c.run_id, provider_scorecard.c.source, provider_scorecard.c.dimension)
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return [ScoreRow(r.run_id, r.source, r.dimension, r.score, int(r.numerator), int(r.denominator)) for r in connection.execute(query)]
    finally:
        engine.dispose()


def load_scorecard(url: str, run_id: str) -> Scorecard | None:
    """A run's stored scorecard (scores and worst rules), or None when the run was never scored."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            scores = connection.execute(sa.select(provider_scorecard).where(provider_scorecard.c.run_id == run_id)).all()
            rules = connection.execute(sa.select(provider_rule_failure).where(provider_rule_failure.c.run_id == run_id)).all()
    finally:
        engine.dispose()
    if not scores:
        return None
    return Scorecard(
        run_id=run_id,
        scores=[DimensionScore(r.source, r.dimension, int(r.numerator), int(r.denominator)) for r in scores],
        rules=sorted((RuleFailure(r.source, r.rule, r.severity, int(r.failing_count), tuple(json.loads(r.examples or "[]"))) for r in rules),
                     key=lambda rule: (rule.source, *rule_rank(rule))),
        computed_at=utc(scores[0].computed_at),
    )


def scored_runs(url: str) -> list[str]:
    """The runs that have a stored scorecard, oldest first."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(provider_scorecard.name):
                return []
            return list(connection.execute(sa.select(provider_scorecard.c.run_id).distinct().order_by(provider_scorecard.c.run_id)).scalars())
    finally:
        engine.dispose()


def detect_anomalies(history: list[ScoreRow], run_id: str, recent_runs: int = RECENT_RUNS, drop_points: float = DROP_POINTS,
                     margin: float = RANGE_MARGIN) -> list[Anomaly]:
    """The run's scores that fell more than `drop_points` since the previous run, or below the recent range.

    Only falls are anomalies: a score rising beyond its range is good news. Runs are compared in
    run-id order (run ids sort by time); runs after `run_id` are ignored, so an old report reads the same.
    """
    anomalies = []
    series: dict[tuple[str, str], list[ScoreRow]] = {}
    for row in sorted(history, key=lambda r: r.run_id):
        if row.run_id <= run_id and row.score is not None:
            series.setdefault((row.source, row.dimension), []).append(row)
    for (source, dimension), rows in sorted(series.items()):
        if rows[-1].run_id != run_id:
            continue
        current, earlier = rows[-1].score, [r.score for r in rows[:-1]][-recent_runs:]
        if not earlier:
            continue
        previous = earlier[-1]
        if previous - current > drop_points:
            anomalies.append(Anomaly(source, dimension, current, "drop",
                                     f"{source} {dimension} fell {previous - current:.1f} points since the previous run ({previous:.1f} → {current:.1f})"))
        elif len(earlier) >= MIN_HISTORY and current < min(earlier) - margin:
            anomalies.append(Anomaly(source, dimension, current, "below_recent_range",
                                     f"{source} {dimension} is {current:.1f}, below its range over the last {len(earlier)} runs "
                                     f"({min(earlier):.1f}–{max(earlier):.1f}, mean {statistics.fmean(earlier):.1f})"))
    return anomalies


def _previous_bound(rule: RuleFailure, earlier: list[RuleFailure], worst_rules: int) -> tuple[int, bool] | None:
    """An upper bound of the rule's failing count in the previous run, and whether it is exact; None if unknown.

    Only each department's worst rules are stored (critical first, then most failing), so a rule missing
    from a full list failed at most as often as the least failing stored rule of its severity.
    """
    for candidate in earlier:
        if candidate.rule == rule.rule:
            return candidate.failing_count, True
    if len(earlier) < worst_rules:
        return 0, True
    same = [r.failing_count for r in earlier if r.severity == rule.severity]
    if same:
        return min(same), False
    # A full list of warnings leaves no room for a failing critical rule, which would have ranked first.
    return (0, True) if rule.severity == CRITICAL else None


def detect_rule_spikes(current: Scorecard, previous: Scorecard | None, worst_rules: int = WORST_RULES,
                       factor: float = SPIKE_FACTOR, min_count: int = SPIKE_MIN_COUNT) -> list[Anomaly]:
    """The run's rules failing at least `min_count` times and more than `factor` times as often as in the previous run.

    Departments not scored in the previous run are skipped (their first run has nothing to compare with).
    """
    if previous is None:
        return []
    scored_before = set(previous.sources)
    anomalies = []
    for rule in current.rules:
        if rule.source not in scored_before or rule.failing_count < min_count:
            continue
        bound = _previous_bound(rule, [r for r in previous.rules if r.source == rule.source], worst_rules)
        if bound is None or rule.failing_count <= factor * bound[0]:
            continue
        before = f"{bound[0]}" if bound[1] else f"at most {bound[0]}"
        anomalies.append(Anomaly(rule.source, None, None, "rule_spike",
                                 f"{rule.source} rule {rule.rule} ({rule.severity}) failed {rule.failing_count} times, "
                                 f"up from {before} in the previous run ({previous.run_id})"))
    return anomalies


def latest_scored_run(url: str) -> str | None:
    """The newest run with a stored scorecard."""
    runs = scored_runs(url)
    return runs[-1] if runs else None


def utc(moment: datetime) -> datetime:
    """A stored time as aware UTC (SQLite keeps no offset)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
