"""Marital status as `unmarried`, `married`, `widowed` or `divorced` (from Chinese terms or GB/T 2261.2 codes).

A mapping's own code table is applied before this (e.g. public security's `hyzk`), so its output
values arrive here. Statuses: `valid`, `unknown` (the source says it is not stated),
`unrecognised`, `missing`.
"""

from __future__ import annotations

from typing import NamedTuple

from .text import as_text, drop_junk, fold_width, is_blank, remove_whitespace

VALID = "valid"
UNKNOWN = "unknown"
UNRECOGNISED = "unrecognised"
MISSING = "missing"
STATUSES = (VALID, UNKNOWN, UNRECOGNISED, MISSING)
VALUES = ("unmarried", "married", "widowed", "divorced")

_MEANINGS: dict[str, str | None] = {
    **{value: value for value in VALUES},
    "single": "unmarried", "未婚": "unmarried", "10": "unmarried",
    "已婚": "married", "初婚": "married", "再婚": "married", "复婚": "married", "有配偶": "married",
    "20": "married", "21": "married", "22": "married", "23": "married",
    "丧偶": "widowed", "30": "widowed",
    "离婚": "divorced", "离异": "divorced", "40": "divorced",
    "未说明": None, "不详": None, "90": None, "unknown": None,
}


class MaritalStatusResult(NamedTuple):
    """The canonical marital status (None unless known) and the status of the reading."""

    marital_status: str | None
    status: str


def standardise_marital_status(raw: object) -> MaritalStatusResult:
    """Read one marital status value; never raises."""
    text = as_text(raw)
    if is_blank(text):
        return MaritalStatusResult(None, MISSING)
    try:
        key = remove_whitespace(fold_width(drop_junk(text))).lower()
        if key not in _MEANINGS:
            return MaritalStatusResult(None, UNRECOGNISED)
        meaning = _MEANINGS[key]
        return MaritalStatusResult(meaning, VALID if meaning else UNKNOWN)
    except Exception:  # noqa: BLE001 - a standardiser must never stop the pipeline
        return MaritalStatusResult(None, UNRECOGNISED)
