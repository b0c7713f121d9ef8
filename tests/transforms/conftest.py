"""The transforms tests' one pipeline run over the tiny landed scenario (standardise, then resolve)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from cityhub.config import PACKAGE_SOURCES_DIR
from cityhub.lake import Lake
from connectors.definition import SourceDefinition, load_source_definitions

from transforms_scenario import land_city

HUB_SECRET = "test-hub-secret"


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
