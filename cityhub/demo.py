"""The demo city: generated once per parameters under the home folder, checked against its truth."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Callable

import sqlalchemy as sa


def ensure_demo_city(home: Path, residents: int, seed: int, noise: str, log: Callable[[str], None] = print) -> Path:
    """Generate the demo city under `home/demo/city`, reusing it when its parameters match."""
    from simulators.city import generate_city

    city_dir = Path(home) / "demo" / "city"
    manifest = city_dir / "city.json"
    wanted = {"residents": residents, "seed": seed, "noise": noise}
    if manifest.exists():
        current = json.loads(manifest.read_text(encoding="utf-8"))
        if all(current.get(key) == value for key, value in wanted.items()):
            log(f"reusing the demo city at {city_dir}")
            return city_dir
        log("demo city parameters changed: regenerating it and starting the hub afresh")
        reset_demo_home(home)
    log(f"generating a city of {residents} residents (seed {seed}, noise {noise}) at {city_dir}")
    generate_city(city_dir, residents=residents, seed=seed, noise=noise)
    return city_dir


def reset_demo_home(home: Path) -> None:
    """Remove the demo's city, lake, state and embedded database so a new city starts clean."""
    for name in ("demo", "lake", "state", "runs"):
        shutil.rmtree(Path(home) / name, ignore_errors=True)
    for name in ("shared.db", "shared.db-wal", "shared.db-shm"):
        (Path(home) / name).unlink(missing_ok=True)


def truth_coverage(url: str, city_dir: Path) -> dict:
    """Check every true source record appears exactly once in resident_xref or quarantine."""
    from .sharedlayer import engine_for

    with open(Path(city_dir) / "truth" / "records.csv", newline="", encoding="utf-8") as handle:
        truth = {row["record_key"] for row in csv.DictReader(handle)}
    with engine_for(url).connect() as connection:
        linked = [row[0] for row in connection.execute(sa.text("select record_key from resident_xref"))]
        # The published quarantine holds the latest run only; one record may break several rules.
        held = [row[0] for row in connection.execute(sa.text("select distinct record_key from quarantine"))]
    seen = Counter(key for key in [*linked, *held] if key in truth)
    return {
        "truth_records": len(truth),
        "accounted": sum(1 for key in truth if seen[key] == 1),
        "missing": sum(1 for key in truth if seen[key] == 0),
        "duplicated": sum(1 for key in truth if seen[key] > 1),
    }


def advance_demo_day(city_dir: Path) -> str:
    """Advance the demo city by one simulated day; return a one-line summary of what changed."""
    from simulators.city import advance_city

    manifest = advance_city(city_dir, days=1)
    changes = {name: count for name, count in manifest.get("last_advance", {}).items() if name != "days"}
    return f"simulated day {manifest['today']}: " + (", ".join(f"{name} {count}" for name, count in changes.items()) or "no changes")

