"""Dates and timestamps: every accepted form, impossible days rejected with a reason, nothing guessed."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from transforms.standardise.dates import is_typing_slip, parse_date, parse_timestamp

LATEST = date(2025, 6, 1)


@pytest.mark.parametrize("raw", [
    "19900307", "1990-03-07", "1990/3/7", "1990/03/07", "1990.3.7", "1990年3月7日", "1990年03月07日", "1990年3月7号",
    "1990-03-07T10:20:30Z", "1990-03-07T10:20:30.123+08:00", "1990-03-07 10:20:30", "1990-03-07T23:59",
    " 1990-03-07 ", "１９９０－０３－０７", "32939", "32939.0", 19900307,
])
def test_accepted_forms(raw):
    result = parse_date(raw, latest=LATEST)
    assert result.value == date(1990, 3, 7)
    assert result.status in ("valid", "excel_serial")


def test_excel_serials_are_marked():
    assert parse_date("32939") == (date(1990, 3, 7), "excel_serial")
    assert parse_date("61") == (date(1900, 3, 1), "excel_serial")
    assert parse_date("59") == (date(1900, 2, 28), "excel_serial")


def test_excel_serials_can_be_refused():
    assert parse_date("32939", excel_serials=False).status == "malformed"


def test_a_timestamps_date_is_the_day_as_written():
    # a date field means the calendar day written, not that instant's day in UTC
    assert parse_date("2024-03-01T06:30:00+08:00").value == date(2024, 3, 1)


@pytest.mark.parametrize("raw", ["19900230", "1990-02-30", "1990/13/1", "2023年2月29日", "1990-00-10", "60", "2024-02-30T00:00:00Z", "1990-03-07T25:00:00"])
def test_impossible_days(raw):
    assert parse_date(raw, latest=LATEST) == (None, "impossible")


def test_leap_days_that_exist():
    assert parse_date("2024-02-29").value == date(2024, 2, 29)


@pytest.mark.parametrize("raw", ["1850-01-01", "2025-06-02", "20991231"])
def test_out_of_range(raw):
    assert parse_date(raw, latest=LATEST) == (None, "out_of_range")


@pytest.mark.parametrize("raw", ["03/07/1990", "07.03.1990", "90-03-07", "March 7 1990", "1990", "abc", "1990-03", "0", "-5", "1990-03-07-01"])
def test_malformed(raw):
    assert parse_date(raw, latest=LATEST) == (None, "malformed")


@pytest.mark.parametrize("raw", [None, "", "   ", float("nan")])
def test_missing(raw):
    assert parse_date(raw) == (None, "missing")


@pytest.mark.parametrize("raw, expected", [
    ("2024-03-01T08:00:00Z", datetime(2024, 3, 1, 8)),
    ("2024-03-01T08:00:00+08:00", datetime(2024, 3, 1, 0)),
    ("2024-03-01T08:00:00-0130", datetime(2024, 3, 1, 9, 30)),
    ("2024-03-01 08:00:00", datetime(2024, 3, 1, 8)),
    ("2024-03-01T08:00:00.5Z", datetime(2024, 3, 1, 8, 0, 0, 500000)),
    ("20240301T080000Z", datetime(2024, 3, 1, 8)),
    ("2024-03-01", datetime(2024, 3, 1)),
    ("2024年3月1日", datetime(2024, 3, 1)),
])
def test_timestamps_to_naive_utc(raw, expected):
    assert parse_timestamp(raw) == (expected, "valid")


@pytest.mark.parametrize("raw, status", [("2024-02-30T00:00:00Z", "impossible"), ("yesterday", "malformed"), (None, "missing"), ("45000", "malformed")])
def test_unusable_timestamps(raw, status):
    assert parse_timestamp(raw) == (None, status)


@pytest.mark.parametrize("written, slip", [
    (date(1990, 7, 3), True),    # day and month swapped
    (date(1990, 3, 8), True),    # one digit
    (date(1909, 3, 7), True),    # two adjacent digits swapped (1990 → 1909)
    (date(1991, 4, 7), False),   # two digits apart
    (date(2015, 6, 1), False),   # someone else's date
    (date(1990, 3, 7), False),   # no slip at all
])
def test_typing_slips_of_a_date(written, slip):
    assert is_typing_slip(written, date(1990, 3, 7)) is slip
