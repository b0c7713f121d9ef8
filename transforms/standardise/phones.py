"""Phone numbers: China mobiles (11 digits, `1[3-9]…`) and landlines with their area code.

Cleaned forms: a mobile as its 11 digits (`13800138000`), a landline as `0AC-local`
(`010-12345678`, `0571-87654321`). Country prefixes (+86, 0086) and separators are removed,
an extension (`转123`, `ext 12`) is dropped. Statuses: `valid`, `no_area_code` (a 7–8 digit local
number: the area it belongs to is unknown), `missing`, `malformed`.
"""

from __future__ import annotations

import re
from functools import partial
from typing import NamedTuple

from .status import MALFORMED, MISSING, VALID
from .text import Repairs, drop_junk, fold_width, remove_whitespace, standardiser

NO_AREA_CODE = "no_area_code"
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


@standardiser(missing=PhoneResult(None, MISSING), on_error=PhoneResult(None, MALFORMED, repairs=("unexpected_error",)))
def standardise_phone(text: str) -> PhoneResult:
    """Clean one phone number; never raises."""
    cleaned = Repairs(text)
    cleaned.apply(lambda raw: fold_width(drop_junk(raw)), "full_width")
    cleaned.apply(remove_whitespace, "whitespace")
    cleaned.apply(partial(_EXTENSION.sub, ""), "extension")
    cleaned.apply(partial(_FLOAT_TAIL.sub, ""), "float_suffix")  # a number that went through a spreadsheet
    cleaned.apply(partial(_SEPARATORS.sub, ""), "separators")
    had_country_code = bool(_COUNTRY.match(cleaned.text))
    cleaned.apply(partial(_COUNTRY.sub, ""), "country_code")
    text, repairs = cleaned.text, cleaned.codes
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
