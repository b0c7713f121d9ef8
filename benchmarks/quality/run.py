"""Benchmark the standardised-layer validation (GX suites per department on Spark) at about a million records.

Generates a simulated city, extracts every source, then on one local Spark session times, once each,
standardise, the per-department validation and resolve of that city (so validation's share of the
pipeline is measured at that size), then builds a large run by *replicating* the city's standardised
person records (accepted and quarantined alike) with new record keys (`<key>#r<copy>`) until the
target count is reached, and times the validation of that run `--repeats` times.

    .venv/bin/python -m benchmarks.quality.run --residents 20000 --records 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.resolution.run import HUB_SECRET, RESULTS_DIR, StageTiming, department_env, machine_facts, timed

BASE_RUN = "base"
LARGE_RUN = "large"


def replicate_run(spark, lake, copies: int, target: int | None = None) -> int:
    """Write run LARGE_RUN's standardised persons (accepted and rejected) as `copies` copies of BASE_RUN's, new keys each; returns the rows written."""
    from pyspark.sql import functions as F

    from cityhub.quality.quarantine import rejected_persons_path

    written = 0
    folders = [(lake.standardised_persons(BASE_RUN), lake.standardised_persons(LARGE_RUN)),
               (rejected_persons_path(lake, BASE_RUN), rejected_persons_path(lake, LARGE_RUN))]
    for source, target_folder in folders:
        if not source.exists():
            continue
        base = spark.read.parquet(str(source))
        copy_ids = spark.range(copies).withColumnRenamed("id", "copy")
        # Copy 0 keeps the original keys; every other copy is a distinct record of the same content.
        keyed = base.crossJoin(copy_ids).withColumn(
            "record_key", F.when(F.col("copy") == 0, F.col("record_key")).otherwise(F.concat_ws("#r", F.col("record_key"), F.col("copy").cast("string")))
        ).drop("copy")
        keyed.repartition(8).write.mode("overwrite").parquet(str(target_folder))
        written += spark.read.parquet(str(target_folder)).count()
    return written


def validate_replicated(spark, lake, home: Path, sources: list[str], records: int, repeats: int) -> dict:
    """Replicate BASE_RUN to about `records` person records and time validating them `repeats` times."""
    from cityhub.quality.gates import candidate_persons, validate_standardised_sources

    base_records = candidate_persons(spark, lake, BASE_RUN).count()
    copies = math.ceil(records / base_records)
    started = time.perf_counter()
    large_records = replicate_run(spark, lake, copies)
    replicate_seconds = time.perf_counter() - started
    large = StageTiming()
    for repeat in range(repeats):
        timed(large, lambda: validate_standardised_sources(spark, lake, LARGE_RUN, sources, home / "runs" / f"{LARGE_RUN}{repeat}"))
    return {"base_records": base_records, "copies": copies, "large_records": large_records,
            "replicate_seconds": round(replicate_seconds, 1), "large_validation": large.to_dict(large_records)}


def run_benchmark(residents: int, records: int, repeats: int, seed: int, work_dir: Path, driver_memory: str, shuffle_partitions: int) -> dict:
    """Generate, extract, time one pipeline pass of the base city, then time validating the replicated run."""
    from cityhub.config import PACKAGE_SOURCES_DIR, Settings
    from cityhub.lake import Lake
    from cityhub.quality.gates import validate_standardised_sources
    from connectors.definition import load_source_definitions
    from connectors.extract import extract_source
    from simulators.city import generate_city
    from transforms.resolve.run import resolve_residents
    from transforms.spark import get_spark
    from transforms.standardise.run import standardise_sources

    city_dir, home = work_dir / "city", work_dir / "home"
    generate_city(city_dir, residents=residents, seed=seed, noise="default")
    lake = Lake.under(home)
    definitions = load_source_definitions(PACKAGE_SOURCES_DIR)
    sources = [d.name for d in definitions]
    with department_env(city_dir):
        for definition in definitions:
            extract_source(definition, lake, home / "state", "b1")

    spark = get_spark(Settings(home=home, spark_driver_memory=driver_memory, spark_shuffle_partitions=shuffle_partitions))
    base = {"standardise": StageTiming(), "validate_standardised": StageTiming(), "resolve": StageTiming()}
    timed(base["standardise"], lambda: standardise_sources(spark, definitions, lake, BASE_RUN))
    timed(base["validate_standardised"], lambda: validate_standardised_sources(spark, lake, BASE_RUN, sources, home / "runs" / BASE_RUN))
    timed(base["resolve"], lambda: resolve_residents(spark, definitions, lake, BASE_RUN, HUB_SECRET))
    large = validate_replicated(spark, lake, home, sources, records, repeats)
    base_records = large["base_records"]

    base_stages = {name: timing.to_dict(base_records) for name, timing in base.items()}
    pipeline_seconds = sum(stage["median_seconds"] for stage in base_stages.values())
    return {
        "name": f"quality-validation-{large['large_records']}", "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": f".venv/bin/python -m benchmarks.quality.run --residents {residents} --records {records} --repeats {repeats} --seed {seed}",
        "residents": residents, "seed": seed, **large,
        "machine": machine_facts(spark),
        "base_stages": base_stages,
        "base_validation_share_of_standardise_validate_resolve": round(base_stages["validate_standardised"]["median_seconds"] / pipeline_seconds, 3),
    }


def markdown(result: dict) -> str:
    """The result as the markdown recorded in docs/benchmarks.md."""
    base, large = result["base_stages"], result["large_validation"]
    lines = [
        f"`{result['command']}` — measured {result['measured_at']}.",
        "",
        f"Base city: {result['residents']:,} residents, {result['base_records']:,} standardised person records (accepted and quarantined), one pass each:",
        "",
        "| stage | s | records/s |",
        "|---|---:|---:|",
        *(f"| {name} | {stage['median_seconds']:.1f} | {stage['records_per_second']:,.0f} |" for name, stage in base.items()),
        "",
        f"Validation's share of standardise + validate + resolve on the base city: {100 * result['base_validation_share_of_standardise_validate_resolve']:.0f} %.",
        "",
        f"Replicated run: {result['copies']} copies of the base records, {result['large_records']:,} records (built in {result['replicate_seconds']:.0f} s).",
        "",
        "| stage | median s | runs s | records/s | peak RSS MB (driver + JVM) |",
        "|---|---:|---|---:|---:|",
        f"| validate_standardised | {large['median_seconds']:.1f} | {', '.join(f'{s:.1f}' for s in large['runs_seconds'])} | "
        f"{large['records_per_second']:,.0f} | {large['peak_rss_mb']:,.0f} |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, run, write `benchmarks/results/<name>.json` and `.md`, print the markdown."""
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=20000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--work-dir", type=Path, help="where the city and lake go (a temporary folder by default)")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--shuffle-partitions", type=int, default=4)
    args = parser.parse_args(argv)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="cityhub-quality-bench-"))
    result = run_benchmark(args.residents, args.records, args.repeats, args.seed, work_dir, args.driver_memory, args.shuffle_partitions)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"{result['name']}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    text = markdown(result)
    (args.results_dir / f"{result['name']}.md").write_text(text, encoding="utf-8")
    print(text)
    return result


if __name__ == "__main__":
    main()
