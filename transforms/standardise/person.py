"""One source record's raw person fields → the canonical person fields (pure Python, row and batch).

The same function serves the unit tests and Spark (through the pandas UDF in `udfs.py`), so what
is tested is what runs. Repairs are recorded as `field:code`; anything that is not a repair but
should be looked at (a value that could not be read, a gender disagreeing with the ID number's
parity) is recorded in `flags` the same way.
"""

from __future__ import annotations

from datetime import date
from typing import Iterable, Mapping

import pandas as pd

from .addresses import standardise_address
from .dates import USABLE_STATUSES as USABLE_DATE, is_typing_slip, parse_date, parse_timestamp, today_utc
from .ethnicity import standardise_ethnicity
from .gender import standardise_gender
from .id_number import (
    USABLE_STATUSES as USABLE_ID, birth_date_from_prefix, embedded_date, gender_from_id, has_zero_tail, standardise_id_number,
)
from .marital_status import standardise_marital_status
from .names import standardise_name
from .phones import standardise_phone
from .status import MISSING, REPAIRED, VALID

RAW_FIELDS = (
    "id_number", "name", "gender", "birth_date", "phone", "address",
    "ethnicity", "marital_status", "death_date", "source_updated_at",
)

# Output columns and their Spark SQL types (the UDF's struct follows this order).
PERSON_FIELDS: tuple[tuple[str, str], ...] = (
    ("id_number", "string"), ("id_status", "string"),
    ("name", "string"), ("name_pinyin", "string"), ("name_initials", "string"),
    ("gender", "string"), ("birth_date", "date"), ("phone", "string"),
    ("address", "string"), ("admin_code", "string"), ("address_detail", "string"),
    ("ethnicity", "string"), ("marital_status", "string"), ("death_date", "date"),
    ("source_updated_at", "timestamp"), ("repairs", "string"), ("flags", "string"),
)
PERSON_COLUMNS = tuple(name for name, _ in PERSON_FIELDS)

_QUIET_STATUSES = {VALID, MISSING}
ZERO_TAIL_FLAG = "id_number:zero_tail"
BIRTH_DATE_MISMATCH_FLAG = "birth_date:id_number_mismatch"
BIRTH_DATE_SLIP_FLAG = "birth_date:typing_slip_of_id_number"
BIRTH_DATE_FROM_ID_REPAIR = "birth_date:from_id_number"
GENDER_FROM_ID_REPAIR = "gender:from_id_number"
# The canonical fields standardisation may read from the record's ID number, with the repair saying so.
FROM_ID_REPAIRS = {"birth_date": BIRTH_DATE_FROM_ID_REPAIR, "gender": GENDER_FROM_ID_REPAIR}


def _note(notes: list[str], field: str, codes: Iterable[str]) -> None:
    notes.extend(f"{field}:{code}" for code in codes)


def standardise_person(raw: Mapping[str, object], today: date | None = None) -> dict[str, object]:
    """Canonical person fields for one record's raw values (keys of RAW_FIELDS); never raises."""
    today = today or today_utc()
    repairs: list[str] = []
    flags: list[str] = []

    def flag(field: str, status: str) -> None:
        if status not in _QUIET_STATUSES:
            flags.append(f"{field}:{status}")

    ident = standardise_id_number(raw.get("id_number"), today)
    _note(repairs, "id_number", ident.repairs)
    usable_id = ident.id_number if ident.status in USABLE_ID else None
    # A usable number ending in 000 may be a spreadsheet's zeroed tail that happens to pass the
    # checksum: its sequence digits (and so its gender) cannot be trusted, and matching doubts it.
    zero_tail = bool(usable_id) and has_zero_tail(usable_id)
    if zero_tail:
        flags.append(ZERO_TAIL_FLAG)

    name = standardise_name(raw.get("name"))
    _note(repairs, "name", name.repairs)
    flag("name", VALID if name.status == REPAIRED else name.status)

    gender = standardise_gender(raw.get("gender"))
    flag("gender", gender.status)
    gender_value = gender.gender
    id_gender = gender_from_id(usable_id) if usable_id and not zero_tail else None
    if gender_value is None and id_gender:
        gender_value = id_gender
        repairs.append(GENDER_FROM_ID_REPAIR)
    elif gender_value and id_gender and gender_value != id_gender:
        flags.append("gender:id_number_mismatch")

    birth = parse_date(raw.get("birth_date"), latest=today)
    flag("birth_date", birth.status if birth.status not in USABLE_DATE else VALID)
    birth_value = birth.value
    id_birth = embedded_date(usable_id, today) if usable_id else None
    if birth_value is None and id_birth:
        birth_value = id_birth
        repairs.append(BIRTH_DATE_FROM_ID_REPAIR)
    elif birth_value is None and ident.status == "excel_mangled":
        birth_value = birth_date_from_prefix(raw.get("id_number"), today)
        if birth_value:
            repairs.append("birth_date:from_id_number_prefix")
    elif birth_value and id_birth and birth_value != id_birth:
        flags.append(BIRTH_DATE_MISMATCH_FLAG)
        if is_typing_slip(birth_value, id_birth):
            # A slip of the birth date field, not someone else's number: the number can still anchor.
            flags.append(BIRTH_DATE_SLIP_FLAG)
    if birth.status == "excel_serial":
        repairs.append("birth_date:excel_serial")

    phone = standardise_phone(raw.get("phone"))
    _note(repairs, "phone", phone.repairs)
    flag("phone", phone.status)

    address = standardise_address(raw.get("address"))
    if address.status != "county":
        flag("address", address.status)

    ethnicity = standardise_ethnicity(raw.get("ethnicity"))
    flag("ethnicity", ethnicity.status if ethnicity.status != REPAIRED else VALID)
    if ethnicity.status == REPAIRED:
        repairs.append("ethnicity:expanded")

    marital = standardise_marital_status(raw.get("marital_status"))
    flag("marital_status", marital.status)

    death = parse_date(raw.get("death_date"), latest=today)
    flag("death_date", death.status if death.status not in USABLE_DATE else VALID)
    if birth_value and death.value and death.value < birth_value:
        flags.append("death_date:before_birth")

    updated = parse_timestamp(raw.get("source_updated_at"))
    flag("source_updated_at", updated.status if updated.status not in USABLE_DATE else VALID)

    return {
        "id_number": usable_id, "id_status": ident.status,
        "name": name.name, "name_pinyin": name.pinyin, "name_initials": name.initials,
        "gender": gender_value, "birth_date": birth_value, "phone": phone.phone,
        "address": address.address, "admin_code": address.admin_code, "address_detail": address.detail,
        "ethnicity": ethnicity.ethnicity, "marital_status": marital.marital_status,
        "death_date": death.value, "source_updated_at": updated.value,
        "repairs": ",".join(repairs) or None, "flags": ",".join(flags) or None,
    }


def standardise_persons(raw: pd.DataFrame, today: date | None = None) -> pd.DataFrame:
    """The batch form: one output row per input row, columns PERSON_COLUMNS (missing inputs read as null)."""
    today = today or today_utc()
    fields = [raw[name] if name in raw.columns else pd.Series([None] * len(raw), index=raw.index) for name in RAW_FIELDS]
    rows = [standardise_person(dict(zip(RAW_FIELDS, values)), today) for values in zip(*fields)]
    return pd.DataFrame(rows, columns=list(PERSON_COLUMNS), index=raw.index)
