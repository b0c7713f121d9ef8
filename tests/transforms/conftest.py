"""The transforms tests' pipeline runs: the tiny landed scenario, and the small simulated city (standardise, then resolve)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from cityhub.config import PACKAGE_SOURCES_DIR
from cityhub.lake import Lake
from connectors.definition import SourceDefinition, load_source_definitions

from transforms_scenario import land_city

HUB_SECRET = "test-hub-secret"
CITY_SECRET = "city-test-secret"


@dataclass
class ScenarioRun:
    """What the one run produced, with its outputs read back as pandas frames."""

    lake: Lake
    run_id: str
    definitions: list[SourceDefinition]
    standardised: object
    resolved: object

    def table(self, path: Path) -> pd.DataFrame:
        return pd.read_parquet(path)

    @property
    def persons(self) -> pd.DataFrame:
        return self.table(self.lake.standardised_persons(self.run_id)).set_index("record_key", drop=False)

    @property
    def quarantine(self) -> pd.DataFrame:
        return self.table(self.lake.quarantine(self.run_id))

    def facts(self, source: str) -> pd.DataFrame:
        return self.table(self.lake.standardised_facts(self.run_id, source))

    def resolved_table(self, table: str) -> pd.DataFrame:
        return self.table(self.lake.resolved(self.run_id, table))


@pytest.fixture(scope="session")
def scenario_run(spark, tmp_path_factory) -> ScenarioRun:
    """Land the scenario and run standardise and resolve on it once for all Spark tests here."""
    from transforms.resolve.run import resolve_residents
    from transforms.standardise.run import standardise_sources

    lake = Lake.under(tmp_path_factory.mktemp("transforms-home"))
    land_city(lake)
    definitions = load_source_definitions(PACKAGE_SOURCES_DIR)
    standardised = standardise_sources(spark, definitions, lake, "run1")
    resolved = resolve_residents(spark, definitions, lake, "run1", HUB_SECRET)
    return ScenarioRun(lake, "run1", definitions, standardised, resolved)


@dataclass
class CityRun:
    """The small simulated city extracted, standardised and resolved in full (run city1), with its ground truth."""

    lake: Lake
    standardised: object
    resolved: object
    xref: pd.DataFrame  # with the true person_id of every record
    residents: pd.DataFrame
    quarantine: pd.DataFrame
    truth: pd.DataFrame
    cases: dict


@pytest.fixture(scope="session")
def city_run(small_city, spark, tmp_path_factory) -> CityRun:
    from simulators.runtime import CitySystems

    from connectors.extract import extract_source
    from transforms.resolve.run import resolve_residents
    from transforms.standardise.run import standardise_sources

    home = tmp_path_factory.mktemp("city-home")
    lake = Lake.under(home)
    definitions = load_source_definitions(PACKAGE_SOURCES_DIR)
    with CitySystems(small_city) as systems, pytest.MonkeyPatch.context() as patch:
        for name, value in systems.env.items():
            patch.setenv(name, value)
        for definition in definitions:
            extract_source(definition, lake, home / "state", "b1")
    standardised = standardise_sources(spark, definitions, lake, "city1")
    resolved = resolve_residents(spark, definitions, lake, "city1", CITY_SECRET)
    truth = pd.read_csv(small_city / "truth" / "records.csv", dtype=str)
    xref = pd.read_parquet(lake.resolved("city1", "resident_xref")).merge(truth[["record_key", "person_id"]], on="record_key", how="left")
    return CityRun(
        lake, standardised, resolved, xref.set_index("record_key", drop=False),
        pd.read_parquet(lake.resolved("city1", "resident")).set_index("resident_id", drop=False),
        pd.read_parquet(lake.quarantine("city1")), truth,
        json.loads((small_city / "truth" / "cases.json").read_text(encoding="utf-8")),
    )
