"""Read a generated city's department data back in native form (for checks, tests and benchmarks)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import sqlalchemy as sa
from openpyxl import load_workbook

from simulators.departments import public_security
from simulators.departments.housing import RENTAL_SHEET
from simulators.storage import read_jsonl

PRIMARY_KEYS = {
    ("public_security", "persons"): "rkid", ("public_security", "hukou_events"): "sjid",
    ("civil_affairs", "assistance"): "caseId", ("civil_affairs", "marriages"): "partyId", ("civil_affairs", "cremations"): "recordId",
    ("health", "patients"): "id", ("health", "certificates"): "id",
    ("housing", "property"): "登记编号", ("housing", "rental"): "备案号",
}


def read_property_file(path: Path) -> list[dict]:
    """Rows of one property CSV, decoded as UTF-8 when it is, GBK otherwise."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("gbk")
    return list(csv.DictReader(io.StringIO(text)))


def read_rental_file(path: Path) -> list[dict]:
    """Rows of the 租赁备案 sheet of one rental workbook, with cell values as stored (IDs may be floats)."""
    workbook = load_workbook(path, read_only=True)
    try:
        rows = list(workbook[RENTAL_SHEET].iter_rows(values_only=True))
    finally:
        workbook.close()
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[1:]]


def read_department_records(city_dir: Path) -> dict[tuple[str, str], list[dict]]:
    """(source, stream) -> every row as the department holds it; housing rows of all drop files, oldest file first."""
    city_dir = Path(city_dir)
    out: dict[tuple[str, str], list[dict]] = {}
    engine = sa.create_engine(f"sqlite:///{city_dir / 'public_security.db'}")
    try:
        tables = public_security.read_tables(engine)
    finally:
        engine.dispose()
    out[("public_security", "persons")] = tables["rk_person"]
    out[("public_security", "hukou_events")] = tables["rk_event"]
    out[("public_security", "households")] = tables["rk_household"]
    for stream in ("assistance", "marriages", "cremations"):
        out[("civil_affairs", stream)] = read_jsonl(city_dir / "civil_affairs" / f"{stream}.jsonl")
    out[("health", "patients")] = read_jsonl(city_dir / "health" / "patients.jsonl")
    out[("health", "certificates")] = read_jsonl(city_dir / "health" / "observations.jsonl")
    drop = city_dir / "housing_drop"
    out[("housing", "property")] = [row for path in sorted(drop.glob("property_*.csv")) for row in read_property_file(path)]
    out[("housing", "rental")] = [row for path in sorted(drop.glob("rental_*.xlsx")) for row in read_rental_file(path)]
    return out
