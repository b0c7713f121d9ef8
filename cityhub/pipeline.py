"""The pipeline's steps, as plain functions over a run context.

The CLI (`cityhub run`, `cityhub demo`) and the Airflow DAGs call these same functions; steps meet
in the lake, so nothing large passes between them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from .clock import StepClock
from .context import RunContext

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


class PipelineError(RuntimeError):
    """A step failed; the message says which and why. What is published stays as it was."""


def _noop(_: str) -> None:
    return None


def as_plain(value: Any) -> Any:
    """Turn step results (dataclasses, paths, dates) into JSON-ready values for reports."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): as_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [as_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def extract_step(ctx: RunContext, source: str, batch_id: str | None = None, progress: Progress = _noop) -> dict:
    """Land one source's new records in the raw layer; raises SourceUnavailableError if it is down."""
    from connectors.extract import extract_source

    definition = ctx.source(source)
    batch = batch_id or ctx.run_id
    progress(f"extracting {source} (batch {batch})")
    result = extract_source(definition, ctx.lake, ctx.state_dir, batch, progress=lambda stream, rows: progress(f"{source}.{stream}: {rows} rows"))
    return as_plain(result)


def validate_raw_step(ctx: RunContext, source: str, extracted: dict, progress: Progress = _noop) -> dict:
    """Validate the raw batch a source has just landed (`extracted`: what `extract_step` returned) with its GX suite.

    A critical failure withdraws the batch, as if the source had been down: it moves to the lake's
    rejected area, the bookmarks go back to where it started (the next batch reads its records
    again), and RawBatchRejected names the stream and rule.
    """
    from connectors.extract import withdraw_batch

    from .quality.raw import RawBatchRejected, validate_raw_batch

    definition, batch = ctx.source(source), extracted["batch_id"]
    reported = {stream: entry.get("rows", 0) for stream, entry in (extracted.get("streams") or {}).items()}
    progress(f"validating the raw batch of {source}")
    validation = validate_raw_batch(ctx.lake, definition, batch, reported, ctx.run_dir)
    for failure in validation.failures("warning"):
        log.warning("raw batch %s of %s: %s", batch, source, failure)
    if validation.blocking:
        moved = withdraw_batch(definition, ctx.lake, ctx.state_dir, batch)
        kept = f" (kept in {next(iter(moved.values())).parent.parent})" if moved else ""
        message = f"{validation.message()}; batch withdrawn{kept} and bookmarks put back, so the next batch reads these records again"
        log.error(message)
        raise RawBatchRejected(message)
    return validation.summary()


def land_source(ctx: RunContext, source: str, progress: Progress = _noop, clock: StepClock | None = None) -> dict:
    """Extract one source and validate what it landed: its run-report entry, `failed` (with the error)
    when the source was down or its batch broke a critical raw rule."""
    from connectors.errors import SourceUnavailableError

    from .quality.raw import RawBatchRejected

    clock = clock or StepClock()
    try:
        with clock.step(f"extract {source}"):
            extracted = extract_step(ctx, source, progress=progress)
        with clock.step(f"validate_raw {source}"):
            validation = validate_raw_step(ctx, source, extracted, progress)
        return {"status": "ok", **extracted, "raw_validation": validation}
    except (SourceUnavailableError, RawBatchRejected) as exc:
        log.error("source %s failed: %s", source, exc)
        progress(f"[red]source {source} failed[/red]: {exc}")
        return {"status": "failed", "error": str(exc)}


def standardise_step(ctx: RunContext, progress: Progress = _noop) -> dict:
    """Standardise every source's current records into canonical persons, facts and quarantine."""
    from transforms.spark import get_spark
    from transforms.standardise.run import standardise_sources

    progress("standardising")
    return as_plain(standardise_sources(get_spark(ctx.settings), ctx.sources, ctx.lake, ctx.run_id))


def resolve_step(ctx: RunContext, progress: Progress = _noop, incremental: bool = False) -> dict:
    """Link standardised records into residents and build golden records and fact tables.

    Residents keep the ids the live run gave them; `incremental` re-matches only records new or
    changed since that run (a first run is always full).
    """
    from transforms.resolve.registry import live_run_before
    from transforms.resolve.run import resolve_residents
    from transforms.spark import get_spark

    progress("resolving residents" + (" (incremental)" if incremental else ""))
    previous = live_run_before(ctx.settings.shared_layer_url, ctx.run_id)  # its resident ids are kept
    return as_plain(resolve_residents(get_spark(ctx.settings), ctx.sources, ctx.lake, ctx.run_id, ctx.settings.hub_secret,
                                      previous_run=previous, incremental=incremental))


def publish_step(ctx: RunContext, progress: Progress = _noop) -> dict:
    """Publish the run's resolved tables to the shared layer in one transaction, leaving out what the quality gate held;
    the gate's outcomes go to `gate_outcome` with the publish, or on their own when the gate held everything."""
    from .publish import publish_run
    from .quality.gate_history import gate_outcome_rows, record_gate_outcomes, replace_gate_outcomes
    from .quality.gates import RESOLVED, publishable_facts, read_gate, read_outcomes
    from .sharedlayer import upgrade

    url = ctx.settings.shared_layer_url
    gate = read_gate(ctx.run_dir)
    gate_rows = gate_outcome_rows(ctx.run_id, read_outcomes(ctx.run_dir, RESOLVED), gate.held) if gate is not None else None
    fact_sources = publishable_facts({d.name: d.fact_names() for d in ctx.sources or []}, gate)
    upgrade(url)
    if fact_sources is None:
        progress(f"[red]not publishing[/red]: {gate.message()}")
        record_gate_outcomes(url, ctx.run_id, gate_rows)  # the auditor must see why nothing was published
        return {"skipped": True, "held": gate.held, "gate_outcomes": len(gate_rows)}
    progress("publishing to the shared layer")
    record = (lambda connection: replace_gate_outcomes(connection, ctx.run_id, gate_rows)) if gate_rows is not None else None
    result = as_plain(publish_run(url, ctx.lake, ctx.run_id, fact_sources, before_commit=record))
    return {**result, "gate_outcomes": len(gate_rows or [])}


def validate_standardised_step(ctx: RunContext, progress: Progress = _noop) -> dict:
    """Validate each department's standardised records with its GX suite; fails when GX and the quarantine disagree."""
    from transforms.spark import get_spark

    from .quality.gates import validate_standardised_sources

    progress("validating standardised records")
    results = validate_standardised_sources(get_spark(ctx.settings), ctx.lake, ctx.run_id, [d.name for d in ctx.sources or []], ctx.run_dir)
    return {source: {"success": r.success, "failed": [o.rule or o.expectation for o in r.failures()]} for source, r in results.items()}


def gate_step(ctx: RunContext, progress: Progress = _noop) -> dict:
    """Validate the run's resolved datasets before publishing; the decision (what is held) goes to the run folder."""
    from transforms.spark import get_spark

    from .quality.gates import gate_resolved

    progress("quality gate on the resolved datasets")
    decision = gate_resolved(get_spark(ctx.settings), ctx.lake, ctx.run_id, [d.name for d in ctx.sources or []], ctx.run_dir)
    if not decision.passed:
        progress(f"[red]quality gate[/red]: {decision.message()}")
    return {"passed": decision.passed, "failures": decision.failures, "held": decision.held, "message": decision.message()}


def validate_published_step(ctx: RunContext, published: dict, progress: Progress = _noop) -> dict:
    """Validate the published tables over SQL and record the run's quarantine history (opened and closed entries)."""
    from .quality.gates import validate_published_run
    from .quality.quarantine_history import record_quarantine_history

    progress("validating the published tables")
    history = record_quarantine_history(ctx.settings.shared_layer_url, ctx.lake, ctx.run_id)
    if published.get("skipped"):
        return {"skipped": True, "quarantine_history": history}
    result = validate_published_run(ctx.settings.shared_layer_url, ctx.lake, ctx.run_id, published.get("rows") or {}, ctx.run_dir)
    return {"success": result.success, "failed": [f"{o.suite}: {o.rule or o.expectation}" for o in result.failures()],
            "quarantine_history": history}


def scorecard_step(ctx: RunContext, progress: Progress = _noop) -> dict:
    """Score every department on the run (history in the shared layer) and write `<run>/quality/scorecard.html`."""
    from .reports.scorecard import scorecard_step as score

    return score(ctx, progress)


def reconciliation(standardised: dict) -> list[dict]:
    """Per-stream rows of `current = standardised + quarantined` (person records and fact rows), each with `ok`."""
    rows = []
    for kind in ("persons", "facts"):
        for source, streams in standardised.get(kind, {}).items():
            for stream, counts in streams.items():
                current, accepted, held = counts["current"], counts["standardised"], counts["quarantined"]
                rows.append({"kind": kind, "source": source, "stream": stream, "current": current,
                             "standardised": accepted, "quarantined": held, "ok": current == accepted + held})
    return rows


def standardise_and_reconcile(ctx: RunContext, progress: Progress = _noop) -> dict:
    """Standardise, then fail if any stream's rows do not reconcile (current = standardised + quarantined)."""
    result = standardise_step(ctx, progress)
    rows = reconciliation(result)
    broken = [row for row in rows if not row["ok"]]
    if broken:
        raise PipelineError(f"counts do not reconcile for {[(r['source'], r['stream']) for r in broken]}: {broken}")
    return {"standardise": result, "reconciliation": rows}


def write_report(ctx: RunContext, report: dict) -> None:
    """Write the run report as JSON into the run's folder."""
    (ctx.run_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def run_pipeline(ctx: RunContext, sources: Iterable[str] | None = None, progress: Progress = _noop, incremental: bool = False) -> dict:
    """Extract and validate the chosen sources (all by default), then standardise, resolve and publish.

    A source that is down, or whose new batch breaks a critical raw rule, fails on its own: the
    others still land and the run publishes from what the lake holds (the failed source's earlier
    batches included). A failing later step stops the run before publishing, so the shared layer
    keeps its previous version.
    """
    from .sharedlayer import record_run_end, record_run_start, upgrade

    url = ctx.settings.shared_layer_url
    upgrade(url)
    report: dict[str, Any] = {"run_id": ctx.run_id, "started_at": datetime.now(timezone.utc).isoformat(), "sources": {}}
    record_run_start(url, ctx.run_id)
    clock = StepClock()
    report["step_seconds"] = clock.seconds  # filled as the steps run, so a failed run reports how far it got
    try:
        for name in sources or [d.name for d in ctx.sources or []]:
            report["sources"][name] = land_source(ctx, name, progress, clock)
        with clock.step("standardise"):
            report.update(standardise_and_reconcile(ctx, progress))
        with clock.step("validate_standardised"):
            report["validation"] = validate_standardised_step(ctx, progress)
        with clock.step("resolve"):
            report["resolve"] = resolve_step(ctx, progress, incremental=incremental)
        with clock.step("quality_gate"):
            report["gate"] = gate_step(ctx, progress)
        with clock.step("publish"):
            report["publish"] = publish_step(ctx, progress)
        with clock.step("validate_published"):
            report["published_validation"] = validate_published_step(ctx, report["publish"], progress)
        with clock.step("scorecard"):
            report["scorecard"] = scorecard_step(ctx, progress)
        failed = [name for name, entry in report["sources"].items() if entry["status"] != "ok"]
        report["status"] = "gated" if report["gate"]["held"] else "partial" if failed else "success"
    except Exception as exc:
        report["status"] = "failed"
        report["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        report["finished_at"] = datetime.now(timezone.utc).isoformat()
        write_report(ctx, report)
        record_run_end(url, ctx.run_id, report["status"], report)
    if report["status"] == "gated":
        # The datasets that passed are published; the exit code still tells the operator one was held.
        raise PipelineError(report["gate"]["message"])
    return report
