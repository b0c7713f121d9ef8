"""Phone numbers: China mobiles (11 digits, `1[3-9]…`) and landlines with their area code.

Cleaned forms: a mobile as its 11 digits (`13800138000`), a landline as `0AC-local`
(`010-12345678`, `0571-87654321`). Country prefixes (+86, 0086) and separators are removed,
an extension (`转123`, `ext 12`) is dropped. Statuses: `valid`, `no_area_code` (a 7–8 digit local
number: the area it belongs to is unknown), `missing`, `malformed`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .text import as_text, drop_junk, fold_width, is_blank, remove_whitespace

VALID = "valid"
NO_AREA_CODE = "no_area_code"
MISSING = "missing"
MALFORMED = "malformed"
STATUSES = (VALID, NO_AREA_CODE, MISSING, MALFORMED)

MOBILE = "mobile"
LANDLINE = "landline"

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Area codes: 010 and 02X are three characters, all others four; the local number is 7 or 8 digits.
_LANDLINE = re.compile(r"^(010|02\d|0[3-9]\d{2})([2-9]\d{6,7})$")
_LOCAL = re.compile(r"^[2-9]\d{6,7}$")
_EXTENSION = re.compile(r"(?:转|分机|ext\.?|x|#)\d{1,6}$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—−()\[\]（）.·/]")
_FLOAT_TAIL = re.compile(r"(?<=\d)\.0+$")
_COUNTRY = re.compile(r"^(?:\+86|0086|86(?=1[3-9]\d{9}$))")


class PhoneResult(NamedTuple):
    """A cleaned phone number (None unless usable), its status, kind and repairs."""

    phone: str | None
    status: str
    kind: str | None = None
    repairs: tuple[str, ...] = ()


def standardise_phone(raw: object) -> PhoneResult:
    """Clean one phone number; never raises."""
    text = as_text(raw)
    if is_blank(text):
        return PhoneResult(None, MISSING)
    try:
        return _standardise(text)
    except Exception:  # noqa: BLE001 - a standardiser must never stop the pipeline
        return PhoneResult(None, MALFORMED, repairs=("unexpected_error",))


def _standardise(text: str) -> PhoneResult:
    repairs: list[str] = []

    def step(new: str, code: str) -> None:
        nonlocal text
        if new != text:
            repairs.append(code)
            text = new

    step(fold_width(drop_junk(text)), "full_width")
    step(remove_whitespace(text), "whitespace")
    step(_EXTENSION.sub("", text), "extension")
    step(_FLOAT_TAIL.sub("", text), "float_suffix")  # a number that went through a spreadsheet
    step(_SEPARATORS.sub("", text), "separators")
    had_country_code = bool(_COUNTRY.match(text))
    step(_COUNTRY.sub("", text), "country_code")
    if had_country_code and not _MOBILE.match(text) and _LANDLINE.match("0" + text):
        text = "0" + text  # dialled from abroad, a landline's area code loses its trunk 0
    if _MOBILE.match(text):
        return PhoneResult(text, VALID, MOBILE, tuple(repairs))
    landline = _LANDLINE.match(text)
    if landline:
        return PhoneResult(f"{landline.group(1)}-{landline.group(2)}", VALID, LANDLINE, tuple(repairs))
    if _LOCAL.match(text):
        return PhoneResult(None, NO_AREA_CODE, LANDLINE, tuple(repairs))
    return PhoneResult(None, MALFORMED, None, tuple(repairs))
