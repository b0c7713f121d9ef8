"""Housing (住建/不动产) system: daily property CSV drops (GBK) and rental filing workbooks (XLSX)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

from simulators.departments.common import RenderContext, fmt_slash, fmt_timestamp
from simulators.events import World

SOURCE = "housing"
PROPERTY_COLUMNS = ("登记编号", "不动产单元号", "权利人", "证件类型", "证件号码", "共有情况", "房屋坐落", "建筑面积", "登记日期", "更新时间")
RENTAL_COLUMNS = ("备案号", "承租人", "性别", "身份证号", "出生日期", "联系电话", "租赁地址", "户籍地址", "备案日期", "到期日期", "更新时间")
RENTAL_SHEET = "租赁备案"
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


@dataclass
class HousingRows:
    """Rows of each stream with the day of the drop file they land in."""

    property: list[tuple[date, dict]] = field(default_factory=list)
    rental: list[tuple[date, dict]] = field(default_factory=list)


def drop_day(updated: datetime, first_drop: date) -> date:
    """The daily file a row lands in: everything older than the first drop goes into the first (full) file."""
    return max(first_drop, updated.date())


def excel_number(value: str | None, true_value: str) -> object:
    """What Excel made of an ID typed into a numeric cell: a float, when the text was a mangled number."""
    if value and value != true_value and re.fullmatch(r"\d{15}000|\d\.\d+E\+17", value):
        return float(value)
    return value


def render_property(world: World, ctx: RenderContext, rows: HousingRows, first_drop: date) -> None:
    """One row per right holder of each property registration."""
    noiser = ctx.noiser(excel=True)
    for item in world.properties:
        person = world.persons[item.person_id]
        certificate = f"浙({item.registration_date.year})杭州市不动产权第{item.certificate_no:07d}号"
        copies = 2 if noiser.duplicate() else 1
        for copy in range(copies):
            record_id = certificate if copy == 0 else f"浙({item.registration_date.year})杭州市不动产权第{item.certificate_no + 5_000_000:07d}号"
            key = ctx.truth.record(SOURCE, "property", record_id, person.person_id)
            if copy == 0:
                ctx.truth.remember("property", item.certificate_no, key)
            else:
                ctx.truth.duplicates.append((person.person_id, ctx.truth.index["property"][item.certificate_no], key))
            updated = ctx.updated_at(not_before=item.registration_date)
            rows.property.append((drop_day(updated, first_drop), {
                "登记编号": record_id, "不动产单元号": item.unit_no,
                "权利人": noiser.name(key, "权利人", person.name), "证件类型": "居民身份证",
                "证件号码": noiser.id_number(key, "证件号码", person.id_number, person.birth_date) or "",
                "共有情况": item.co_ownership, "房屋坐落": item.address, "建筑面积": item.area,
                "登记日期": fmt_slash(item.registration_date), "更新时间": fmt_timestamp(updated),
            }))


def render_rental(world: World, ctx: RenderContext, rows: HousingRows, first_drop: date) -> None:
    """One row per tenant of each rental filing."""
    noiser = ctx.noiser(excel=True)
    for item in world.rentals:
        person = world.persons[item.person_id]
        record_id = item.record_id or f"ZL{person.current_admin_code}{item.filing_date.year}{item.filing_no:05d}"
        key = ctx.truth.record(SOURCE, "rental", record_id, person.person_id)
        ctx.truth.remember("rental", item.filing_no, key)
        updated = ctx.updated_at(not_before=item.filing_date)
        rows.rental.append((drop_day(updated, first_drop), {
            "备案号": record_id, "承租人": noiser.name(key, "承租人", person.name), "性别": person.gender,
            "身份证号": excel_number(noiser.id_number(key, "身份证号", person.id_number, person.birth_date), person.id_number),
            "出生日期": noiser.date(key, "出生日期", person.birth_date, fmt_slash),
            "联系电话": noiser.phone(key, "联系电话", person.phone, person.old_phone),
            "租赁地址": item.address, "户籍地址": person.hukou_address,
            "备案日期": fmt_slash(item.filing_date), "到期日期": fmt_slash(item.expiry_date), "更新时间": fmt_timestamp(updated),
        }))


def render_housing(world: World, ctx: RenderContext, drop_days: int = 3) -> HousingRows:
    """Both housing streams, spread over the last `drop_days` daily files."""
    rows = HousingRows()
    first_drop = world.today - timedelta(days=drop_days - 1)
    render_property(world, ctx, rows, first_drop)
    render_rental(world, ctx, rows, first_drop)
    return rows


def write_property_csv(path: Path, rows: list[dict], encoding: str) -> None:
    """A property drop file; the bureau's exporter writes GBK (the last days' exporter UTF-8)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PROPERTY_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_rental_xlsx(path: Path, rows: list[dict]) -> None:
    """A rental drop workbook with the sheet 租赁备案, byte-identical for the same rows."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = RENTAL_SHEET
    sheet.append(list(RENTAL_COLUMNS))
    for row in rows:
        sheet.append([row[column] for column in RENTAL_COLUMNS])
    fixed = datetime(*FIXED_ZIP_TIME)
    workbook.properties.creator = "住建局租赁备案系统"
    workbook.properties.created = fixed
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(normalise_xlsx(buffer.getvalue()))


def normalise_xlsx(data: bytes) -> bytes:
    """Fix the zip entry times and the document's modified time so the same content gives the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>2026-01-01T00:00:00Z\g<2>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, content)
    return out.getvalue()


def write_housing(rows: HousingRows, drop_dir: Path, days: list[date] | None = None, utf8_days: tuple[date, ...] = ()) -> dict[str, dict]:
    """Write one property CSV and one rental XLSX per drop day; return file name -> {rows, encoding}."""
    drop_dir.mkdir(parents=True, exist_ok=True)
    days = days or sorted({day for day, _ in rows.property} | {day for day, _ in rows.rental})
    files: dict[str, dict] = {}
    for day in days:
        property_rows = sorted((r for d, r in rows.property if d == day), key=lambda r: (r["更新时间"], r["登记编号"]))
        rental_rows = sorted((r for d, r in rows.rental if d == day), key=lambda r: (r["更新时间"], r["备案号"]))
        encoding = "utf-8" if day in utf8_days else "gbk"
        name = f"property_{day:%Y%m%d}.csv"
        write_property_csv(drop_dir / name, property_rows, encoding)
        files[name] = {"rows": len(property_rows), "encoding": encoding}
        name = f"rental_{day:%Y%m%d}.xlsx"
        write_rental_xlsx(drop_dir / name, rental_rows)
        files[name] = {"rows": len(rental_rows), "encoding": "xlsx"}
    return files
