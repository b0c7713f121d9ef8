"""Ids persist across runs, and an incremental run links exactly as a full run on the same data."""

from __future__ import annotations

import shutil

import pandas as pd
import pyarrow as pa
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


def land_third_day(spark, lake) -> None:
    """The next day's records with a record gone (李四's ID-less health record), a name retyped (孙七 → 周立, no ID)
    and a phone changed on an ID-anchored record (李娜), as run `third`."""
    persons = spark.read.parquet(str(lake.standardised_persons("next")))
    changed = (persons.where(F.col("record_key") != "health:patients:H2")
               .withColumns({column: F.when(F.col("record_key") == "health:patients:H3", F.lit(value)).otherwise(F.col(column))
                             for column, value in (("name", "周立"), ("name_raw", "周立"), ("name_pinyin", "zhou li"), ("name_initials", "zl"))})
               .withColumn("phone", F.when(F.col("record_key") == "public_security:persons:P9", F.lit("13911112222")).otherwise(F.col("phone"))))
    changed.write.mode("overwrite").parquet(str(lake.standardised_persons("third")))
    shutil.copytree(lake.standardised("next") / "facts", lake.standardised("third") / "facts", dirs_exist_ok=True)


def resolve_both_ways(spark, run, day: str, previous: str) -> None:
    """Resolve `day`'s records against `previous` in full (run `day`) and incrementally (run `<day>_incremental`)."""
    from transforms.resolve.run import resolve_residents

    lake = run.lake
    shutil.copytree(lake.standardised(day), lake.standardised(f"{day}_incremental"))
    resolve_residents(spark, run.definitions, lake, day, SECRET, previous_run=previous)
    resolve_residents(spark, run.definitions, lake, f"{day}_incremental", SECRET, previous_run=previous, incremental=True)


def assert_same_resolution(run, full: str, incremental: str) -> None:
    """The two runs link every record to the same resident and build the same golden records, lineage, blocking and link keys
    and weighed pairs."""
    def rows(run_id: str, table: str, key: list[str]):
        frame = run.table(run.lake.resolved(run_id, table))
        return frame.drop(columns=[c for c in ("run_id",) if c in frame]).sort_values(key).reset_index(drop=True)

    for table, key in (("resident_xref", ["record_key"]), ("resident", ["resident_id"]), ("resident_lineage", ["resident_id", "attribute"]),
                       ("blocking_keys", ["record_key", "key"]), ("link_keys", ["record_key", "key"]),
                       ("weighed_pairs", ["record_key_l", "record_key_r"])):
        pd.testing.assert_frame_equal(rows(full, table, key), rows(incremental, table, key), check_dtype=False, obj=table)


@pytest.fixture(scope="module")
def next_day(spark, scenario_run) -> str:
    """run1's records a day later, resolved against run1 in full (`next`) and incrementally (`next_incremental`); the phoned record."""
    phoned = land_next_day(spark, scenario_run)
    # The same day's data resolved twice against run1: in full, and incrementally (run ids differ, data does not).
    resolve_both_ways(spark, scenario_run, "next", "run1")
    return phoned


def test_incremental_run_matches_a_full_run_and_keeps_ids(scenario_run, next_day):
    lake, phoned = scenario_run.lake, next_day

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
    assert_same_resolution(scenario_run, "next", "next_incremental")
    saved = sorted(path.name for path in lake.resolved("next_incremental", "matching_model").iterdir())
    assert saved == ["model.json", "tf_address_key", "tf_name_raw_clean"], "the model and the frequencies the next run scores with"
    keys = scenario_run.table(lake.resolved("next_incremental", "blocking_keys"))
    assert set(keys["record_key"]) <= set(full.index) and keys["key"].notna().all(), "every run keeps its blocking keys"


def test_an_incremental_run_after_an_incremental_one_matches_a_full_run(spark, scenario_run, next_day):
    lake = scenario_run.lake
    land_third_day(spark, lake)
    resolve_both_ways(spark, scenario_run, "third", "next_incremental")  # its tables were carried forward, not written by Spark
    assert_same_resolution(scenario_run, "third", "third_incremental")
    xref = scenario_run.table(lake.resolved("third_incremental", "resident_xref")).set_index("record_key")
    before = scenario_run.table(lake.resolved("next_incremental", "resident_xref")).set_index("record_key")
    assert "health:patients:H2" not in xref.index
    assert xref.loc["health:patients:H3", "resident_id"] != xref.loc["health:patients:H4", "resident_id"], "周立 is not 孫七"
    assert (xref.loc["public_security:persons:P9", "resident_id"] == before.loc["public_security:persons:P9", "resident_id"])


def test_an_incremental_run_with_nothing_changed_carries_everything(spark, scenario_run, next_day):
    from transforms.resolve.run import resolve_residents

    lake = scenario_run.lake
    shutil.copytree(lake.standardised("next"), lake.standardised("same_again"))
    result = resolve_residents(spark, scenario_run.definitions, lake, "same_again", SECRET, previous_run="next_incremental", incremental=True)
    assert result.incremental == {"records_changed": 0, "records_rematched": 0, "residents_rebuilt": 0}
    assert_same_resolution(scenario_run, "next_incremental", "same_again")
    assert scenario_run.table(lake.resolved("same_again", "resident_id_history")).empty
    assert set(scenario_run.table(lake.resolved("same_again", "resident"))["run_id"]) == {"same_again"}


@pytest.mark.parametrize("scored", [False, True], ids=["bounded", "bounded-then-scored"])
def test_an_incremental_run_whose_edge_is_bounded_matches_a_full_run(spark, scenario_run, next_day, monkeypatch, scored):
    """The scenario's edge is small, so its holders all start the part; here its pairs are bounded first (and then scored)."""
    import transforms.resolve.incremental as incremental
    from transforms.resolve.run import resolve_residents

    monkeypatch.setattr(incremental, "BOUNDED_EDGE_HOLDERS", 0)
    monkeypatch.setattr(incremental, "SCORED_EDGE_HOLDERS", 0 if scored else 10**9)
    lake, run_id = scenario_run.lake, f"next_{'scored' if scored else 'bounded'}"
    shutil.copytree(lake.standardised("next"), lake.standardised(run_id))
    resolve_residents(spark, scenario_run.definitions, lake, run_id, SECRET, previous_run="run1", incremental=True)
    assert_same_resolution(scenario_run, "next", run_id)


def test_an_incremental_run_from_a_live_run_that_kept_no_keys_or_pairs_matches_every_record(spark, scenario_run, next_day, caplog):
    from transforms.resolve.run import resolve_residents

    lake = scenario_run.lake
    shutil.copytree(lake.resolved("run1", "resident").parent, lake.resolved("legacy", "resident").parent)
    for table in ("blocking_keys", "link_keys", "weighed_pairs"):
        shutil.rmtree(lake.resolved("legacy", table))  # resolved before runs kept them
    shutil.copytree(lake.standardised("run1"), lake.standardised("legacy"))
    shutil.copytree(lake.standardised("next"), lake.standardised("next_from_legacy"))
    result = resolve_residents(spark, scenario_run.definitions, lake, "next_from_legacy", SECRET, previous_run="legacy", incremental=True)
    assert result.incremental == {}, "matched in full"
    assert "kept no blocking_keys, weighed_pairs, link_keys" in caplog.text
    assert_same_resolution(scenario_run, "next", "next_from_legacy")


def test_the_id_checks_and_the_deterministic_pass_read_only_their_inputs_of_a_record(spark, scenario_run):
    # An incremental run follows a change to the records sharing a number or a name window only when these inputs changed.
    from transforms.resolve.linking import ID_CHECK_COLUMNS, ID_CHECK_INPUTS, LINK_INPUTS, link_records, with_id_checks
    from transforms.standardise.person import PERSON_COLUMNS

    persons = spark.read.parquet(str(scenario_run.lake.standardised_persons(scenario_run.run_id)))

    def blanked(kept: tuple[str, ...]):
        return persons.withColumns({c: F.lit(None).cast(persons.schema[c].dataType) for c in PERSON_COLUMNS if c not in kept})

    def rows(frame, columns):
        return sorted(tuple(row) for row in frame.select("record_key", *columns).collect())

    assert rows(with_id_checks(persons), ID_CHECK_COLUMNS) == rows(with_id_checks(blanked(ID_CHECK_INPUTS)), ID_CHECK_COLUMNS)
    link = ("anchor_kind", "anchor_value", "match_rule", *ID_CHECK_COLUMNS)
    assert rows(link_records(persons), link) == rows(link_records(blanked(LINK_INPUTS)), link)
    assert rows(link_records(persons), link) != rows(link_records(blanked(LINK_INPUTS[:-1])), link), "gender is read"


def edge_pairs(scenario_run) -> pa.Table:
    """Two pairs at the edge of a part: one run1 weighed, and one of two people sharing nothing but a key."""
    from cityhub.lake_tables import read_table
    from transforms.resolve.incremental import PAIRS

    weighed = read_table(scenario_run.lake.resolved("run1", PAIRS)).to_pylist()
    assert weighed, "the scenario has records linked by probability"
    left, right = weighed[0]["record_key_l"], weighed[0]["record_key_r"]
    xref = scenario_run.resolved_table("resident_xref").set_index("record_key")
    names = scenario_run.persons["name"]
    stranger = next(key for key in xref.index if xref.loc[key, "resident_id"] != xref.loc[left, "resident_id"]
                    and names[key] != names[left] and key != right)
    return pa.table({"record": [left, left], "holder": [right, stranger]})


def test_the_bound_at_the_edge_keeps_the_pairs_splink_weighs(spark, scenario_run):
    from cityhub.lake_tables import read_table
    from transforms.resolve.incremental import MODEL, load_model, read_term_frequencies, weighable_pairs
    from transforms.resolve.profile import load_profile

    lake, candidates = scenario_run.lake, edge_pairs(scenario_run)
    folder = lake.resolved("run1", MODEL)
    kept = weighable_pairs(spark, read_table(lake.standardised_persons("run1")), candidates, load_profile(), load_model(folder),
                           read_term_frequencies(folder))
    assert kept.to_pylist() == candidates.slice(0, 1).to_pylist(), "the weighed pair, not the stranger's"


def test_the_pairs_at_the_edge_of_a_part_are_scored_as_a_full_run_weighs_them(spark, scenario_run):
    # A holder of a changed record's key starts the part only when Splink weighs their pair.
    from cityhub.lake_tables import read_table
    from transforms.resolve.incremental import MODEL, load_model, load_term_frequencies, scored_partners
    from transforms.resolve.probabilistic import splink_views
    from transforms.resolve.profile import load_profile

    lake, candidates = scenario_run.lake, edge_pairs(scenario_run)
    right = candidates["holder"][0].as_py()
    folder = lake.resolved("run1", MODEL)
    cached = spark.sparkContext._jsc.getPersistentRDDs().size()
    views = splink_views(spark)
    partners = scored_partners(spark, read_table(lake.standardised_persons("run1")), candidates, load_profile(), load_model(folder),
                               load_term_frequencies(spark, folder))
    assert partners.to_pylist() == [right], "the holder of the weighed pair, not the stranger"
    # Splink cached its tables for this predict (splink_in_memory): they are released, not left in the session's memory.
    assert spark.sparkContext._jsc.getPersistentRDDs().size() <= cached and splink_views(spark) <= views


def test_the_changed_records_keys_are_a_full_runs_and_only_theirs(spark, scenario_run):
    # Keys come back for the keyed records only, computed beside all the records given; anchors for all of them.
    from cityhub.lake_tables import read_table, rows_with
    from transforms.resolve.incremental import BLOCKING_KEYS, LINK_KEYS, changed_keys_now
    from transforms.resolve.linking import ID_NUMBER
    from transforms.resolve.profile import load_profile

    lake = scenario_run.lake
    persons = read_table(lake.standardised_persons("run1"))
    keyed = persons["record_key"].combine_chunks()[::2]
    now = changed_keys_now(spark, persons, keyed, load_profile())

    def pairs(table: pa.Table) -> set:
        return set(zip(table["record_key"].to_pylist(), table["key"].to_pylist()))

    assert pairs(now.blocking) == pairs(rows_with(read_table(lake.resolved("run1", BLOCKING_KEYS)), "record_key", keyed))
    assert pairs(now.links) == pairs(rows_with(read_table(lake.resolved("run1", LINK_KEYS)), "record_key", keyed))
    xref = scenario_run.resolved_table("resident_xref")
    assert set(now.anchored.to_pylist()) == set(xref.loc[xref["match_rule"] == ID_NUMBER, "record_key"])
