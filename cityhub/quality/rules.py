"""The row rules behind the domain expectations, in plain Python and as pandas Series functions.

Kept apart from the GX classes on purpose: Spark pickles the Series functions into its Python workers,
which then import only this module (pandas and the standardisers), not Great Expectations.
"""

from __future__ import annotations

from collections.abc import Callable
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
