"""The synthetic city: generate it with ground truth, load its hukou register elsewhere, advance it by days."""

from __future__ import annotations

import random
import shutil
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from simulators.departments import civil_affairs, health, housing, public_security
from simulators.departments.common import RenderContext, Truth
from simulators.events import build_world
from simulators.noise import noise_profile
from simulators.population import TODAY
from simulators.storage import read_jsonl, read_manifest, write_jsonl, write_manifest  # noqa: F401 - re-exported
from simulators.truth import collect_cases, write_truth

OUTPUTS = ("public_security.db", "civil_affairs", "health", "housing_drop", "truth", "city.json")
HOUSING_DROP_DAYS = 3


def clear_outputs(out_dir: Path) -> None:
    """Remove a previous city's outputs (only the simulator's own files) so no stale file survives."""
    for name in OUTPUTS:
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def generate_city(out_dir: Path, residents: int = 20000, seed: int = 42, noise: str = "default") -> dict:
    """Generate a city of `residents` people and its four department systems; return the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clear_outputs(out_dir)
    profile = noise_profile(noise)
    world = build_world(residents, random.Random(f"{seed}:world"), TODAY)
    truth = Truth()

    def context(part: str) -> RenderContext:
        return RenderContext(random.Random(f"{seed}:{part}"), profile, truth, world.today)

    ps_rows = public_security.render_public_security(world, context("public_security"))
    civil = {
        "assistance": civil_affairs.render_assistance(world, context("assistance")),
        "marriages": civil_affairs.render_marriages(world, context("marriages")),
        "cremations": civil_affairs.render_cremations(world, context("cremations")),
    }
    patients, patient_of = health.render_patients(world, context("patients"))
    observations = health.render_observations(world, context("certificates"), patient_of)
    housing_rows = housing.render_housing(world, context("housing"), HOUSING_DROP_DAYS)

    public_security.write_sqlite(ps_rows, out_dir / "public_security.db")
    for stream, records in civil.items():
        write_jsonl(out_dir / "civil_affairs" / f"{stream}.jsonl", records)
    write_jsonl(out_dir / "health" / "patients.jsonl", patients)
    write_jsonl(out_dir / "health" / "observations.jsonl", observations)
    drop_days = [world.today - timedelta(days=back) for back in range(HOUSING_DROP_DAYS - 1, -1, -1)]
    files = housing.write_housing(housing_rows, out_dir / "housing_drop", days=drop_days, utf8_days=(world.today,))
    cases = collect_cases(world, truth)
    write_truth(out_dir / "truth", world, truth, cases)

    manifest = {
        "generator": "cityhub.simulators",
        "seed": seed,
        "residents": residents,
        "noise": noise,
        "noise_profile": asdict(profile),
        "today": world.today.isoformat(),
        "days_advanced": 0,
        "counts": {
            "public_security": {"persons": len(ps_rows.persons), "hukou_events": len(ps_rows.events), "households": len(ps_rows.households)},
            "civil_affairs": {stream: len(records) for stream, records in civil.items()},
            "health": {"patients": len(patients), "certificates": len(observations)},
            "housing": {"property": len(housing_rows.property), "rental": len(housing_rows.rental)},
        },
        "housing_files": files,
        "truth": {"persons": len(world.persons), "records": len(truth.records), "facts": len(truth.facts), "noise": len(truth.noise.rows)},
        "cases": {name: len(items) for name, items in cases.items()},
    }
    write_manifest(out_dir, manifest)
    return manifest


def load_public_security(city_dir: Path, url: str, schema: str | None = None) -> str:
    """Copy the hukou register of a generated city into the database at `url` (PostgreSQL, MariaDB...); return the url.

    The three tables are dropped and recreated, in `schema` (created if missing) when one is given.
    """
    source = sa.create_engine(f"sqlite:///{Path(city_dir).resolve() / 'public_security.db'}")
    target = sa.create_engine(url)
    try:
        tables = public_security.read_tables(source)
        public_security.write_tables(target, tables["rk_person"], tables["rk_household"], tables["rk_event"], schema)
    finally:
        source.dispose()
        target.dispose()
    return url


def advance_city(city_dir: Path, days: int = 1, seed: int | None = None, change_share: float | None = None) -> dict:
    """Simulate the next `days` days (new and updated records with later update times); return the manifest.

    `change_share` (e.g. 0.01) changes about that share of the source records instead of a fixed few per day.
    """
    from simulators.advance import advance_city as advance

    return advance(city_dir, days, seed, change_share)


def url_for_schema(url: str, schema: str | None) -> str:
    """A URL whose unqualified table names resolve into `schema` (PostgreSQL search_path, MariaDB database)."""
    if not schema:
        return url
    parsed = sa.make_url(url)
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        parsed = parsed.set(database=schema)
    elif parsed.get_backend_name() == "postgresql":
        parsed = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    else:
        raise ValueError(f"schemas are supported for PostgreSQL and MariaDB, not {parsed.get_backend_name()}")
    return parsed.render_as_string(hide_password=False)
