"""Gender as `M` / `F`: GB/T 2261.1 codes (1/2), 男/女, M/F, male/female, and a mapping's own codes.

Statuses: `valid`, `unknown` (the source says it does not know: GB/T 2261.1 `0` 未知 and `9`
未说明), `missing`, `malformed` (anything else).
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

from .text import as_text, drop_junk, fold_width, is_blank, remove_whitespace

VALID = "valid"
UNKNOWN = "unknown"
MISSING = "missing"
MALFORMED = "malformed"
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


def standardise_gender(raw: object, codes: Mapping[str, str] | None = None) -> GenderResult:
    """Read one gender value, first through the mapping's code table if it has one; never raises."""
    text = as_text(raw)
    if is_blank(text):
        return GenderResult(None, MISSING)
    try:
        key = remove_whitespace(fold_width(drop_junk(text)))
        if codes and key in codes:
            key = remove_whitespace(str(codes[key]))
        key = key.lower().removesuffix(".0")  # a code read from a spreadsheet as 1.0
        if key not in _MEANINGS:
            return GenderResult(None, MALFORMED)
        meaning = _MEANINGS[key]
        return GenderResult(meaning, VALID if meaning else UNKNOWN)
    except Exception:  # noqa: BLE001 - a standardiser must never stop the pipeline
        return GenderResult(None, MALFORMED)
