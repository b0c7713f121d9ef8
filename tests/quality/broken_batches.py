"""Deliberately broken raw batches and resolved datasets for the quarantine and gate tests."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from cityhub.lake import Lake
from cityhub.publish.reader import arrow_schema
from cityhub.sharedlayer.schema import fact_table, resident, resident_lineage, resident_xref
from quality_data import MAN_1980, WOMAN_1975
from tests.transforms.transforms_rawdata import write_batch

PS_COLUMNS = ["rkid", "sfzh", "xm", "xb", "csrq", "lxdh", "hjdz", "mz", "hyzk", "updated_at", "hh", "hjzt"]
CREMATION_COLUMNS = ["recordId", "idCard", "name", "sex", "deathDate", "updatedAt", "cremationDate"]


def _ps(rkid, sfzh, xm, csrq):
    return dict(rkid=rkid, sfzh=sfzh, xm=xm, xb="1", csrq=csrq, lxdh=None, hjdz="北京市东城区东华门街道1号", mz="汉族",
                hyzk="20", updated_at="2024-01-01 10:00:00", hh="H", hjzt="正常")


def _cremation(record_id, id_card, death_date, updated):
    return dict(recordId=record_id, idCard=id_card, name="王芳", sex="女", deathDate=death_date, updatedAt=updated,
                cremationDate=death_date)


def land_broken_city(lake: Lake) -> None:
    """Batch 1 of three departments, each critical row rule broken at least once; health's whole batch malformed."""
    write_batch(lake, "public_security", "persons", "rkid", "b1", "2024-01-02T00:00:00+00:00", [
        _ps("P1", MAN_1980, "张三", "19800101"),  # good
        _ps("P2", None, None, "19700101"),  # no_identity
        _ps(None, MAN_1980, "张三", "19800101"),  # missing_primary_key
    ], columns=PS_COLUMNS)
    write_batch(lake, "civil_affairs", "cremations", "recordId", "c1", "2024-01-02T00:00:00+00:00", [
        _cremation("K1", WOMAN_1975, "1970-01-01", "2024-01-01T00:00:00Z"),  # death_before_birth: born 1975 per the ID
        _cremation("K2", MAN_1980, "2023-12-01", "2024-01-01T00:00:00Z"),  # good
    ], columns=CREMATION_COLUMNS)
    # A malformed export: no record carries its primary key, a name or an ID number.
    write_batch(lake, "health", "patients", "id", "h1", "2024-01-02T00:00:00+00:00", [
        dict(id=None, identifier=None, name=None, gender="unknown", birthDate="not a date", meta=None),
        dict(id=" ", identifier="[]", name="[]", gender=None, birthDate=None, meta="{}"),
    ], columns=["id", "identifier", "name", "gender", "birthDate", "telecom", "address", "meta"])


def land_fixed_cremation(lake: Lake) -> None:
    """Batch 2 of civil affairs: K1 sent again with its death date corrected."""
    write_batch(lake, "civil_affairs", "cremations", "recordId", "c2", "2024-01-03T00:00:00+00:00", [
        _cremation("K1", WOMAN_1975, "2023-11-30", "2024-01-02T00:00:00Z"),
    ], columns=CREMATION_COLUMNS)


def write_table(folder, table, rows: list[dict]) -> None:
    """Write rows (missing columns null) as one Parquet file with the shared layer table's Arrow schema."""
    schema = arrow_schema(table)
    folder.mkdir(parents=True, exist_ok=True)
    data = pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)
    pq.write_table(data, folder / "part-00000.parquet")


FACT_NAMES = {"health": ["certificate_no"], "housing": ["property_address"]}


def fact_source_definitions() -> list:
    """Source definitions declaring exactly the facts of FACT_NAMES, for publishing resolved runs written here."""
    from pathlib import Path

    from connectors.definition import parse_source_definition

    return [parse_source_definition({
        "name": source, "title": source, "provider_code": source[:2].upper(), "kind": "files", "connection": {"path": "/nonexistent"},
        "streams": [{"name": "records", "pattern": "*.csv", "primary_key": "id", "person": {"name": "name"},
                     "facts": {fact: fact for fact in facts}}],
    }, Path(f"{source}.yaml")) for source, facts in FACT_NAMES.items()]


def write_resolved_run(lake: Lake, run_id: str, *, dangling_health_fact: bool = False, duplicate_resident: bool = False) -> None:
    """A two-resident resolved run (and its standardised persons), optionally with a planted dataset-level error."""
    residents = [dict(resident_id="R1", id_number=MAN_1980, gender="M"), dict(resident_id="R2", id_number=WOMAN_1975, gender="F")]
    if duplicate_resident:
        residents.append(dict(resident_id="R1", id_number=MAN_1980, gender="M"))
    xref = [dict(record_key="ps:persons:P1", resident_id="R1", match_rule="id_number", run_id=run_id),
            dict(record_key="ps:persons:P2", resident_id="R2", match_rule="id_number", run_id=run_id)]
    write_table(lake.resolved(run_id, "resident"), resident, [dict(r, run_id=run_id) for r in residents])
    write_table(lake.resolved(run_id, "resident_xref"), resident_xref, xref)
    write_table(lake.resolved(run_id, "resident_lineage"), resident_lineage, [dict(resident_id="R1", attribute="name", value="张三")])
    health = [dict(resident_id="R9" if dangling_health_fact else "R1", fact_key=f"health:certificates:{run_id}", certificate_no=run_id)]
    housing = [dict(resident_id="R2", fact_key=f"housing:property:{run_id}", property_address=run_id)]
    write_table(lake.resolved(run_id, "fact_health"), fact_table("health", FACT_NAMES["health"]), health)
    write_table(lake.resolved(run_id, "fact_housing"), fact_table("housing", FACT_NAMES["housing"]), housing)
    persons = pa.table({"record_key": [x["record_key"] for x in xref], "batch_id": ["b1", "b1"]})
    lake.standardised_persons(run_id).mkdir(parents=True, exist_ok=True)
    pq.write_table(persons, lake.standardised_persons(run_id) / "part-00000.parquet")
