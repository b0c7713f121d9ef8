"""Anomaly rules, the scorecard HTML and `cityhub quality report|docs` on a small prepared shared layer (no Spark)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from cityhub.quality.gate_history import gate_outcome_rows, record_gate_outcomes
from cityhub.quality.history import ScoreRow, detect_anomalies, detect_rule_spikes, save_scorecard
from cityhub.quality.scorecard import DIMENSIONS, DimensionScore, RuleFailure, Scorecard
from cityhub.sharedlayer import upgrade

RUNS = ["20261101T000000000000Z", "20261102T000000000000Z", "20261103T000000000000Z", "20261104T000000000000Z"]
# Health's validity falls by 8 points on the last run; everything else holds steady.
VALIDITY = {"health": [96, 97, 96, 88], "housing": [90, 91, 90, 90]}
CLEAR_ID, CLEAR_PHONE, CLEAR_NAME = "110101198005061237", "13800138000", "张三丰"


# The contract of outcomes.json: one passed, one a department owns, one a published dataset's gate.
OUTCOMES = [
    {"layer": "standardised", "suite": "standardised_persons", "source": "health", "dataset": "persons", "expectation": "expect_phone_well_formed",
     "target": "phone", "severity": "warning", "success": True, "unexpected_count": 0, "element_count": 10, "error": None},
    {"layer": "standardised", "suite": "standardised_persons", "source": "housing", "dataset": "persons", "expectation": "expect_valid_id_number",
     "target": "id_number", "severity": "warning", "success": False, "unexpected_count": 4, "element_count": 10, "error": None},
    {"layer": "published", "suite": "resident", "source": None, "dataset": "resident", "expectation": "expect_column_values_to_be_unique",
     "target": "resident_id", "severity": "critical", "success": False, "unexpected_count": 2, "element_count": 9, "error": None},
]


def row(run: str, source: str, dimension: str, score: float | None) -> ScoreRow:
    return ScoreRow(run, source, dimension, score, int(score or 0), 100 if score is not None else 0)


def test_drop_beyond_threshold_fires():
    history = [row(r, "health", "validity", s) for r, s in zip(RUNS, VALIDITY["health"])]
    [anomaly] = detect_anomalies(history, RUNS[-1])
    assert (anomaly.source, anomaly.dimension, anomaly.rule) == ("health", "validity", "drop")
    assert "96.0 → 88.0" in anomaly.message


def test_below_recent_range_fires_on_a_slow_slide():
    history = [row(r, "housing", "completeness", s) for r, s in zip(RUNS, [95, 94, 93, 91])]
    [anomaly] = detect_anomalies(history, RUNS[-1])
    assert anomaly.rule == "below_recent_range"


@pytest.mark.parametrize("scores", [[96, 97, 96, 95], [80, 82, 81, 95], [None, 90, 91, 90.5], [90]])
def test_steady_rising_or_short_history_does_not_fire(scores):
    history = [row(r, "health", "validity", s) for r, s in zip(RUNS, scores)]
    assert detect_anomalies(history, RUNS[len(scores) - 1]) == []


def test_an_old_run_is_judged_on_its_own_past():
    history = [row(r, "health", "validity", s) for r, s in zip(RUNS, VALIDITY["health"])]
    assert detect_anomalies(history, RUNS[2]) == []


def rules_card(run: str, *rules: tuple[str, str, str, int]) -> Scorecard:
    scores = [DimensionScore(source, "validity", 99, 100) for source in {r[0] for r in rules}]
    return Scorecard(run_id=run, scores=scores, rules=[RuleFailure(*r) for r in rules])


def test_rule_spike_fires_on_a_jump_and_not_on_growth():
    previous = rules_card(RUNS[0], ("health", "phone:malformed", "warning", 4), ("housing", "no_identity", "critical", 30))
    current = rules_card(RUNS[1], ("health", "phone:malformed", "warning", 40), ("housing", "no_identity", "critical", 60))
    [spike] = detect_rule_spikes(current, previous)
    assert (spike.source, spike.rule) == ("health", "rule_spike") and "failed 40 times, up from 4" in spike.message


def test_rule_spike_bounds_a_rule_missing_from_a_full_list():
    full = [("health", f"rule{n}", "warning", 20 + n) for n in range(5)]
    previous = rules_card(RUNS[0], *full)
    assert detect_rule_spikes(rules_card(RUNS[1], ("health", "new_rule", "warning", 61)), previous)[0].message.endswith(
        f"up from at most 20 in the previous run ({RUNS[0]})")
    assert detect_rule_spikes(rules_card(RUNS[1], ("health", "new_rule", "warning", 59)), previous) == []
    # A critical rule would have ranked above those warnings: it did not fail before.
    assert detect_rule_spikes(rules_card(RUNS[1], ("health", "no_identity", "critical", 10)), previous)[0].rule == "rule_spike"


def test_rule_spike_ignores_small_counts_and_new_departments():
    previous = rules_card(RUNS[0], ("health", "phone:malformed", "warning", 1))
    current = rules_card(RUNS[1], ("health", "phone:malformed", "warning", 9), ("housing", "no_identity", "critical", 500))
    assert detect_rule_spikes(current, previous) == [] and detect_rule_spikes(current, None) == []


def scorecard(run: str, position: int) -> Scorecard:
    scores = [DimensionScore(source, dimension, (VALIDITY[source][position] if dimension == "validity" else 99), 100)
              for source in VALIDITY for dimension in DIMENSIONS if dimension != "timeliness"]
    scores += [DimensionScore(source, "timeliness", 0, 0) for source in VALIDITY]
    rules = [RuleFailure("health", "id_number:bad_checksum", "warning", 12, ("110101********1230",)),
             RuleFailure("housing", "no_identity", "critical", 30 if position == len(RUNS) - 1 else 3, ("110101********123Y | 钱*",))]
    return Scorecard(run_id=run, scores=scores, rules=rules)


@pytest.fixture
def home(tmp_path):
    """A home with four scored runs in its SQLite shared layer; the last run has Data Docs and outcomes."""
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'shared.db'}"
    home.mkdir()
    upgrade(url)
    for position, run in enumerate(RUNS):
        (home / "runs" / run).mkdir(parents=True)
        save_scorecard(url, scorecard(run, position))
    docs = home / "runs" / RUNS[-1] / "quality" / "gx" / "uncommitted" / "data_docs" / "local_site"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<html>docs</html>", encoding="utf-8")
    (home / "runs" / RUNS[-1] / "quality" / "outcomes.json").write_text(json.dumps(OUTCOMES), encoding="utf-8")
    for position, run in enumerate(RUNS[1:], start=1):
        record_gate_outcomes(url, run, gate_outcome_rows(run, gate_checks(dangling=3 * (position - 1)), ["fact_health"] if position > 1 else []))
    return home


def gate_checks(dangling: int) -> list[dict]:
    """The resolved layer's outcomes of a run's gate: resident passes (one rule twice), fact_health has `dangling` rows."""
    def check(dataset, rule, severity, unexpected, expectation="unexpected_rows_expectation", target=None):
        return {"layer": "resolved", "dataset": dataset, "suite": dataset, "rule": rule, "expectation": expectation, "target": target or rule,
                "severity": severity, "success": unexpected == 0, "unexpected_count": unexpected}
    return [check("resident", None, "critical", 0, "expect_column_values_to_not_be_null", "resident_id"),
            check("resident", "resident_id_unique", "critical", 0), check("resident", "resident_id_unique", "warning", 0),
            check("fact_health", "fact_points_to_resident", "critical", dangling)]


def test_gate_outcome_rows_key_each_rule_once_per_dataset():
    rows = gate_outcome_rows("r1", gate_checks(dangling=2) + [dict(gate_checks(0)[1], success=False, unexpected_count=1)], ["fact_health"])
    keyed = {(r["dataset"], r["rule"]): (r["severity"], r["success"], r["unexpected_count"], r["held"]) for r in rows}
    assert keyed == {("resident", "expect_column_values_to_not_be_null(resident_id)"): ("critical", True, 0, False),
                     ("resident", "resident_id_unique"): ("critical", False, 1, False),
                     ("fact_health", "fact_points_to_resident"): ("critical", False, 2, True)}


def invoke(*args: str):
    from cityhub.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_report_defaults_to_latest_run_and_writes_html(home):
    result = invoke("quality", "report", "--home", str(home))
    assert result.exit_code == 0, result.output
    assert "provider scorecard" in result.output and "warning:" in result.output and "health validity fell 8.0 points" in result.output
    html_path = home / "runs" / RUNS[-1] / "quality" / "scorecard.html"
    assert str(html_path) in result.output.replace("\n", "")
    html = html_path.read_text(encoding="utf-8")
    scores = html[html.index('<table id="scores">'):]
    scores = scores[:scores.index("</table>")]
    assert "health" in scores and "housing" in scores and ">88.0<" in scores and ">90.0<" in scores
    assert html.count("<svg") == 2 and html.count("<polyline") >= 2 * (len(DIMENSIONS) - 1)  # a line per scored dimension
    assert len(re.findall(r"<circle", html)) >= 2 * 4 * (len(DIMENSIONS) - 1)  # four runs on every line
    assert 'href="gx/uncommitted/data_docs/local_site/index.html"' in html
    assert "110101********1230" in html and CLEAR_ID not in html and CLEAR_PHONE not in html and CLEAR_NAME not in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # self-contained: no external assets
    gates = html[html.index('<table id="dataset-failures">'):]
    assert "1 of 3 expectations passed" in html and "expect_column_values_to_be_unique" in gates[:gates.index("</table>")]
    assert "dataset gate failed: resident expect_column_values_to_be_unique" in result.output
    assert "housing rule no_identity (critical) failed 30 times, up from 3" in result.output and "(rule_spike)" in html
    # The dataset gate, read from gate_outcome: fact_health held on the last two runs, after passing on the one before.
    assert "dataset gate: 1 of 2 datasets passed; held: fact_health" in result.output
    assert f"fact_health held: fact_points_to_resident (critical) 6 failing — held 2 run(s) in a row, last passed in run {RUNS[1]}" in result.output
    gate = html[html.index('<table id="dataset-gate">'):]
    gate = gate[:gate.index("</table>")]
    assert "fact_points_to_resident" in gate and ">held<" in gate and ">published<" in gate and RUNS[1] in gate


def test_report_for_an_earlier_run_and_unknown_run(home):
    result = invoke("quality", "report", "--home", str(home), "--run", RUNS[1])
    assert result.exit_code == 0, result.output
    assert "no validation outcomes" in result.output and "no Data Docs" in result.output
    assert "dataset gate: 2 of 2 datasets passed" in result.output, "the gate's history is read up to the chosen run only"
    assert (home / "runs" / RUNS[1] / "quality" / "scorecard.html").exists()
    unknown = invoke("quality", "report", "--home", str(home), "--run", "nope")
    assert unknown.exit_code == 2 and "unknown run 'nope'" in unknown.output


def test_docs_prints_the_index_or_says_there_is_none(home):
    latest = invoke("quality", "docs", "--home", str(home))
    assert latest.exit_code == 0 and "index.html" in latest.output
    earlier = invoke("quality", "docs", "--home", str(home), "--run", RUNS[0])
    assert earlier.exit_code == 2 and "has no Data Docs" in earlier.output


def test_quality_server_serves_the_data_docs_on_loopback(home):
    import threading
    import urllib.request

    from cityhub.quality.cli import quality_server

    with quality_server(home / "runs" / RUNS[-1] / "quality") as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            host, port = server.server_address[:2]
            assert host == "127.0.0.1"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/gx/uncommitted/data_docs/local_site/index.html", timeout=5) as response:
                assert response.read() == b"<html>docs</html>"
        finally:
            server.shutdown()


def test_a_long_history_keeps_every_point_but_few_axis_labels():
    from cityhub.reports.charts import MAX_LABELS, short_run, trend_chart

    runs = [f"202611{day:02d}T000000000000Z" for day in range(1, 31)]
    svg = trend_chart("health", runs, {"validity": [90.0 + day % 3 for day in range(30)]})
    assert svg.count("<circle") == 30
    labels = [run for run in runs if f">{short_run(run)}</text>" in svg]
    assert runs[0] in labels and runs[-1] in labels and len(labels) <= MAX_LABELS + 1
