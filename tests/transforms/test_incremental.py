"""Ids persist across runs, and an incremental run links exactly as a full run on the same data."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from pyspark.sql import functions as F

from transforms_scenario import ZHANG_ID

pytestmark = pytest.mark.spark
SECRET = "test-hub-secret"


def land_next_day(spark, run) -> str:
    """Run run1's standardised records with one phone changed and one new record of a known resident, as run `next`."""
    lake = run.lake
    persons = spark.read.parquet(str(lake.standardised_persons(run.run_id)))
    phoned = sorted(run.persons.dropna(subset=["phone"])["record_key"])[0]
    changed = persons.withColumn("phone", F.when(F.col("record_key") == phoned, F.lit("13999999999")).otherwise(F.col("phone")))
    template = persons.where(F.col("id_number") == ZHANG_ID).orderBy("record_key").limit(1)
    new = template.withColumn("record_key", F.lit("housing:property:NEW1")).withColumn("source_record_id", F.lit("NEW1"))
    changed.unionByName(new).write.mode("overwrite").parquet(str(lake.standardised_persons("next")))
    shutil.copytree(lake.standardised(run.run_id) / "facts", lake.standardised("next") / "facts", dirs_exist_ok=True)
    return phoned


def test_incremental_run_matches_a_full_run_and_keeps_ids(spark, scenario_run):
    from transforms.resolve.run import resolve_residents

    lake, definitions = scenario_run.lake, scenario_run.definitions
    phoned = land_next_day(spark, scenario_run)
    # The same day's data resolved twice against run1: in full, and incrementally (run ids differ, data does not).
    shutil.copytree(lake.standardised("next"), lake.standardised("next_incremental"))
    resolve_residents(spark, definitions, lake, "next", SECRET, previous_run="run1")
    resolve_residents(spark, definitions, lake, "next_incremental", SECRET, previous_run="run1", incremental=True)

    before = scenario_run.resolved_table("resident_xref").set_index("record_key")["resident_id"]
    full = scenario_run.table(lake.resolved("next", "resident_xref")).set_index("record_key")["resident_id"]
    incremental = scenario_run.table(lake.resolved("next_incremental", "resident_xref")).set_index("record_key")["resident_id"]

    assert full.sort_index().to_dict() == incremental.sort_index().to_dict()
    assert (full[before.index] == before).all(), "every resident of run1 keeps its id"
    zhang = scenario_run.persons.query("id_number == @ZHANG_ID").index[0]
    assert full["housing:property:NEW1"] == before[zhang], "a new record joins its known resident"
    assert phoned in full.index
    history = scenario_run.table(lake.resolved("next_incremental", "resident_id_history"))
    assert history.empty
    for table, key in (("resident", ["resident_id"]), ("resident_lineage", ["resident_id", "attribute"])):
        def rows(run: str):
            return scenario_run.table(lake.resolved(run, table)).drop(columns="run_id").sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(rows("next"), rows("next_incremental"), check_dtype=False, obj=table)
    saved = sorted(path.name for path in lake.resolved("next_incremental", "matching_model").iterdir())
    assert saved == ["model.json", "tf_address_key", "tf_name_raw_clean"], "the model and the frequencies the next run scores with"
