"""Gender as `M` / `F`: GB/T 2261.1 codes (1/2), 男/女, M/F, male/female, and a mapping's own codes.

Statuses: `valid`, `unknown` (the source says it does not know: GB/T 2261.1 `0` 未知 and `9`
未说明), `missing`, `malformed` (anything else).
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

from .status import MALFORMED, MISSING, UNKNOWN, VALID, read_code
from .text import compact, remove_whitespace, standardiser

STATUSES = (VALID, UNKNOWN, MISSING, MALFORMED)

_MEANINGS: dict[str, str | None] = {
    "1": "M", "m": "M", "male": "M", "man": "M", "男": "M", "男性": "M", "男士": "M", "先生": "M",
    "2": "F", "f": "F", "female": "F", "woman": "F", "女": "F", "女性": "F", "女士": "F",
    "0": None, "9": None, "u": None, "unknown": None, "未知": None, "未说明": None, "不详": None,
    "other": None, "其他": None,
}


class GenderResult(NamedTuple):
    """`M`, `F` or None, and the status."""

    gender: str | None
    status: str


@standardiser(missing=GenderResult(None, MISSING), on_error=GenderResult(None, MALFORMED))
def standardise_gender(text: str, codes: Mapping[str, str] | None = None) -> GenderResult:
    """Read one gender value, first through the mapping's code table if it has one; never raises."""
    key = compact(text)
    if codes and key in codes:
        key = remove_whitespace(str(codes[key]))
    key = key.lower().removesuffix(".0")  # a code read from a spreadsheet as 1.0
    return GenderResult(*read_code(key, _MEANINGS, MALFORMED))
