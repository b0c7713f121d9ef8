"""Resolution benchmark: cityhub's standardise + resolve against a plain Splink 5 pipeline on one simulated city.

    .venv/bin/python -m benchmarks.resolution.run --residents 10000 --noise default --repeats 3

Generates the city, serves its four department systems, extracts every source once, then times
each stage `--repeats` times (medians reported) with the peak resident memory of this process and
its children (the Spark JVM), and scores both pipelines against the simulator's ground truth.
With `--change-share` (0.01: 1%) it then advances the city by a change set of about that share of
the source records, extracts it as a second batch, standardises, and times a full resolve and an
incremental one of the same data against the last repeat's run (`--repeats` times each, medians),
with the share of unchanged residents that kept their `resident_id`.
Results go to `benchmarks/results/<name>.json` and `<name>.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Callable, Iterator

import psutil

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
HUB_SECRET = "benchmark-hub-secret"


class PeakMemory:
    """Peak RSS of this process plus all its children, sampled in a background thread."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def current() -> int:
        """RSS in bytes of this process and its live descendants."""
        process = psutil.Process(os.getpid())
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue  # a worker that exited between listing and reading
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self.peak = self.current()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.peak = max(self.peak, self.current())


@dataclass
class StageTiming:
    """Wall times and peak memory of one stage over its repeats."""

    seconds: list[float] = field(default_factory=list)
    peak_rss_bytes: list[int] = field(default_factory=list)

    def to_dict(self, records: int) -> dict:
        """Medians, all runs, and records per second at the median."""
        median = statistics.median(self.seconds)
        return {
            "median_seconds": round(median, 3), "runs_seconds": [round(s, 3) for s in self.seconds],
            "peak_rss_mb": round(max(self.peak_rss_bytes) / 2**20, 1), "records_per_second": round(records / median, 1) if median else None,
        }


def timed(timing: StageTiming, action: Callable[[], object]) -> object:
    """Run `action`, recording its wall time and peak memory in `timing`."""
    with PeakMemory() as memory:
        start = time.perf_counter()
        result = action()
        timing.seconds.append(time.perf_counter() - start)
    timing.peak_rss_bytes.append(memory.peak)
    return result


@contextmanager
def department_env(city_dir: Path) -> Iterator[None]:
    """The city's department systems served, with their connection settings in the environment."""
    from simulators.runtime import CitySystems

    with CitySystems(city_dir) as systems:
        saved = {name: os.environ.get(name) for name in systems.env}
        os.environ.update(systems.env)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def machine_facts(spark) -> dict:
    """Cores, memory, Spark master and library versions of this run."""
    return {
        "cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(), "python": platform.python_version(),
        "spark_master": spark.sparkContext.master, "spark": spark.version,
        "spark_driver_memory": spark.conf.get("spark.driver.memory", None),
        "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"),
        "splink": version("splink"), "pandas": version("pandas"),
    }


def code_commit() -> str:
    """The measured code: HEAD's short hash, with `+changes` when the work tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def xref_clusters(lake, run_id: str) -> dict[str, str]:
    """record_key → resident_id from cityhub's resolved xref."""
    import pandas as pd

    xref = pd.read_parquet(lake.resolved(run_id, "resident_xref"), columns=["record_key", "resident_id"])
    return dict(zip(xref["record_key"], xref["resident_id"]))


def kept_ids(previous: dict[str, str], current: dict[str, str], changed: set[str]) -> dict:
    """Of the previous residents none of whose records changed, how many still hold all their records under their id."""
    members: dict[str, list[str]] = {}
    for record_key, resident_id in previous.items():
        members.setdefault(resident_id, []).append(record_key)
    unchanged = [(rid, keys) for rid, keys in members.items() if not changed.intersection(keys)]
    kept = sum(all(current.get(key) == rid for key in keys) for rid, keys in unchanged)
    return {"previous_residents": len(members), "unchanged_residents": len(unchanged), "kept_id": kept,
            "kept_share": round(kept / len(unchanged), 6) if unchanged else None}


def run_incremental(spark, definitions, lake, city_dir: Path, home: Path, previous_run: str, change_share: float,
                    repeats: int, seed: int) -> dict:
    """Advance the city by a change set, extract and standardise it, then time a full and an incremental resolve of it."""
    from connectors.extract import extract_source
    from simulators.advance import advance_city
    from transforms.resolve.evaluation import evaluate, load_truth
    from cityhub.lake_tables import read_table
    from transforms.resolve.incremental import changed_records
    from transforms.resolve.run import resolve_residents
    from transforms.standardise.run import standardise_sources

    started = time.perf_counter()
    advanced = advance_city(city_dir, days=1, seed=seed, change_share=change_share)
    advance_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with department_env(city_dir):
        for definition in definitions:
            extract_source(definition, lake, home / "state", "b2")
    extract_seconds = time.perf_counter() - started
    stages = {"standardise": StageTiming(), "full_resolve": StageTiming(), "incremental_resolve": StageTiming()}
    timed(stages["standardise"], lambda: standardise_sources(spark, definitions, lake, "changes"))
    for run_id in ("changes_full", "changes_incremental"):
        shutil.rmtree(lake.standardised(run_id), ignore_errors=True)
        shutil.copytree(lake.standardised("changes"), lake.standardised(run_id))
    parts: dict[str, dict[str, list[float]]] = {"full_resolve": {}, "incremental_resolve": {}}
    for _ in range(repeats):
        for stage, run_id, incremental in (("full_resolve", "changes_full", False), ("incremental_resolve", "changes_incremental", True)):
            resolved = timed(stages[stage], lambda: resolve_residents(spark, definitions, lake, run_id, HUB_SECRET,
                                                                       previous_run=previous_run, incremental=incremental))
            for part, seconds in resolved.step_seconds.items():
                parts[stage].setdefault(part, []).append(seconds)
    current, before = (read_table(lake.standardised_persons(run)) for run in ("changes", previous_run))
    changed = set(changed_records(current, before).to_pylist())
    previous, full, incremental = (xref_clusters(lake, run) for run in (previous_run, "changes_full", "changes_incremental"))
    truth, cases = load_truth(city_dir)
    records = len(incremental)
    full_seconds = statistics.median(stages["full_resolve"].seconds)
    incremental_seconds = statistics.median(stages["incremental_resolve"].seconds)
    return {
        "change_share": change_share, "change_set": advanced["last_advance"],
        "setup_seconds": {"advance_city": _rounded(advance_seconds), "extract_second_batch": _rounded(extract_seconds)},
        "changed_records": len(changed), "records": records,
        "stages": {name: timing.to_dict(records) for name, timing in stages.items()},
        "parts_median_seconds": {stage: {part: _rounded(statistics.median(runs)) for part, runs in by_part.items()}
                                 for stage, by_part in parts.items()},
        "incremental_share_of_full": round(incremental_seconds / full_seconds, 4),
        "same_links_as_full": sum(full.get(key) == rid for key, rid in incremental.items()) / records,
        "kept_ids": {"full": kept_ids(previous, full, changed), "incremental": kept_ids(previous, incremental, changed)},
        "accuracy": {"full": evaluate(full, truth, cases).to_dict(), "incremental": evaluate(incremental, truth, cases).to_dict()},
    }


def check_reusable(city_dir: Path) -> None:
    """Raise unless the city in `city_dir` is as generated: an earlier `--change-share` run advanced it in place."""
    days = json.loads((city_dir / "city.json").read_text(encoding="utf-8")).get("days_advanced", 0)
    if days:
        raise SystemExit(f"--reuse: the city in {city_dir} was advanced {days} day(s) by an earlier --change-share run, so its "
                         "records are no longer the generated city's; run without --reuse or with a fresh --work-dir")


def run_benchmark(residents: int, noise: str, repeats: int, seed: int, work_dir: Path,
                  driver_memory: str, shuffle_partitions: int, reuse: bool = False,
                  change_share: float | None = None) -> dict:
    """Generate, extract, then time and score both pipelines; return the results as plain data."""
    from benchmarks.resolution.plain_splink import run_plain_splink
    from cityhub.config import PACKAGE_SOURCES_DIR, Settings
    from cityhub.quality.gates import validate_standardised_sources
    from cityhub.lake import Lake
    from connectors.definition import load_source_definitions
    from connectors.extract import extract_source
    from simulators.city import generate_city
    from transforms.resolve.evaluation import evaluate, load_truth
    from transforms.resolve.run import resolve_residents
    from transforms.spark import get_spark
    from transforms.standardise.run import standardise_sources

    commit = code_commit()  # before the run: a commit made while it runs is not what it measured
    city_dir, home = work_dir / "city", work_dir / "home"
    lake = Lake.under(home)
    definitions = load_source_definitions(PACKAGE_SOURCES_DIR)
    generation_seconds = extract_seconds = None
    reusing = reuse and (city_dir / "truth").is_dir() and (home / "lake" / "raw").is_dir()
    if reusing:
        check_reusable(city_dir)
    else:
        started = time.perf_counter()
        generate_city(city_dir, residents=residents, seed=seed, noise=noise)
        generation_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with department_env(city_dir):
            for definition in definitions:
                extract_source(definition, lake, home / "state", "b1")
        extract_seconds = time.perf_counter() - started

    spark = get_spark(Settings(home=home, spark_driver_memory=driver_memory, spark_shuffle_partitions=shuffle_partitions))
    stages = {"cityhub_standardise": StageTiming(), "cityhub_validate": StageTiming(), "cityhub_resolve": StageTiming(),
              "plain_splink": StageTiming()}
    sources = [definition.name for definition in definitions]
    predictions: dict[str, dict[str, str]] = {}
    resolve_parts: dict[str, list[float]] = {}  # the resolve step's own split: link, golden_records
    for repeat in range(repeats):
        run_id = f"bench{repeat}"
        timed(stages["cityhub_standardise"], lambda: standardise_sources(spark, definitions, lake, run_id))
        # The pipeline's validation of the standardised layer (GX suites per department), for its share of the run.
        timed(stages["cityhub_validate"], lambda: validate_standardised_sources(spark, lake, run_id, sources, home / "runs" / run_id))
        resolved = timed(stages["cityhub_resolve"], lambda: resolve_residents(spark, definitions, lake, run_id, HUB_SECRET))
        for part, seconds in resolved.step_seconds.items():
            resolve_parts.setdefault(part, []).append(seconds)
        # The peer reads the same standardised records (its raw columns only).
        predictions["plain_splink"] = timed(stages["plain_splink"], lambda: run_plain_splink(spark, lake, run_id))
        predictions["cityhub"] = xref_clusters(lake, run_id)

    truth, cases = load_truth(city_dir)
    records = len(predictions["cityhub"])
    accuracy = {name: evaluate(clusters, truth, cases).to_dict() for name, clusters in predictions.items()}
    incremental = (run_incremental(spark, definitions, lake, city_dir, home, f"bench{repeats - 1}", change_share, repeats, seed)
                   if change_share else None)
    command = (f".venv/bin/python -m benchmarks.resolution.run --residents {residents} --noise {noise} --repeats {repeats} --seed {seed}"
               f" --driver-memory {driver_memory} --shuffle-partitions {shuffle_partitions}")
    return {
        "name": f"resolution-{residents}-{noise}", "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "command": command + (f" --change-share {change_share}" if change_share else ""),
        "residents": residents, "noise": noise, "repeats": repeats, "seed": seed,
        "source_records": len(truth), "standardised_records": records,
        "setup_seconds": {"generate_city": _rounded(generation_seconds), "extract_all_sources": _rounded(extract_seconds)},
        "machine": machine_facts(spark),
        "stages": {name: timing.to_dict(records) for name, timing in stages.items()},
        "resolve_parts": {part: {"median_seconds": _rounded(statistics.median(runs)), "runs_seconds": [_rounded(r) for r in runs]}
                          for part, runs in resolve_parts.items()},
        "accuracy": accuracy,
        "incremental": incremental,
    }


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def _fmt(value: float | int | None, digits: int = 4) -> str:
    return "–" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def stage_table(stages: dict, with_rate: bool) -> list[str]:
    """Markdown rows of stage timings: median, every run, records/s (`with_rate`), peak memory."""
    rate_head, rate_rule = (" records/s |", "---:|") if with_rate else ("", "")
    lines = [f"| stage | median s | runs s |{rate_head} peak RSS MB (driver + JVM) |", f"|---|---:|---|{rate_rule}---:|"]
    for name, stage in stages.items():
        rate = f" {stage['records_per_second']:,.0f} |" if with_rate else ""
        lines.append(f"| {name} | {stage['median_seconds']:.1f} | {', '.join(f'{s:.1f}' for s in stage['runs_seconds'])} |"
                     f"{rate} {stage['peak_rss_mb']:,.0f} |")
    return lines


def resolve_parts_lines(parts: dict, plain_seconds: float) -> list[str]:
    """The resolve step's split: linking (what the peer does too) and golden records (which it does not)."""
    if not parts:
        return []
    link, golden = parts["link"]["median_seconds"], parts["golden_records"]["median_seconds"]
    return [f"Of cityhub's resolve, linking (matching, clustering, resident ids: xref, review queue, id history) took {link:.1f} s "
            f"against plain Splink's {plain_seconds:.1f} s for its clusters; golden records, lineage and facts by resident, "
            f"which the plain pipeline does not build, {golden:.1f} s (medians of each part).", ""]


def markdown(result: dict) -> str:
    """The results as a markdown section: setup, timings side by side, accuracy side by side."""
    stages, acc, m, setup = result["stages"], result["accuracy"], result["machine"], result["setup_seconds"]
    cityhub_seconds = stages["cityhub_standardise"]["median_seconds"] + stages["cityhub_resolve"]["median_seconds"]
    pipeline_seconds = cityhub_seconds + stages["cityhub_validate"]["median_seconds"]
    lines = [
        f"### {result['residents']:,} residents, noise `{result['noise']}`", "",
        f"`{result['command']}` — measured {result['measured_at']} at commit `{result.get('commit', 'not recorded')}`, {result['repeats']} repeat(s), medians.", "",
        f"{result['source_records']:,} source person records in the truth files; {result['standardised_records']:,} standardised and "
        "scored (records quarantined by standardise are scored for neither pipeline). "
        f"Machine: {m['cores']} cores, {m['ram_gb']} GB RAM, Spark {m['spark']} `{m['spark_master']}`, driver memory "
        f"{m['spark_driver_memory']}, {m['shuffle_partitions']} shuffle partitions, Splink {m['splink']}, Python {m['python']}.", "",
        f"Setup (once, not timed per repeat): generate the city {_fmt(setup['generate_city'], 1)} s, extract every source "
        f"{_fmt(setup['extract_all_sources'], 1)} s.", "",
        *stage_table(stages, with_rate=True),
    ]
    lines += ["", f"cityhub standardise + resolve: {cityhub_seconds:.1f} s; plain Splink (after the same standardise): "
              f"{stages['plain_splink']['median_seconds']:.1f} s. Validation of the standardised layer takes "
              f"{stages['cityhub_validate']['median_seconds'] / pipeline_seconds:.1%} of standardise + validate + resolve"
              + (f" ({stages['cityhub_validate']['median_seconds'] / (pipeline_seconds + setup['extract_all_sources']):.1%} "
                 f"with the extract of {setup['extract_all_sources']:.0f} s)" if setup.get("extract_all_sources") else "") + ".", "",
              *resolve_parts_lines(result.get("resolve_parts") or {}, stages["plain_splink"]["median_seconds"]),
              "| metric | cityhub | plain Splink |", "|---|---:|---:|"]
    for metric in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall", "bcubed_f1",
                   "predicted_clusters", "true_persons", "predicted_pairs", "true_pairs", "true_positive_pairs"):
        lines.append(f"| {metric} | {_fmt(acc['cityhub'][metric])} | {_fmt(acc['plain_splink'][metric])} |")
    for case in ("twins", "parent_id_on_child"):
        lines.append(f"| {case} merged | {acc['cityhub'][case + '_merged']} of {acc['cityhub'][case + '_total']} | "
                     f"{acc['plain_splink'][case + '_merged']} of {acc['plain_splink'][case + '_total']} |")
    if result.get("incremental"):
        lines += ["", *incremental_markdown(result["incremental"])]
    return "\n".join(lines) + "\n"


def incremental_markdown(inc: dict) -> list[str]:
    """The incremental section: change set, full against incremental resolve, ids kept, accuracy of both."""
    stages, kept = inc["stages"], inc["kept_ids"]
    lines = [
        f"Incremental run after a change set of {inc['change_share']:.0%} ({inc['change_set'].get('records_changed', '?'):,} source "
        f"records changed by the simulator; {inc['changed_records']:,} standardised records new, changed or gone; "
        f"{inc['records']:,} records in the run):", "",
        *stage_table(stages, with_rate=False),
    ]
    lines += ["", f"Incremental resolve takes {inc['incremental_share_of_full']:.1%} of the full resolve's time; "
              f"{inc['same_links_as_full']:.4%} of records get the same resident_id as in the full run.", "",
              "| | full | incremental |", "|---|---:|---:|",
              *(f"| {part} s (median) | {_fmt(inc['parts_median_seconds']['full_resolve'].get(part), 1)} | "
                f"{_fmt(inc['parts_median_seconds']['incremental_resolve'].get(part), 1)} |"
                for part in inc.get("parts_median_seconds", {}).get("full_resolve", {})),
              f"| unchanged residents | {kept['full']['unchanged_residents']:,} | {kept['incremental']['unchanged_residents']:,} |",
              f"| kept their resident_id | {kept['full']['kept_id']:,} ({kept['full']['kept_share']:.4%}) | "
              f"{kept['incremental']['kept_id']:,} ({kept['incremental']['kept_share']:.4%}) |"]
    for metric in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_f1"):
        lines.append(f"| {metric} | {_fmt(inc['accuracy']['full'][metric])} | {_fmt(inc['accuracy']['incremental'][metric])} |")
    return lines


def print_table(result: dict) -> None:
    """The markdown section on the console, rendered."""
    from rich.console import Console
    from rich.markdown import Markdown

    Console().print(Markdown(markdown(result)))


def write_results(result: dict, results_dir: Path, name: str) -> None:
    """`<name>.json` and `<name>.md` in `results_dir`."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (results_dir / f"{name}.md").write_text(markdown(result), encoding="utf-8")


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, run the benchmark, print and write its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10000)
    parser.add_argument("--noise", default="default", choices=("none", "default", "hard"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--name", help="results file name (default resolution-<residents>-<noise>)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--work-dir", type=Path, help="where the city and lake go (a temporary folder by default)")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--shuffle-partitions", type=int, default=4)
    parser.add_argument("--reuse", action="store_true", help="keep the city and raw lake already in --work-dir (same size, noise and seed; refused once a --change-share run has advanced that city)")
    parser.add_argument("--change-share", type=float, help="then measure an incremental run after a change set of this share (0.01: 1%%)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cityhub-bench-") as scratch:
        work_dir = args.work_dir or Path(scratch)
        result = run_benchmark(args.residents, args.noise, args.repeats, args.seed, work_dir, args.driver_memory,
                               args.shuffle_partitions, args.reuse, args.change_share)
    name = args.name or result["name"]
    write_results(result, args.results_dir, name)
    print_table(result)
    return result


if __name__ == "__main__":
    main()
