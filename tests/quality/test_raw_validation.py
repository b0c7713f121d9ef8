"""The raw layer's gate: a landed batch validated with its department's suite on pandas (no Spark), and a
batch breaking a critical rule withdrawn as if its source had been down."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cityhub.config import Settings
from cityhub.context import RunContext
from cityhub.lake import Lake
from cityhub.pipeline import extract_step, land_source, validate_raw_step
from cityhub.quality.gates import RAW, read_outcomes
from cityhub.quality.raw import RawBatchRejected, raw_stream_suite, validate_raw_batch
from cityhub.quality.suites import RAW_BATCH, load_suite, raw_suite, severity_of
from connectors.definition import load_source_definitions, parse_source_definition
from connectors.state import BatchRecord, SourceState
from tests.transforms.transforms_rawdata import write_batch

REPO = Path(__file__).resolve().parents[2]
DEPARTMENTS = [d.name for d in load_source_definitions(REPO / "connectors" / "sources")]
HEADER = "登记编号,权利人,证件号码,房屋坐落,更新时间"
GOOD_ROWS = ["DJ0001,张三,110101199003070011,杭州市西湖区文三路1号,2024-01-01 10:00:00",
             "DJ0002,李四,110101199003070038,杭州市上城区解放路2号,2024-01-02 10:00:00"]
BLANK_KEY_ROW = ",王五,110101199003070054,杭州市拱墅区湖墅路3号,2024-01-03 10:00:00"


def housing(drop: Path):
    """The housing bureau's property stream, dropped as CSV files into `drop`."""
    return parse_source_definition({
        "name": "housing", "title": "住建局", "provider_code": "ZJ", "kind": "files", "connection": {"path": str(drop)},
        "streams": [{"name": "property", "pattern": "property_*.csv", "primary_key": "登记编号", "replication_key": "更新时间",
                     "person": {"name": "权利人", "id_number": "证件号码", "address": "房屋坐落"}}],
    }, Path("housing.yaml"))


def drops(drop: Path, name: str):
    """A second file-drop department without a raw suite of its own (the common rules apply)."""
    return parse_source_definition({
        "name": name, "title": name, "provider_code": "DR", "kind": "files", "connection": {"path": str(drop)},
        "streams": [{"name": "property", "pattern": "property_*.csv", "primary_key": "登记编号", "person": {"name": "权利人"}}],
    }, Path(f"{name}.yaml"))


def write_drop(folder: Path, name: str, rows: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\r\n".join([HEADER, *rows]) + "\r\n", encoding="utf-8")


def context(tmp_path: Path, run_id: str, *definitions) -> RunContext:
    return RunContext(Settings(home=tmp_path / "home"), run_id=run_id, sources=list(definitions))


@pytest.mark.parametrize("source", DEPARTMENTS)
def test_every_department_has_a_raw_suite_including_the_common_rules(source):
    assert raw_suite(source) == f"raw_{source}"
    suite = load_suite(f"raw_{source}")
    common = load_suite(RAW_BATCH)
    assert [e.configuration.to_json_dict() for e in suite.expectations[:len(common.expectations)]] == \
        [e.configuration.to_json_dict() for e in common.expectations]
    assert {e.meta.get("rule") for e in common.expectations} >= {"provenance_columns_present", "provenance_not_null", "record_hash_unique"}
    assert all(severity_of(e) in ("critical", "warning") for e in suite.expectations)
    assert raw_suite("a_fifth_department") == RAW_BATCH


def test_stream_scoped_rules_apply_to_their_stream_and_the_batch_adds_its_own():
    health = next(d for d in load_source_definitions(REPO / "connectors" / "sources") if d.name == "health")
    patients, certificates = (raw_stream_suite("health", s, "b1", 5) for s in health.streams)
    resource_types = [[e.configuration.kwargs["value_set"] for e in suite.expectations if e.meta.get("rule") == "fhir_resource_type"]
                      for suite in (patients, certificates)]
    assert resource_types == [[["Patient"]], [["Observation"]]]
    added = {(e.expectation_type, e.meta["rule"], e.meta["severity"]) for e in patients.expectations}
    assert ("expect_table_row_count_to_equal", "rows_match_extract", "critical") in added
    assert ("expect_column_values_to_not_be_null", "missing_primary_key", "warning") in added
    assert next(e for e in patients.expectations if e.meta.get("rule") == "missing_primary_key").configuration.kwargs["column"] == "id"


def test_a_landed_batch_passes_with_a_blank_key_as_a_warning_and_lands_its_outcomes_in_data_docs(tmp_path):
    drop = tmp_path / "drop"
    write_drop(drop, "property_20240101.csv", [*GOOD_ROWS, BLANK_KEY_ROW])
    ctx = context(tmp_path, "b1", housing(drop))
    entry = land_source(ctx, "housing")
    assert entry["status"] == "ok", entry
    assert entry["raw_validation"]["success"] and entry["raw_validation"]["rows"] == {"property": 3}
    assert entry["raw_validation"]["warning"] == ["property: missing_primary_key(登记编号) [1 unexpected]"]
    outcomes = read_outcomes(ctx.run_dir, RAW)
    assert {(o["source"], o["dataset"], o["suite"]) for o in outcomes} == {("housing", "property", "raw_housing.property")}
    assert {o["rule"] for o in outcomes} >= {"provenance_not_null", "record_hash_unique", "source_file_recorded", "rows_match_extract"}
    docs = ctx.run_dir / "quality" / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert "raw_housing.property" in (docs / "index.html").read_text(encoding="utf-8")
    assert list(ctx.lake.raw_stream("housing", "property").glob("batch_id=b1/*.parquet"))


def test_a_duplicated_record_fails_that_source_only_and_its_batch_is_withdrawn_until_fixed(tmp_path):
    bad, good = tmp_path / "housing_drop", tmp_path / "other_drop"
    write_drop(bad, "property_20240101.csv", [GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[1]])  # one row sent twice
    write_drop(good, "property_20240101.csv", GOOD_ROWS)
    ctx = context(tmp_path, "b1", housing(bad), drops(good, "other"))
    entries = {name: land_source(ctx, name) for name in ("housing", "other")}

    assert entries["other"]["status"] == "ok" and entries["other"]["total_rows"] == 2
    assert entries["housing"]["status"] == "failed"
    assert "raw batch b1 of housing failed: property: record_hash_unique(_record_hash) [2 unexpected]" in entries["housing"]["error"]
    assert not ctx.lake.raw_batch("housing", "property", "b1").exists(), "readers must not see the rejected batch"
    assert list(ctx.lake.rejected_raw_batch("housing", "property", "b1").glob("*.parquet")), "kept as landed, for inspection"
    state = SourceState(ctx.state_dir, "housing")
    assert state.bookmark("property") is None and state.batch("property", "b1") is None, "as after an outage"
    assert read_outcomes(ctx.run_dir, RAW) and {o["source"] for o in read_outcomes(ctx.run_dir, RAW)} == {"housing", "other"}

    write_drop(bad, "property_20240101.csv", GOOD_ROWS)  # the bureau re-sends the file, fixed
    fixed = land_source(context(tmp_path, "b2", housing(bad), drops(good, "other")), "housing")
    assert fixed["status"] == "ok" and fixed["total_rows"] == 2


def _land_tampered(lake: Lake, change) -> None:
    write_batch(lake, "public_security", "persons", "rkid", "b1", "2024-01-02T00:00:00+00:00",
                [{"rkid": "P1", "xm": "张三", "updated_at": "2024-01-01 10:00:00"}, {"rkid": "P2", "xm": "李四", "updated_at": "2024-01-01 11:00:00"}])
    path = next(lake.raw_batch("public_security", "persons", "b1").glob("*.parquet"))
    rows = pq.read_table(path).to_pylist()
    change(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(path)), path)


@pytest.mark.parametrize(("change", "reported", "rule"), [
    (lambda rows: rows[1].update(_extracted_at=None), 2, "provenance_not_null(_extracted_at) [1 unexpected]"),
    (lambda rows: rows[1].update(_record_hash=rows[0]["_record_hash"]), 2, "record_hash_unique(_record_hash) [2 unexpected]"),
    (lambda rows: rows[0].update(_batch_id="b0"), 2, "provenance_matches_batch(_batch_id) [1 unexpected]"),
    (lambda rows: None, 3, "rows_match_extract [2 rows in the batch, 3 reported]"),
], ids=["missing_provenance", "duplicate_hash", "wrong_batch", "rows_lost"])
def test_a_broken_batch_is_rejected_naming_stream_and_rule(tmp_path, change, reported, rule):
    public_security = next(d for d in load_source_definitions(REPO / "connectors" / "sources") if d.name == "public_security")
    ctx = context(tmp_path, "b1", public_security)
    _land_tampered(ctx.lake, change)
    extracted = {"batch_id": "b1", "streams": {"persons": {"rows": reported}, "hukou_events": {"rows": 0}}}
    with pytest.raises(RawBatchRejected, match="withdrawn") as failure:
        validate_raw_step(ctx, "public_security", extracted)
    assert f"raw batch b1 of public_security failed: persons: {rule}" in str(failure.value)
    failed = [o for o in read_outcomes(ctx.run_dir, RAW) if not o["success"] and o["severity"] == "critical"]
    assert [o["dataset"] for o in failed] == ["persons"] and failed[0]["suite"] == "raw_public_security.persons"
    assert not ctx.lake.raw_batch("public_security", "persons", "b1").exists()


def test_a_batch_with_no_new_rows_is_not_validated_and_a_missing_one_is(tmp_path):
    public_security = next(d for d in load_source_definitions(REPO / "connectors" / "sources") if d.name == "public_security")
    lake = Lake.under(tmp_path / "home")
    nothing = validate_raw_batch(lake, public_security, "b1", {"persons": 0, "hukou_events": 0}, tmp_path / "run")
    assert nothing.results == {} and not nothing.blocking and not (tmp_path / "run" / "quality" / "outcomes.json").exists()
    vanished = validate_raw_batch(lake, public_security, "b1", {"persons": 4}, tmp_path / "run")
    assert vanished.blocking and "persons: rows_match_extract [0 rows in the batch, 4 reported]" in vanished.message()


def test_withdrawing_puts_back_only_the_latest_batch(tmp_path):
    state = SourceState(tmp_path, "s")
    state.record("persons", "b1", BatchRecord(None, "2024-01-01", 3, boundary_from=None))
    state.record("persons", "b2", BatchRecord("2024-01-01", "2024-01-02", 2, boundary_from={"P1": "abc"}))
    assert not state.withdraw("persons", "b1"), "b2 started from b1's end"
    assert state.withdraw("persons", "b2")
    assert (state.bookmark("persons"), state.boundary("persons"), state.batch("persons", "b2")) == ("2024-01-01", {"P1": "abc"}, None)
    assert state.starting_point("persons", "b3") == ("2024-01-01", {"P1": "abc"})


def test_the_extract_step_reports_what_validation_compares(tmp_path):
    drop = tmp_path / "drop"
    write_drop(drop, "property_20240101.csv", GOOD_ROWS)
    ctx = context(tmp_path, "b1", housing(drop))
    extracted = extract_step(ctx, "housing")
    assert extracted["streams"]["property"]["rows"] == 2 and extracted["batch_id"] == "b1"
    assert validate_raw_step(ctx, "housing", json.loads(json.dumps(extracted)))["success"]  # as it arrives through XCom
