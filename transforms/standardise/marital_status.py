"""Marital status as `unmarried`, `married`, `widowed` or `divorced` (from Chinese terms or GB/T 2261.2 codes).

A mapping's own code table is applied before this (e.g. public security's `hyzk`), so its output
values arrive here. Statuses: `valid`, `unknown` (the source says it is not stated),
`unrecognised`, `missing`.
"""

from __future__ import annotations

from typing import NamedTuple

from .status import MISSING, UNKNOWN, UNRECOGNISED, VALID, read_code
from .text import compact, standardiser

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


@standardiser(missing=MaritalStatusResult(None, MISSING), on_error=MaritalStatusResult(None, UNRECOGNISED))
def standardise_marital_status(text: str) -> MaritalStatusResult:
    """Read one marital status value; never raises."""
    return MaritalStatusResult(*read_code(compact(text).lower(), _MEANINGS, UNRECOGNISED))
