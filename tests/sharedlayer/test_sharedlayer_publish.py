"""Publishing runs from the lake into the shared layer: contents, versions, atomicity, bulk loaders."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa

from cityhub.publish import PublishError, loaders, publish_run
from cityhub.sharedlayer import engine_for

HOUSING = {"housing": ["unit_no", "floor_area"]}
RESOLVED = ["resident", "resident_xref", "resident_lineage", "quarantine", "fact_housing"]
ALL_DATASETS = {"resident", "resident_xref", "resident_lineage", "review_queue", "resident_id_history", "fact_housing", "quarantine"}


def versions(url: str) -> list[dict]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT dataset, version, run_id, row_count, status, previous_version FROM dataset_version ORDER BY dataset, version")
            return [dict(row._mapping) for row in connection.execute(query)]
    finally:
        engine.dispose()


def columns_of(url: str, table: str) -> list[str]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return [column["name"] for column in sa.inspect(connection).get_columns(table)]
    finally:
        engine.dispose()


def test_first_publish_loads_every_table_as_written(db_url, lake, land_run, published):
    written = land_run("run1", residents=4)
    result = publish_run(db_url, lake, "run1", HOUSING, batch_rows=2)  # several batches per file

    assert result.versions == {name: 1 for name in ALL_DATASETS}
    assert set(result.created) == ALL_DATASETS
    assert result.rows == {"resident": 4, "resident_xref": 8, "resident_lineage": 8, "fact_housing": 4, "quarantine": 1,
                           "review_queue": 0, "resident_id_history": 0}
    assert result.fact_columns_added == {"fact_housing": ["resident_id", "record_key", "fact_key", "stream", "source_record_id", "batch_id", "unit_no", "floor_area"]}
    contents = published(db_url, RESOLVED)
    for table in ("resident", "resident_xref", "resident_lineage", "quarantine", "fact_housing"):
        assert contents[table] == sorted(written[table], key=lambda row: [str(row[k]) for k in _order_keys(table)]), table
    assert contents["resident"][-1]["is_deceased"] is True and contents["resident"][0]["current_address"] is None
    assert [(v["dataset"], v["version"], v["row_count"], v["previous_version"]) for v in versions(db_url)] == sorted(
        (name, 1, rows, None) for name, rows in result.rows.items()
    )


def _order_keys(table: str) -> list[str]:
    return {
        "resident": ["resident_id"], "resident_xref": ["record_key"], "resident_lineage": ["resident_id", "attribute"],
        "quarantine": ["run_id", "record_key", "rule"],
    }.get(table, ["fact_key"])


def test_republishing_the_live_run_keeps_contents_and_versions(db_url, lake, land_run, published):
    land_run("run1")
    publish_run(db_url, lake, "run1", HOUSING)
    before = published(db_url, RESOLVED + ["dataset_version"])

    again = publish_run(db_url, lake, "run1", HOUSING)

    assert again.created == ()
    assert again.versions == {name: 1 for name in ALL_DATASETS}
    assert published(db_url, RESOLVED + ["dataset_version"]) == before


def test_next_run_replaces_contents_and_bumps_versions(db_url, lake, land_run, published):
    land_run("run1", residents=4)
    publish_run(db_url, lake, "run1", HOUSING)
    second = land_run("run2", residents=2, name_suffix="改")

    result = publish_run(db_url, lake, "run2", HOUSING)

    assert result.versions == {name: 2 for name in ALL_DATASETS}
    contents = published(db_url, RESOLVED)
    assert [row["name"] for row in contents["resident"]] == ["张0改", "张1改"]
    assert {row["run_id"] for row in contents["resident"] + contents["resident_xref"] + contents["quarantine"]} == {"run2"}
    assert len(contents["resident_xref"]) == len(second["resident_xref"]) == 4
    latest = [v for v in versions(db_url) if v["version"] == 2]
    assert {(v["dataset"], v["run_id"], v["row_count"], v["previous_version"]) for v in latest} == {
        (name, "run2", rows, 1) for name, rows in result.rows.items()
    }


def test_new_fact_columns_and_new_departments_are_added_on_publish(db_url, lake, land_run, published):
    land_run("run1")
    publish_run(db_url, lake, "run1", HOUSING)
    wider = {"housing": ["unit_no", "floor_area", "co_ownership"], "health": ["certificate_type", "event_date"]}
    land_run("run2", facts=wider)

    result = publish_run(db_url, lake, "run2", wider)

    assert result.fact_columns_added["fact_housing"] == ["co_ownership"]
    assert "certificate_type" in result.fact_columns_added["fact_health"]
    assert columns_of(db_url, "fact_housing")[-3:] == ["unit_no", "floor_area", "co_ownership"]
    contents = published(db_url, ["fact_housing", "fact_health"])
    assert [row["co_ownership"] for row in contents["fact_housing"]] == ["co_ownership-0", "co_ownership-1", "co_ownership-2"]
    assert [row["event_date"] for row in contents["fact_health"]] == ["event_date-0", "event_date-1", "event_date-2"]
    assert result.versions["fact_health"] == 1 and result.versions["fact_housing"] == 2


def test_a_fact_dropped_from_the_definition_stays_as_an_empty_column(db_url, lake, land_run, published):
    land_run("run1")
    publish_run(db_url, lake, "run1", HOUSING)
    land_run("run2", facts={"housing": ["unit_no"]})

    publish_run(db_url, lake, "run2", {"housing": ["unit_no"]})

    assert "floor_area" in columns_of(db_url, "fact_housing")
    assert {row["floor_area"] for row in published(db_url, ["fact_housing"])["fact_housing"]} == {None}


def _bad_probability(tables):
    for row in tables["resident_xref"]:
        row["match_probability"] = str(row["match_probability"])  # numbers as text still load...
    tables["resident_xref"][-1]["match_probability"] = "high"  # ...but this one is no double


def _duplicate_fact(tables):
    tables["fact_housing"].append(dict(tables["fact_housing"][0]))  # violates the fact_key primary key


def _unknown_resident(tables):
    tables["resident_lineage"][0]["resident_id"] = "R-NOT-PUBLISHED"  # violates the foreign key to resident


@pytest.mark.parametrize(("break_run", "message"), [
    (_bad_probability, "match_probability"), (_duplicate_fact, "loading fact_housing"), (_unknown_resident, "loading resident_lineage"),
])
def test_a_publish_failing_halfway_leaves_the_previous_version(db_url, lake, land_run, make_rows, write_rows, published, break_run, message):
    land_run("run1")
    publish_run(db_url, lake, "run1", HOUSING)
    before = published(db_url, RESOLVED + ["dataset_version"])
    housing_columns = columns_of(db_url, "fact_housing")
    wider = {"housing": ["unit_no", "floor_area", "co_ownership"], "health": ["certificate_type"]}
    tables = make_rows("run2", residents=5, name_suffix="改", facts=wider)
    break_run(tables)
    # A text column, so that the bad value reaches the publisher rather than stopping pyarrow's writer.
    write_rows("run2", tables, as_strings=("resident_xref",) if break_run is _bad_probability else ())

    with pytest.raises(PublishError, match=message):
        publish_run(db_url, lake, "run2", wider)

    assert published(db_url, RESOLVED + ["dataset_version"]) == before
    assert columns_of(db_url, "fact_housing") == housing_columns, "ALTER TABLE must roll back with the rows"
    engine = engine_for(db_url)
    try:
        with engine.connect() as connection:
            assert not sa.inspect(connection).has_table("fact_health"), "CREATE TABLE must roll back with the rows"
    finally:
        engine.dispose()


def test_an_unreadable_file_fails_the_publish_and_names_it(db_url, lake, land_run, published):
    land_run("run1")
    publish_run(db_url, lake, "run1", HOUSING)
    before = published(db_url, RESOLVED + ["dataset_version"])
    land_run("run2", name_suffix="改")
    broken = lake.resolved("run2", "resident_xref") / "part-00009.snappy.parquet"
    broken.write_bytes(b"this is not parquet")

    with pytest.raises(PublishError, match="part-00009"):
        publish_run(db_url, lake, "run2", HOUSING)

    assert published(db_url, RESOLVED + ["dataset_version"]) == before


def test_a_missing_resolved_table_or_column_is_reported_before_writing(db_url, lake, land_run, make_rows, write_rows, published):
    land_run("run1")
    publish_run(db_url, lake, "run1", HOUSING)
    before = published(db_url, RESOLVED + ["dataset_version"])
    land_run("run2")
    shutil.rmtree(lake.resolved("run2", "resident_lineage"))
    with pytest.raises(PublishError, match="resident_lineage"):
        publish_run(db_url, lake, "run2", HOUSING)

    tables = make_rows("run3")
    for row in tables["resident"]:
        del row["sources"]
    write_rows("run3", {**tables, "resident": tables["resident"]})
    _drop_column(lake.resolved("run3", "resident"), "sources")
    with pytest.raises(PublishError, match=r"missing columns \['sources'\]"):
        publish_run(db_url, lake, "run3", HOUSING)
    assert published(db_url, RESOLVED + ["dataset_version"]) == before


def _drop_column(folder, column):
    import pyarrow.parquet as pq

    for file in folder.glob("*.parquet"):
        table = pq.read_table(file)
        pq.write_table(table.drop_columns([column]), file)


def test_no_quarantine_folder_means_nothing_quarantined(db_url, lake, land_run, published):
    land_run("run1")
    shutil.rmtree(lake.quarantine("run1"))

    result = publish_run(db_url, lake, "run1", HOUSING)

    assert result.rows["quarantine"] == 0
    assert published(db_url, ["quarantine"])["quarantine"] == []


def test_readers_see_the_previous_version_until_the_publish_commits(db_url, lake, land_run):
    land_run("run1", residents=3)
    publish_run(db_url, lake, "run1", HOUSING)
    land_run("run2", residents=5, name_suffix="改")
    reader = engine_for(db_url)
    seen_during: list[tuple] = []

    def read_while_publishing(dataset: str, rows: int) -> None:
        # Runs inside the publish transaction, after each table's load: a second connection reads.
        with reader.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SET lock_timeout = '5s'"))  # fail rather than hang if readers were blocked
            names = connection.execute(sa.text("SELECT name FROM resident ORDER BY resident_id")).scalars().all()
            xrefs = connection.execute(sa.text("SELECT count(*) FROM resident_xref")).scalar()
            latest = connection.execute(sa.text("SELECT max(version) FROM dataset_version WHERE dataset = 'resident'")).scalar()
            seen_during.append((dataset, tuple(names), xrefs, latest))

    try:
        publish_run(db_url, lake, "run2", HOUSING, progress=read_while_publishing)
        with reader.connect() as connection:
            after = connection.execute(sa.text("SELECT name FROM resident ORDER BY resident_id")).scalars().all()
    finally:
        reader.dispose()

    assert [entry[0] for entry in seen_during] == ["resident", "resident_xref", "resident_lineage", "review_queue", "fact_housing", "quarantine"]
    assert all(entry[1:] == (("张0", "张1", "张2"), 6, 1) for entry in seen_during), seen_during
    assert after == ["张0改", "张1改", "张2改", "张3改", "张4改"]


def test_bulk_loader_is_copy_on_postgresql_and_executemany_on_sqlite(db_url, lake, land_run, published, monkeypatch):
    written = land_run("run1", residents=5)  # fact values cycle through "", quotes, newlines, tabs, "\N", NULL
    chosen, loaded = [], []
    real_loader_for = loaders.loader_for

    def spy_loader_for(connection):
        loader = real_loader_for(connection)
        chosen.append(loader.__name__)

        def spy_loader(connection, table, batches):
            loaded.append(table.name)
            return loader(connection, table, batches)

        return spy_loader

    monkeypatch.setattr(loaders, "loader_for", spy_loader_for)
    publish_run(db_url, lake, "run1", HOUSING)

    expected = "copy_batches" if db_url.startswith("postgresql") else "executemany_batches"
    assert chosen == [expected]
    assert loaded == ["resident", "resident_xref", "resident_lineage", "review_queue", "fact_housing", "quarantine"]
    facts = published(db_url, ["fact_housing"])["fact_housing"]
    assert [row["unit_no"] for row in facts] == [row["unit_no"] for row in written["fact_housing"]]
    assert [row["unit_no"] for row in facts] == ["", 'a,"b"\nc', "东城区 1号\t院", "\\N", None]


def test_partition_folders_supply_their_column_and_run_id_may_be_left_out(db_url, lake, land_run, published):
    import pyarrow as pa
    import pyarrow.parquet as pq

    written = land_run("run1")
    shutil.rmtree(lake.quarantine("run1"))
    # Spark's partitionBy("source") keeps `source` in the folder name only; run_id is the run's own.
    rows = [{k: v for k, v in row.items() if k not in ("source", "run_id")} for row in written["quarantine"]]
    folder = lake.quarantine("run1") / "source=housing"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")

    publish_run(db_url, lake, "run1", HOUSING)

    assert published(db_url, ["quarantine"])["quarantine"] == written["quarantine"]


def test_generic_insert_loader_stores_what_the_sqlite_fast_path_stores(tmp_path, lake, land_run, published, monkeypatch):
    land_run("run1", residents=5)
    fast, generic = f"sqlite:///{tmp_path / 'fast.db'}", f"sqlite:///{tmp_path / 'generic.db'}"
    publish_run(fast, lake, "run1", HOUSING)
    monkeypatch.setattr(loaders, "loader_for", lambda connection: loaders.insert_batches)
    publish_run(generic, lake, "run1", HOUSING)

    assert published(fast, RESOLVED) == published(generic, RESOLVED)
    engine = engine_for(fast)
    try:
        with engine.connect() as connection:  # stored exactly as SQLAlchemy would store them itself
            raw = connection.exec_driver_sql("SELECT birth_date, is_deceased FROM resident ORDER BY resident_id DESC LIMIT 1").one()
            assert tuple(raw) == ("1990-01-05", 1)
    finally:
        engine.dispose()


def test_quarantined_records_without_a_key_get_one_and_repeats_are_counted(db_url, lake, make_rows, write_rows, published):
    tables = make_rows("run1")
    keyless = {**tables["quarantine"][0], "record_key": None, "source_record_id": None, "rule": "missing_primary_key", "value": "9f86d081"}
    tables["quarantine"] += [keyless, dict(keyless), {**keyless, "value": "60303ae2"}]
    write_rows("run1", tables)

    result = publish_run(db_url, lake, "run1", HOUSING)

    assert result.rows["quarantine"] == 3 and result.quarantine_duplicates == 1
    keys = [row["record_key"] for row in published(db_url, ["quarantine"])["quarantine"]]
    assert keys == ["housing:property:#60303ae2", "housing:property:#9f86d081", "housing:property:HBAD"]
