"""The `cityhub` command line: demo, run, status, sources, simulate, db."""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table

from .config import Settings, load_settings
from .quality.cli import quality_app

app = typer.Typer(help="cityhub: a city's data-sharing hub.", no_args_is_help=True, pretty_exceptions_show_locals=False)
sources_app = typer.Typer(help="Source definitions: validate and check connectivity.", no_args_is_help=True)
simulate_app = typer.Typer(help="The synthetic city and its four department systems.", no_args_is_help=True)
db_app = typer.Typer(help="The shared layer database.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
app.add_typer(simulate_app, name="simulate")
app.add_typer(db_app, name="db")
app.add_typer(quality_app, name="quality")

console = Console()
HomeOption = typer.Option(None, "--home", help="cityhub home folder (default: $CITYHUB_HOME or ./.cityhub).")
SourcesOption = typer.Option(None, "--sources", help="Folder of source definition YAML files (default: $CITYHUB_SOURCES_DIR).")


def _settings(home: Optional[Path] = None, sources: Optional[Path] = None) -> Settings:
    return load_settings(home=home, sources_dir=sources)


@contextmanager
def _stage_progress(title: str) -> Iterator:
    """A spinner that shows the current stage of a long run and logs each stage line."""
    with console.status(title) as status:
        def update(message: str) -> None:
            console.log(message)
            status.update(f"{title}: {message}")
        yield update


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/bold red] {message}")
    raise typer.Exit(code)


def _run_and_report(settings: Settings, only: list[str] | None, title: str, incremental: bool = False) -> dict:
    from connectors.definition import SourceDefinitionError

    from .context import RunContext
    from .pipeline import PipelineError, run_pipeline

    try:
        ctx = RunContext(settings)
    except SourceDefinitionError as exc:
        _fail(str(exc))
    try:
        with _stage_progress(title) as progress:
            report = run_pipeline(ctx, sources=only, progress=progress, incremental=incremental)
    except (PipelineError, SourceDefinitionError) as exc:
        _fail(f"{exc}\nrun report: {ctx.run_dir / 'report.json'}", code=1)
    print_run_summary(settings, report)
    return report


def print_run_summary(settings: Settings, report: dict) -> None:
    """Print records per source, quarantine, residents and where the outputs are."""
    from .reports.scorecard import run_summary_lines

    table = Table(title=f"run {report['run_id']} — {report['status']}")
    for column in ("source", "stream", "rows", "extracted (this batch)", "current", "standardised", "quarantined", "reconciles"):
        table.add_column(column, justify="right" if column not in ("source", "stream", "rows") else "left")
    extracted = {
        (name, stream): entry.get("rows", 0)
        for name, source in report["sources"].items()
        for stream, entry in (source.get("streams") or {}).items()
    }
    persons_streams = {(r["source"], r["stream"]) for r in report.get("reconciliation", []) if r["kind"] == "persons"}
    for row in report.get("reconciliation", []):
        key = (row["source"], row["stream"])
        landed = str(extracted.get(key, 0)) if row["kind"] == "persons" or key not in persons_streams else ""
        table.add_row(row["source"], row["stream"], "person records" if row["kind"] == "persons" else "facts", landed, str(row["current"]),
                      str(row["standardised"]), str(row["quarantined"]), "yes" if row["ok"] else "[red]NO[/red]")
    console.print(table)
    for name, source in report["sources"].items():
        if source["status"] != "ok":
            console.print(f"[red]source {name} failed:[/red] {source['error']}")
        for warning in (source.get("raw_validation") or {}).get("warning", []):
            console.print(f"[yellow]raw batch of {name}, warning:[/yellow] {warning}")
    resolve = report.get("resolve", {})
    by_rule = resolve.get("xref_by_rule", {})
    published = report.get("publish", {}).get("rows", {})
    console.print(f"residents: [bold]{resolve.get('residents', '?')}[/bold]   linked source records: {sum(by_rule.values())} "
                  f"({', '.join(f'{rule} {count}' for rule, count in by_rule.items())})   quarantined: {published.get('quarantine', 0)}")
    console.print("published: " + ", ".join(f"{table} {rows}" for table, rows in published.items()))
    steps = report.get("step_seconds") or {}
    if steps:
        console.print("steps: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items())
                      + f" (total {sum(steps.values()):.1f} s)")
    console.print(f"shared layer: {settings.shared_layer_url}")
    console.print(f"lake:         {settings.home_dir / 'lake'}")
    console.print(f"run report:   {settings.home_dir / 'runs' / report['run_id'] / 'report.json'}")
    for line in run_summary_lines(report):
        console.print(line)


@app.command()
def demo(
    residents: int = typer.Option(20_000, help="Residents in the synthetic city."),
    seed: int = typer.Option(42, help="Random seed of the synthetic city."),
    noise: str = typer.Option("default", help="Noise profile: none, default or hard."),
    days: int = typer.Option(3, min=1, help="Simulated days, one pipeline run each; every day after the first advances the city first (trends need three)."),
    home: Optional[Path] = HomeOption,
) -> None:
    """Generate a city, start its four department systems, run the pipeline once per simulated day, print a summary."""
    from simulators.runtime import CitySystems

    from .demo import advance_demo_day, ensure_demo_city, truth_coverage

    settings = _settings(home)
    city_dir = ensure_demo_city(settings.home_dir, residents=residents, seed=seed, noise=noise, log=console.log)
    with CitySystems(city_dir) as systems:
        os.environ.update(systems.env)
        console.log(f"department systems up: civil affairs {systems.civil_affairs_url}, health {systems.health_url}, "
                    f"public security {systems.env['CITYHUB_PUBLIC_SECURITY_URL']}, housing drop {systems.env['CITYHUB_HOUSING_DROP']}")
        reports = []
        for day in range(1, days + 1):
            if day > 1:
                console.log(advance_demo_day(city_dir))
            reports.append(_run_and_report(settings, None, f"demo city, day {day} of {days}"))
    coverage = truth_coverage(settings.shared_layer_url, city_dir)
    console.print(f"ground truth: {coverage['accounted']} of {coverage['truth_records']} source records are in resident_xref or quarantine "
                  f"(missing {coverage['missing']}, counted twice {coverage['duplicated']})")
    if any(r["status"] != "success" for r in reports) or coverage["missing"] or coverage["duplicated"]:
        raise typer.Exit(1)


@app.command()
def run(
    source: list[str] = typer.Option(None, "--source", "-s", help="Only these sources (repeatable); all by default."),
    sources: Optional[Path] = SourcesOption,
    home: Optional[Path] = HomeOption,
    incremental: bool = typer.Option(False, "--incremental", help="Re-match only records new or changed since the published run."),
) -> None:
    """Run the pipeline over the configured (real) sources."""
    report = _run_and_report(_settings(home, sources), source or None, "cityhub run", incremental=incremental)
    if report["status"] != "success":
        raise typer.Exit(1)


@app.command()
def status(home: Optional[Path] = HomeOption) -> None:
    """Show the shared layer's datasets and versions, the last runs and each source's bookmarks."""
    from .status import shared_layer_status

    settings = _settings(home)
    info = shared_layer_status(settings.shared_layer_url)
    console.print(f"shared layer: {settings.shared_layer_url} (schema revision {info.get('revision')})")
    table = Table(title="published datasets")
    for column in ("dataset", "version", "rows", "published at", "run"):
        table.add_column(column)
    for dataset in info.get("datasets", []):
        table.add_row(dataset["dataset"], str(dataset["version"]), str(dataset["row_count"]), str(dataset["published_at"]), dataset["run_id"])
    console.print(table)
    runs = Table(title="recent runs")
    for column in ("run", "status", "started", "finished"):
        runs.add_column(column)
    for entry in info.get("runs", []):
        runs.add_row(entry["run_id"], entry["status"], str(entry["started_at"]), str(entry.get("finished_at")))
    console.print(runs)
    state = settings.home_dir / "state"
    for file in sorted(state.glob("*.json")) if state.is_dir() else []:
        streams = json.loads(file.read_text(encoding="utf-8")).get("streams", {})
        marks = ", ".join(f"{name}={entry.get('bookmark')!s:.40}" for name, entry in streams.items())
        console.print(f"bookmarks {file.stem}: {marks}")


@app.command()
def explain(
    resident_id: str = typer.Argument(..., help="A resident id (an id merged away is followed to its resident)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    home: Optional[Path] = HomeOption,
) -> None:
    """Why records were joined into a resident, which source supplied each golden field, its id history and open reviews."""
    from .explain import ExplainError, explain_resident, render

    try:
        explanation = explain_resident(_settings(home).shared_layer_url, resident_id)
    except ExplainError as exc:
        _fail(str(exc), code=1)
    if as_json:
        console.print_json(data=explanation.to_dict())
    else:
        render(explanation, console)


@sources_app.command("validate")
def sources_validate(sources: Optional[Path] = SourcesOption) -> None:
    """Validate every source definition; errors name the file, the key and the fix."""
    from connectors.definition import SourceDefinitionError, load_source_definitions

    settings = _settings(sources=sources)
    try:
        definitions = load_source_definitions(settings.sources_dir)
    except SourceDefinitionError as exc:
        _fail(str(exc))
    for definition in definitions:
        console.print(f"[green]ok[/green] {definition.path}: {definition.name} ({definition.kind}), streams: {', '.join(s.name for s in definition.streams)}")


@sources_app.command("check")
def sources_check(sources: Optional[Path] = SourcesOption) -> None:
    """Try to reach every configured source."""
    from connectors.definition import load_source_definitions
    from connectors.extract import check_source

    failed = 0
    for definition in load_source_definitions(_settings(sources=sources).sources_dir):
        try:
            console.print(f"[green]ok[/green] {definition.name}: {check_source(definition)}")
        except Exception as exc:  # noqa: BLE001 - report every source, whatever went wrong
            failed += 1
            console.print(f"[red]down[/red] {definition.name}: {exc}")
    if failed:
        raise typer.Exit(1)


@simulate_app.command("generate")
def simulate_generate(
    out: Path = typer.Option(..., help="Folder to write the city into."),
    residents: int = typer.Option(20_000),
    seed: int = typer.Option(42),
    noise: str = typer.Option("default", help="none, default or hard"),
) -> None:
    """Generate a synthetic city with its department data and ground truth."""
    from simulators.city import generate_city

    manifest = generate_city(out, residents=residents, seed=seed, noise=noise)
    console.print_json(data=manifest)


@simulate_app.command("advance")
def simulate_advance(
    city: Path = typer.Option(..., help="A generated city folder."),
    days: int = typer.Option(1),
    change_share: Optional[float] = typer.Option(
        None, "--change-share",
        help="Change about this share of the source records (0.01 = 1%) in realistic kinds, instead of a fixed few per day."),
) -> None:
    """Simulate the next day(s): new and changed records in every department system."""
    from simulators.city import advance_city

    try:
        manifest = advance_city(city, days=days, change_share=change_share)
    except ValueError as exc:  # a share outside (0, 1]
        _fail(str(exc))
    console.print_json(data=manifest)
    if change_share is not None:
        print_change_set(manifest["last_advance"])


def print_change_set(summary: dict) -> None:
    """The records each kind of change touched, and the share of the source records changed in all."""
    table = Table(title=f"change set: {summary['records_changed']:,} of {summary['source_records']:,} source records "
                        f"({summary['achieved_share']:.2%}, asked {summary['change_share']:.2%})")
    table.add_column("kind")
    table.add_column("records", justify="right")
    for kind, count in summary["changes"].items():
        table.add_row(kind.replace("_", " "), f"{count:,}")
    console.print(table)
    console.print(f"also: {summary['hukou_events']:,} hukou events, {summary['certificates']:,} certificates, "
                  f"{summary['households_moved']:,} households moved, {summary['housing_files']} housing drop files")


@simulate_app.command("load-public-security")
def simulate_load_public_security(
    city: Path = typer.Option(..., help="A generated city folder."),
    url: str = typer.Option(..., help="SQLAlchemy URL of the PostgreSQL or MariaDB database to load."),
) -> None:
    """Load the public security bureau's tables into a PostgreSQL or MariaDB database."""
    from simulators.city import load_public_security

    load_public_security(city, url)
    console.print(f"public security tables loaded into {url.split('@')[-1]}")


@simulate_app.command("serve")
def simulate_serve(
    system: str = typer.Argument(..., help="civil_affairs or health"),
    city: Path = typer.Option(..., help="A generated city folder."),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8001),
) -> None:
    """Serve one simulated department system over HTTP until stopped."""
    from simulators.runtime import serve_system

    serve_system(system, city, host, port)


@db_app.command("upgrade")
def db_upgrade(home: Optional[Path] = HomeOption) -> None:
    """Migrate the shared layer schema to the latest revision."""
    from .sharedlayer import current_revision, upgrade

    url = _settings(home).shared_layer_url
    upgrade(url)
    console.print(f"{url}: at revision {current_revision(url)}")


def main() -> None:
    logging.basicConfig(level=os.environ.get("CITYHUB_LOG_LEVEL", "WARNING"))
    app()


if __name__ == "__main__":
    main()
