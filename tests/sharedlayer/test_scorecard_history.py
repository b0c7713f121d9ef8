"""Scorecard history in the shared layer (SQLite and PostgreSQL): re-scoring a run replaces its rows."""

from __future__ import annotations

import sqlalchemy as sa

from cityhub.quality.history import load_history, load_scorecard, save_scorecard, scored_runs
from cityhub.quality.scorecard import DimensionScore, RuleFailure, Scorecard
from cityhub.sharedlayer import engine_for, upgrade


def scorecard(run_id: str, completeness: int, rules: int = 2) -> Scorecard:
    return Scorecard(
        run_id=run_id,
        scores=[DimensionScore("health", "completeness", completeness, 100), DimensionScore("health", "timeliness", 0, 0)],
        rules=[RuleFailure("health", f"phone:malformed{i}", "warning", 10 - i, ("138****8000",)) for i in range(rules)],
    )


def count(url: str, table: str) -> int:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(f"select count(*) from {table}")).scalar()
    finally:
        engine.dispose()


def test_rescoring_a_run_replaces_its_rows(db_url):
    upgrade(db_url)
    save_scorecard(db_url, scorecard("r1", 90))
    save_scorecard(db_url, scorecard("r2", 80, rules=3))
    save_scorecard(db_url, scorecard("r2", 85, rules=1))
    assert scored_runs(db_url) == ["r1", "r2"]
    assert count(db_url, "provider_scorecard") == 4
    assert count(db_url, "provider_rule_failure") == 3
    history = {(row.run_id, row.dimension): row for row in load_history(db_url)}
    assert history[("r2", "completeness")].score == 85.0
    assert (history[("r2", "timeliness")].score, history[("r2", "timeliness")].denominator) == (None, 0)
    stored = load_scorecard(db_url, "r2")
    assert [(r.rule, r.failing_count, r.examples) for r in stored.rules] == [("phone:malformed0", 10, ("138****8000",))]
    assert stored.computed_at.tzinfo is not None
    assert load_scorecard(db_url, "missing") is None
