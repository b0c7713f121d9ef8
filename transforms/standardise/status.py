"""The status words the standardisers share, spelt once, and reading a value through a code table.

Every standardiser reports how its reading went; `person.py` and the quality checks compare these
words across fields, so a `valid` or `missing` must mean the same everywhere. Statuses that only
one field has (`upgraded_15`, `no_area_code`, …) live with their standardiser.
"""

from __future__ import annotations

from typing import Mapping

VALID = "valid"
REPAIRED = "repaired"
MISSING = "missing"
MALFORMED = "malformed"
UNKNOWN = "unknown"
UNRECOGNISED = "unrecognised"


def read_code(key: str, meanings: Mapping[str, str | None], unrecognised: str) -> tuple[str | None, str]:
    """The meaning of `key` and the reading's status: `valid`, `unknown`, or the caller's `unrecognised`.

    A table maps a value to None where the value itself says the source does not know (GB/T 2261's
    `未说明`, `9`), which is `unknown` rather than a failure to read it.
    """
    if key not in meanings:
        return None, unrecognised
    meaning = meanings[key]
    return meaning, VALID if meaning else UNKNOWN
