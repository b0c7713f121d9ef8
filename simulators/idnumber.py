"""Resident ID numbers (GB 11643-1999): build valid 18-digit numbers and their 15-digit legacy form."""

from __future__ import annotations

import random
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS))
    return _CHECK_CHARS[total % 11]


def make_id_number(region: str, birth: date, sequence: int) -> str:
    """An 18-digit ID number; `sequence` (0..999) is odd for men and even for women."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


def is_valid_id_number(value: str) -> bool:
    """True for a well-formed 18-digit number with a correct check character."""
    return len(value) == 18 and value[:17].isdigit() and check_char(value[:17]) == value[17]


def to_legacy_15(id_number: str) -> str:
    """The 15-digit form issued before 1999: no century digits, no check character."""
    return id_number[:6] + id_number[8:17]


def sequence_for(gender: str, draw: int) -> int:
    """A sequence number 0..999 whose parity matches the gender ('M' odd, 'F' even)."""
    base = (draw % 500) * 2
    return base + 1 if gender == "M" else base


def unused_id_number(rng: random.Random, used: set[str], region: str, birth: date, gender: str) -> str:
    """A valid ID number of that region, birth date and gender not in `used` (added to it)."""
    while True:
        number = make_id_number(region, birth, sequence_for(gender, rng.randrange(500)))
        if number not in used:
            used.add(number)
            return number
