"""Incremental resolve, re-measured on a prepared city: prepare once, then time full and incremental resolves of the same change set.

    .venv/bin/python -m benchmarks.resolution.incremental prepare --work-dir /tmp/inc100k --residents 100000 --noise hard
    .venv/bin/python -m benchmarks.resolution.incremental time --work-dir /tmp/inc100k --repeats 3

`prepare` generates the city, extracts and standardises it (run `base`), resolves it in full, then
advances the city by a change set (`--change-share`, default 1%), extracts that as a second batch and
standardises it (run `changes`). `time` resolves `changes` against `base` fully and incrementally,
`--repeats` times each on one Spark session (medians), prints each resolve's step_seconds and checks
that both runs link every record to the same resident. The full benchmark (`run.py --change-share`)
does all of this in one go; this splits it so the incremental run can be re-measured after a code
change without generating the city again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.resolution.run import HUB_SECRET, department_env, xref_clusters

BASE, CHANGES = "base", "changes"


def _context(work_dir: Path, driver_memory: str, shuffle_partitions: int):
    from cityhub.config import PACKAGE_SOURCES_DIR, Settings
    from cityhub.lake import Lake
    from connectors.definition import load_source_definitions
    from transforms.spark import get_spark

    home = work_dir / "home"
    spark = get_spark(Settings(home=home, spark_driver_memory=driver_memory, spark_shuffle_partitions=shuffle_partitions))
    return spark, load_source_definitions(PACKAGE_SOURCES_DIR), Lake.under(home), home


def prepare(work_dir: Path, residents: int, noise: str, seed: int, change_share: float, driver_memory: str,
            shuffle_partitions: int) -> None:
    """The city, its standardised base run resolved in full, and its change set standardised as run `changes`."""
    from connectors.extract import extract_source
    from simulators.advance import advance_city
    from simulators.city import generate_city
    from transforms.resolve.run import resolve_residents
    from transforms.standardise.run import standardise_sources

    city_dir = work_dir / "city"
    generate_city(city_dir, residents=residents, seed=seed, noise=noise)
    spark, definitions, lake, home = _context(work_dir, driver_memory, shuffle_partitions)
    for batch, run_id in (("b1", BASE), ("b2", CHANGES)):
        if batch == "b2":
            advance_city(city_dir, days=1, seed=seed, change_share=change_share)
        with department_env(city_dir):
            for definition in definitions:
                extract_source(definition, lake, home / "state", batch)
        standardise_sources(spark, definitions, lake, run_id)
        if run_id == BASE:
            resolve_residents(spark, definitions, lake, BASE, HUB_SECRET)
    print(f"prepared {work_dir}: runs {BASE} (resolved) and {CHANGES} (standardised)")


def time_resolves(work_dir: Path, repeats: int, driver_memory: str, shuffle_partitions: int, only_incremental: bool) -> dict:
    """Full and incremental resolves of `changes` against `base`, `repeats` times each; their seconds and step_seconds."""
    from transforms.resolve.run import resolve_residents

    spark, definitions, lake, _ = _context(work_dir, driver_memory, shuffle_partitions)
    kinds = (("incremental", True),) if only_incremental else (("full", False), ("incremental", True))
    runs: dict[str, list[dict]] = {kind: [] for kind, _ in kinds}
    for repeat in range(repeats):
        for kind, incremental in kinds:
            run_id = f"{CHANGES}_{kind}"
            shutil.rmtree(lake.standardised(run_id), ignore_errors=True)
            shutil.copytree(lake.standardised(CHANGES), lake.standardised(run_id))
            started = time.perf_counter()
            result = resolve_residents(spark, definitions, lake, run_id, HUB_SECRET, previous_run=BASE, incremental=incremental)
            seconds = round(time.perf_counter() - started, 2)
            runs[kind].append({"seconds": seconds, "step_seconds": result.step_seconds, "incremental": result.incremental})
            print(json.dumps({"repeat": repeat, "kind": kind, "seconds": seconds, "steps": result.step_seconds,
                              "counts": result.incremental}))
    summary = {kind: statistics.median(r["seconds"] for r in rs) for kind, rs in runs.items()}
    if not only_incremental:
        full, incremental = (xref_clusters(lake, f"{CHANGES}_{kind}") for kind in ("full", "incremental"))
        summary["same_links_as_full"] = sum(full.get(k) == v for k, v in incremental.items()) / len(incremental)
        summary["incremental_share_of_full"] = round(summary["incremental"] / summary["full"], 4)
    print(json.dumps(summary))
    return summary


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and prepare or time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "time"))
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--residents", type=int, default=100000)
    parser.add_argument("--noise", default="hard", choices=("none", "default", "hard"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only-incremental", action="store_true")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--shuffle-partitions", type=int, default=4)
    args = parser.parse_args(argv)
    if args.action == "prepare":
        prepare(args.work_dir, args.residents, args.noise, args.seed, args.change_share, args.driver_memory, args.shuffle_partitions)
    else:
        time_resolves(args.work_dir, args.repeats, args.driver_memory, args.shuffle_partitions, args.only_incremental)


if __name__ == "__main__":
    main()
