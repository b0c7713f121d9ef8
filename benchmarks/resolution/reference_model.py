"""Train the default profile's reference model: what a run too small to train its own (fewer labelled pairs
than `training.min_label_pairs`) scores with.

    .venv/bin/python -m benchmarks.resolution.reference_model --residents 10000 --seed 1

Trained exactly as a run trains (transforms.resolve.probabilistic.trained_model) on a simulated city
that no benchmark scores (seed 1; the benchmarks use 42), and written beside the profile.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from transforms.resolve.profile import DEFAULT_PROFILE, load_profile


def train_reference(residents: int, seed: int, noise: str, work_dir: Path) -> dict:
    """Generate and extract a city, standardise it, and return the default profile's model trained on it."""
    from benchmarks.resolution.run import department_env
    from cityhub.config import PACKAGE_SOURCES_DIR, Settings
    from cityhub.lake import Lake
    from connectors.definition import load_source_definitions
    from connectors.extract import extract_source
    from simulators.city import generate_city
    from transforms.resolve.matching import match_persons
    from transforms.spark import get_spark
    from transforms.standardise.run import standardise_sources

    city_dir, home = work_dir / "city", work_dir / "home"
    generate_city(city_dir, residents=residents, seed=seed, noise=noise)
    lake, definitions = Lake.under(home), load_source_definitions(PACKAGE_SOURCES_DIR)
    with department_env(city_dir):
        for definition in definitions:
            extract_source(definition, lake, home / "state", "b1")
    spark = get_spark(Settings(home=home))
    standardise_sources(spark, definitions, lake, "reference")
    profile = load_profile().model_copy(update={"model": None})  # train, whatever the profile ships
    matches = match_persons(spark.read.parquet(str(lake.standardised_persons("reference"))), profile)
    return matches.model


def main(argv: list[str] | None = None) -> Path:
    """Parse arguments, train, write the model file the default profile names."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--noise", default="hard", choices=("none", "default", "hard"))
    args = parser.parse_args(argv)
    target = DEFAULT_PROFILE.parent / load_profile().model
    with tempfile.TemporaryDirectory(prefix="cityhub-reference-") as scratch:
        model = train_reference(args.residents, args.seed, args.noise, Path(scratch))
    target.write_text(json.dumps(model, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {target}")
    return target


if __name__ == "__main__":
    main()
