"""The provider scorecard report: one run's scores, the trend over runs, worst rules, anomalies, as HTML.

`scorecard_step` is the pipeline's hook (compute from the lake, store the history, write the HTML);
`build_report` reads a scored run back from the shared layer (its dataset gate too, from `gate_outcome`,
so the report needs no run folder for it) and `write_html` renders it to
`<run_dir>/quality/scorecard.html`. Example values are masked before they are stored, so neither
the shared layer's history nor the HTML holds an ID number, phone or name in clear.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from cityhub.quality.gate_history import DatasetGate, dataset_gates, load_gate_outcomes
from cityhub.quality.history import (Anomaly, ScoreRow, detect_anomalies, detect_rule_spikes, load_history, load_scorecard,
                                     save_scorecard)
from cityhub.quality.scorecard import DIMENSIONS, Scorecard, ScoringRules, read_outcomes, scorecard_for_run

from .charts import trend_chart

log = logging.getLogger(__name__)

# Where cityhub.quality.run builds Data Docs inside a report folder (spelt again so this module does not load GX).
DATA_DOCS_INDEX = Path("gx") / "uncommitted" / "data_docs" / "local_site" / "index.html"
REPORT_NAME = "scorecard.html"


@dataclass(frozen=True)
class ValidationSummary:
    """The run's validation outcomes in short: how many expectations ran and failed, and the failures no department owns."""

    evaluated: int
    failed: int
    dataset_failures: tuple[dict, ...]

    @classmethod
    def from_outcomes(cls, outcomes: list[dict]) -> "ValidationSummary":
        """Count the outcomes; keep the failed ones without a `source` (published datasets' gates), critical first."""
        failed = [o for o in outcomes if not o.get("success")]
        unowned = sorted((o for o in failed if not o.get("source")),
                         key=lambda o: (o.get("severity") != "critical", o.get("dataset") or "", o.get("expectation") or ""))
        return cls(evaluated=len(outcomes), failed=len(failed), dataset_failures=tuple(unowned))


@dataclass
class ScorecardReport:
    """Everything the HTML and the terminal summary show for one run."""

    run_id: str
    scorecard: Scorecard
    runs: list[str]
    history: list[ScoreRow]
    anomalies: list[Anomaly]
    data_docs: Path | None
    notes: list[str] = field(default_factory=list)
    validation: ValidationSummary | None = None
    gates: list[DatasetGate] = field(default_factory=list)  # the dataset gate of this run, from the shared layer's gate_outcome

    def trend(self, source: str) -> dict[str, list[float | None]]:
        """Per dimension, the department's score on every run up to this one (None where not scored)."""
        scores = {(r.run_id, r.dimension): r.score for r in self.history if r.source == source}
        return {dimension: [scores.get((run, dimension)) for run in self.runs] for dimension in DIMENSIONS}


def quality_dir(run_dir: Path) -> Path:
    """The run's quality folder (Data Docs, outcomes.json, the scorecard HTML)."""
    return Path(run_dir) / "quality"


def data_docs_index(run_dir: Path) -> Path | None:
    """The run's Data Docs index page, if the run built Data Docs."""
    index = quality_dir(run_dir) / DATA_DOCS_INDEX
    return index if index.exists() else None


def build_report(url: str, run_id: str, run_dir: Path, scorecard: Scorecard | None = None) -> ScorecardReport:
    """A scored run (read back from the shared layer unless given) with its history from the shared layer."""
    scorecard = scorecard or load_scorecard(url, run_id)
    if scorecard is None:
        raise LookupError(f"run {run_id} has no scorecard in the shared layer")
    history = [row for row in load_history(url) if row.run_id <= run_id]
    notes = []
    outcomes = read_outcomes(run_dir)
    if outcomes is None:
        notes.append("no validation outcomes (quality/outcomes.json) were written for this run: the worst rules come from "
                     "the standardiser's flags and the quarantine only")
    runs = sorted({r.run_id for r in history})
    earlier = [run for run in runs if run < run_id]
    previous = load_scorecard(url, earlier[-1]) if earlier else None
    anomalies = detect_anomalies(history, run_id) + detect_rule_spikes(scorecard, previous)
    docs = data_docs_index(run_dir)
    if docs is None:
        notes.append("no Data Docs were built for this run")
    return ScorecardReport(run_id=run_id, scorecard=scorecard, runs=runs, history=history, anomalies=anomalies, data_docs=docs, notes=notes,
                           validation=ValidationSummary.from_outcomes(outcomes) if outcomes is not None else None,
                           gates=dataset_gates(load_gate_outcomes(url, run_id), run_id))


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("cityhub.reports", "templates"), autoescape=select_autoescape(["html", "j2"]))
    env.filters["score"] = lambda value: "n/a" if value is None else f"{value:.1f}"
    env.filters["band"] = score_band
    return env


def score_band(score: float | None) -> str:
    """A CSS class for a score: good (≥ 95), fair (≥ 80), poor, or none."""
    if score is None:
        return "none"
    return "good" if score >= 95 else "fair" if score >= 80 else "poor"


def render_html(report: ScorecardReport, output: Path) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no external assets)."""
    charts = {source: Markup(trend_chart(f"{source}: scores over runs", report.runs, report.trend(source)))
              for source in report.scorecard.sources}
    docs_link = os.path.relpath(report.data_docs, Path(output).parent) if report.data_docs else None
    return _environment().get_template("scorecard.html.j2").render(
        report=report, dimensions=DIMENSIONS, charts=charts, docs_link=docs_link, scores=_score_table(report.scorecard))


def _score_table(scorecard: Scorecard) -> dict[str, dict[str, object]]:
    return {source: {s.dimension: s for s in scorecard.scores if s.source == source} for source in scorecard.sources}


def write_html(report: ScorecardReport, run_dir: Path) -> Path:
    """Write the report to `<run_dir>/quality/scorecard.html` and return its path."""
    output = quality_dir(run_dir) / REPORT_NAME
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_html(report, output), encoding="utf-8")
    return output


def score_and_report(spark, url: str, lake, run_id: str, run_dir: Path, rules: ScoringRules) -> tuple[ScorecardReport, Path]:
    """Compute a run's scorecard from the lake, replace its history rows, and write the HTML."""
    scorecard = scorecard_for_run(spark, lake, run_id, run_dir, rules)
    save_scorecard(url, scorecard)
    report = build_report(url, run_id, run_dir, scorecard)
    return report, write_html(report, run_dir)


def scorecard_step(ctx, progress=lambda _: None) -> dict:
    """Pipeline hook after publish: score every department, store the history, write the HTML report.

    A scorecard that cannot be computed does not undo a publish: the error is logged and returned
    in the run report instead of failing the run.
    """
    from cityhub.sharedlayer import upgrade
    from transforms.spark import get_spark

    progress("scoring departments (provider scorecard)")
    url = ctx.settings.shared_layer_url
    try:
        upgrade(url)
        report, path = score_and_report(get_spark(ctx.settings), url, ctx.lake, ctx.run_id, ctx.run_dir,
                                        ScoringRules.from_definitions(ctx.sources or []))
    except Exception as exc:  # noqa: BLE001 - reported in the run report and the log, the publish stands
        log.exception("provider scorecard of run %s failed", ctx.run_id)
        progress(f"[red]provider scorecard failed[/red]: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    for anomaly in report.anomalies:
        progress(f"[yellow]quality warning[/yellow]: {anomaly.message}")
    return {"html": str(path), "data_docs": str(report.data_docs) if report.data_docs else None,
            "scores": {s.source: {d.dimension: d.score for d in report.scorecard.scores if d.source == s.source}
                       for s in report.scorecard.scores},
            "anomalies": [a.message for a in report.anomalies]}


def run_summary_lines(run_report: dict) -> list[str]:
    """Lines for the terminal: where a run's scorecard HTML and Data Docs are, and its quality warnings."""
    scorecard = run_report.get("scorecard")
    if not scorecard:
        return []
    if "error" in scorecard:
        return [f"provider scorecard failed: {scorecard['error']}"]
    lines = [f"scorecard:    {scorecard['html']}", f"Data Docs:    {scorecard.get('data_docs') or 'none built for this run'}"]
    return lines + [f"quality warning: {message}" for message in scorecard.get("anomalies", [])]
