"""`cityhub quality`: the provider scorecard report and the run's Data Docs.

Heavy imports (Spark, the report renderer) happen inside the commands so `cityhub --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.table import Table

quality_app = typer.Typer(help="Data quality: provider scorecards and Data Docs of a run.", no_args_is_help=True)

RunOption = typer.Option(None, "--run", help="Run id (default: the latest run).")
HomeOption = typer.Option(None, "--home", help="cityhub home folder (default: $CITYHUB_HOME or ./.cityhub).")
BAND_STYLE = {"good": "green", "fair": "yellow", "poor": "red", "none": "dim"}


def _known_runs(settings) -> list[str]:
    from cityhub.lake import runs_dir
    from cityhub.quality.history import scored_runs
    from cityhub.status import shared_layer_status

    folders = {p.name for p in runs_dir(settings.home_dir).iterdir() if p.is_dir()} if runs_dir(settings.home_dir).is_dir() else set()
    recorded = {entry["run_id"] for entry in shared_layer_status(settings.shared_layer_url, runs=1000).get("runs", [])}
    scored = set(scored_runs(settings.shared_layer_url)) if recorded or folders else set()
    return sorted(folders | recorded | scored)


def _chosen_run(settings, run: str | None) -> str:
    from cityhub.cli import _fail

    runs = _known_runs(settings)
    if not runs:
        _fail(f"no pipeline runs under {settings.home_dir}: run `cityhub demo` or `cityhub run` first")
    if run is None:
        return runs[-1]
    if run not in runs:
        _fail(f"unknown run {run!r}; recent runs: {', '.join(runs[-5:])}")
    return run


@quality_app.command("report")
def report(run: Optional[str] = RunOption, home: Optional[Path] = HomeOption) -> None:
    """Print a run's provider scorecard and write it as HTML (`<run>/quality/scorecard.html`)."""
    from cityhub.cli import _fail, _settings, console
    from cityhub.lake import Lake, runs_dir
    from cityhub.quality.history import load_scorecard
    from cityhub.reports.scorecard import build_report, score_and_report, write_html
    from cityhub.sharedlayer import upgrade

    settings = _settings(home)
    run_id = _chosen_run(settings, run)
    run_dir = runs_dir(settings.home_dir) / run_id
    url = settings.shared_layer_url
    upgrade(url)
    if load_scorecard(url, run_id) is not None:
        result = build_report(url, run_id, run_dir)
        path = write_html(result, run_dir)
    else:
        lake = Lake.under(settings.home_dir)
        if not lake.standardised_persons(run_id).is_dir():
            _fail(f"run {run_id} has no scorecard and no standardised persons in {lake.root} to compute one from")
        result, path = _score_from_lake(settings, lake, run_id, run_dir, score_and_report)
    print_scorecard(console, result)
    console.print(f"scorecard HTML: {path}")
    console.print(f"Data Docs:      {result.data_docs or 'none built for this run'}")


def _score_from_lake(settings, lake, run_id: str, run_dir: Path, score_and_report):
    from connectors.definition import load_source_definitions
    from transforms.spark import get_spark

    from cityhub.quality.scorecard import ScoringRules

    rules = ScoringRules.from_definitions(load_source_definitions(settings.sources_dir))
    return score_and_report(get_spark(settings), settings.shared_layer_url, lake, run_id, run_dir, rules)


def print_scorecard(console, result) -> None:
    """The scorecard as a terminal table, then its warnings, worst rules and notes."""
    from cityhub.quality.scorecard import DIMENSIONS
    from cityhub.reports.scorecard import score_band

    # Dimensions as rows and departments as columns, the fraction under the score: six dimensions
    # by a handful of departments fits an 80-column terminal where the other way round truncates.
    table = Table(title=f"provider scorecard — run {result.run_id}", box=box.SIMPLE_HEAD)
    table.add_column("dimension")
    for source in result.scorecard.sources:
        table.add_column(source, justify="right", overflow="fold")
    for dimension in DIMENSIONS:
        cells = []
        for source in result.scorecard.sources:
            score = result.scorecard.score(source, dimension)
            text = "n/a" if score.score is None else f"{score.score:.1f}"
            cells.append(f"[{BAND_STYLE[score_band(score.score)]}]{text}[/]\n[dim]{score.numerator}/{score.denominator}[/]")
        table.add_row(dimension, *cells)
    console.print(table)
    for anomaly in result.anomalies:
        console.print(f"[yellow]warning:[/yellow] {anomaly.message}")
    for source in result.scorecard.sources:
        worst = [r for r in result.scorecard.rules if r.source == source][:3]
        if worst:
            console.print(f"{source} worst rules: " + "; ".join(f"{r.rule} ({r.severity}) {r.failing_count}" for r in worst))
    if result.validation:
        v = result.validation
        console.print(f"validation: {v.evaluated - v.failed} of {v.evaluated} expectations passed")
        for o in v.dataset_failures:
            console.print(f"[red]dataset gate failed[/red]: {o.get('dataset')} {o.get('expectation')} ({o.get('target')}, "
                          f"{o.get('severity')}) {o.get('unexpected_count') or 0} failing")
    for line in gate_lines(result.gates):
        console.print(line)
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]")


def gate_lines(gates) -> list[str]:
    """The run's dataset gate from the shared layer: how many datasets passed, then each held or failing one with its history."""
    if not gates:
        return []
    held = [gate.dataset for gate in gates if gate.held]
    lines = [f"dataset gate: {len(gates) - len(held)} of {len(gates)} datasets passed" + (f"; held: {', '.join(held)}" if held else "")]
    for gate in gates:
        if not gate.failed:
            continue
        rules = "; ".join(f"{o.rule} ({o.severity}) {o.unexpected_count if o.unexpected_count is not None else '?'} failing" for o in gate.failed)
        if gate.held:
            since = f"held {gate.held_runs} run(s) in a row, last passed in run {gate.last_passed}" if gate.last_passed else f"held {gate.held_runs} run(s) in a row, never passed"
            lines.append(f"[red]  {gate.dataset} held[/red]: {rules} — {since}")
        else:
            lines.append(f"[yellow]  {gate.dataset} passed with warnings[/yellow]: {rules}")
    return lines


@quality_app.command("docs")
def docs(
    run: Optional[str] = RunOption,
    serve: bool = typer.Option(False, "--serve", help="Serve the run's quality folder over HTTP on 127.0.0.1."),
    port: int = typer.Option(8765, "--port", help="Port for --serve."),
    home: Optional[Path] = HomeOption,
) -> None:
    """Print where a run's Data Docs are, or serve them on loopback (`--serve`)."""
    from cityhub.cli import _fail, _settings, console
    from cityhub.lake import runs_dir
    from cityhub.reports.scorecard import data_docs_index, quality_dir

    settings = _settings(home)
    run_id = _chosen_run(settings, run)
    index = data_docs_index(runs_dir(settings.home_dir) / run_id)
    if index is None:
        _fail(f"run {run_id} has no Data Docs (expected under {quality_dir(runs_dir(settings.home_dir) / run_id)}); "
              "they are built when the run validates its layers")
    console.print(f"Data Docs: {index}")
    if serve:
        _serve(quality_dir(runs_dir(settings.home_dir) / run_id), index, port, console)


def quality_server(folder: Path, port: int = 0):
    """An HTTP server for `folder` on 127.0.0.1 (port 0: any free port); the caller runs and closes it."""
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    return ThreadingHTTPServer(("127.0.0.1", port), partial(SimpleHTTPRequestHandler, directory=str(folder)))


def _serve(folder: Path, index: Path, port: int, console) -> None:
    with quality_server(folder, port) as server:
        console.print(f"serving http://127.0.0.1:{server.server_port}/{index.relative_to(folder).as_posix()} (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            console.print("stopped")
