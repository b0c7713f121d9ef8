"""Dates and timestamps as departments write them; impossible dates are rejected, never guessed.

Accepted: `YYYYMMDD`, `YYYY-MM-DD`, `YYYY/M/D`, `YYYY.M.D`, `YYYY年M月D日`, ISO timestamps (with
`T` or a space, optional fraction and zone), and Excel serial day numbers. Only year-first forms are
read: `03/04/2020` could be March or April, so it is `malformed` rather than a guess.

Statuses: `valid`, `excel_serial` (usable, converted from a spreadsheet serial), `missing`,
`malformed` (not a date format), `impossible` (a date format naming a day that does not exist),
`out_of_range` (a real day before 1880 or after the allowed latest day).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

from .status import MALFORMED, MISSING, VALID
from .text import drop_junk, fold_width, remove_whitespace, standardiser

EXCEL_SERIAL = "excel_serial"
IMPOSSIBLE = "impossible"
OUT_OF_RANGE = "out_of_range"
STATUSES = (VALID, EXCEL_SERIAL, MISSING, MALFORMED, IMPOSSIBLE, OUT_OF_RANGE)
USABLE_STATUSES = frozenset({VALID, EXCEL_SERIAL})

EARLIEST = date(1880, 1, 1)
_EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01, counting Excel's phantom 1900-02-29

_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SEPARATED = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_CHINESE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$")
_TIMESTAMP = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_SERIAL = re.compile(r"^(\d{1,5})(?:\.(\d+))?$")


class DateResult(NamedTuple):
    """A parsed date (None unless usable) and its status."""

    value: date | None
    status: str


class TimestampResult(NamedTuple):
    """A parsed UTC timestamp without tzinfo (None unless usable) and its status."""

    value: datetime | None
    status: str


def _normalise(text: str) -> str:
    return fold_width(drop_junk(text)).strip()


def _checked(year: int, month: int, day: int, latest: date | None) -> DateResult:
    try:
        value = date(year, month, day)
    except ValueError:
        return DateResult(None, IMPOSSIBLE)
    if value < EARLIEST or (latest is not None and value > latest):
        return DateResult(None, OUT_OF_RANGE)
    return DateResult(value, VALID)


def is_typing_slip(written: date, true: date) -> bool:
    """True when `written` is `true` mistyped: day and month swapped, one digit wrong or two adjacent digits swapped (as YYYYMMDD)."""
    if written == true:
        return False
    if (written.year, written.month, written.day) == (true.year, true.day, true.month):
        return True
    a, b = written.strftime("%Y%m%d"), true.strftime("%Y%m%d")
    differ = [i for i in range(8) if a[i] != b[i]]
    return len(differ) == 1 or (len(differ) == 2 and differ[1] == differ[0] + 1 and a[differ[0]] == b[differ[1]] and a[differ[1]] == b[differ[0]])


def _from_excel_serial(whole: int, latest: date | None) -> DateResult:
    if whole == 60:
        return DateResult(None, IMPOSSIBLE)  # Excel's 1900-02-29, a day that never was
    value = _EXCEL_EPOCH + timedelta(days=whole if whole > 60 else whole + 1)
    if value < EARLIEST or (latest is not None and value > latest):
        return DateResult(None, OUT_OF_RANGE)
    return DateResult(value, EXCEL_SERIAL)


@standardiser(missing=DateResult(None, MISSING), on_error=DateResult(None, MALFORMED))
def parse_date(text: str, latest: date | None = None, excel_serials: bool = True) -> DateResult:
    """Parse one date; `latest` rejects later days (e.g. today for birth dates); never raises."""
    return _parse_date(text, latest, excel_serials)


def _parse_date(text: str, latest: date | None, excel_serials: bool) -> DateResult:
    text = _normalise(text)
    match = _TIMESTAMP.match(text)
    if match:
        # The day as written: a date field means the calendar day, whatever the clock's zone.
        if _timestamp_from_match(match).value is None:
            return DateResult(None, IMPOSSIBLE)
        return _checked(int(match.group(1)), int(match.group(2)), int(match.group(3)), latest)
    text = remove_whitespace(text)
    for pattern in (_COMPACT, _SEPARATED, _CHINESE):
        match = pattern.match(text)
        if match:
            return _checked(*(int(part) for part in match.groups()), latest)
    match = _SERIAL.match(text)
    # A bare 1880–2100 is a year with no day, not a 1905 serial: refuse it rather than guess.
    looks_like_year = match is not None and len(match.group(1)) == 4 and EARLIEST.year <= int(match.group(1)) <= 2100
    if match and excel_serials and int(match.group(1)) > 0 and not looks_like_year:
        return _from_excel_serial(int(match.group(1)), latest)
    return DateResult(None, MALFORMED)


def _timestamp_from_match(match: re.Match) -> TimestampResult:
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
    except ValueError:
        return TimestampResult(None, IMPOSSIBLE)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        value = value - sign * offset  # to UTC; a time without a zone is taken as UTC, like the lake's
    return TimestampResult(value, VALID)


@standardiser(missing=TimestampResult(None, MISSING), on_error=TimestampResult(None, MALFORMED))
def parse_timestamp(text: str) -> TimestampResult:
    """Parse a timestamp (or a bare date, taken as its midnight) to naive UTC; never raises."""
    normalised = _normalise(text)
    match = _TIMESTAMP.match(normalised)
    if match:
        return _timestamp_from_match(match)
    day = _parse_date(normalised, None, excel_serials=False)
    if day.value is None:
        return TimestampResult(None, day.status)
    return TimestampResult(datetime(day.value.year, day.value.month, day.value.day), day.status)


def today_utc() -> date:
    """Today's date in UTC (the latest possible birth or death date)."""
    return datetime.now(timezone.utc).date()
