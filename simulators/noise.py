"""Data-entry noise that department systems really show, at configurable rates, logged for the truth files."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields, replace
from datetime import date

from simulators.idnumber import to_legacy_15
from simulators.names import homophone, traditional

_FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@dataclass(frozen=True)
class NoiseProfile:
    """Per-kind rates: the share of eligible person records that get each kind of noise."""

    name: str = "default"
    id_missing: float = 0.02
    id_legacy15: float = 0.03  # people born before 2000 only
    id_lowercase_x: float = 0.30  # of numbers ending in X
    id_fullwidth: float = 0.01
    id_spaces: float = 0.015  # stray spaces or hyphens
    id_typo: float = 0.01  # one digit wrong
    id_transposition: float = 0.008  # two adjacent digits swapped
    id_excel: float = 0.05  # file drops only: last three digits 000 or scientific notation
    name_traditional: float = 0.02
    name_homophone: float = 0.015
    date_swap: float = 0.01  # day and month swapped (when both are <= 12)
    stale_phone: float = 0.5  # of people who changed phone
    stale_address: float = 0.5  # of people who moved
    duplicate: float = 0.01  # the same person entered twice with different record ids
    authority_scale: float = 0.2  # the hukou register is cleaner: its rates are multiplied by this

    def scaled(self, factor: float) -> "NoiseProfile":
        """The same profile with every rate multiplied by `factor` (capped at 1)."""
        rates = {f.name: min(1.0, getattr(self, f.name) * factor) for f in fields(self) if f.name not in ("name", "authority_scale")}
        return replace(self, **rates)


def noise_profile(name: str) -> NoiseProfile:
    """The named profile: `none`, `default` or `hard`."""
    if name == "none":
        return NoiseProfile(name="none").scaled(0.0)
    if name == "default":
        return NoiseProfile()
    if name == "hard":
        return replace(NoiseProfile().scaled(2.5), name="hard", id_lowercase_x=0.6, stale_phone=0.8, stale_address=0.8)
    raise ValueError(f"unknown noise profile {name!r}; use none, default or hard")


ID_KINDS = ("id_missing", "id_legacy15", "id_lowercase_x", "id_fullwidth", "id_spaces", "id_typo", "id_transposition", "id_excel")


@dataclass
class NoiseLog:
    """Every change made to a true value: record_key, field, kind, true value, value as written."""

    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    def add(self, record_key: str, field_name: str, kind: str, true_value: object, noisy: object) -> None:
        self.rows.append((record_key, field_name, kind, "" if true_value is None else str(true_value), "" if noisy is None else str(noisy)))


class Noiser:
    """Applies a profile's noise to one department's values, logging each change."""

    def __init__(self, rng: random.Random, profile: NoiseProfile, log: NoiseLog, excel: bool = False, scale: float = 1.0):
        self.rng = rng
        self.profile = profile.scaled(scale) if scale != 1.0 else profile
        self.log = log
        self.excel = excel

    def hit(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def id_number(self, key: str, field_name: str, value: str, birth: date) -> str | None:
        """The ID number as a clerk typed it: at most one kind of error per record."""
        p, rng = self.profile, self.rng
        kinds = [kind for kind in ID_KINDS if kind != "id_excel" or self.excel]
        rng.shuffle(kinds)  # so no kind shadows another's rate systematically
        for kind in kinds:
            rate = getattr(p, kind)
            if kind == "id_legacy15" and birth.year >= 2000:
                continue
            if kind == "id_lowercase_x" and not value.endswith("X"):
                continue
            if not self.hit(rate):
                continue
            noisy = _ID_NOISE[kind](rng, value)
            if noisy != value:
                self.log.add(key, field_name, kind, value, noisy)
                return noisy
        return value

    def name(self, key: str, field_name: str, value: str) -> str:
        """The name, sometimes in traditional characters or with a homophone."""
        if self.hit(self.profile.name_traditional):
            noisy = traditional(value)
            if noisy != value:
                self.log.add(key, field_name, "name_traditional", value, noisy)
                return noisy
        if self.hit(self.profile.name_homophone):
            noisy = homophone(self.rng, value)
            if noisy != value:
                self.log.add(key, field_name, "name_homophone", value, noisy)
                return noisy
        return value

    def date(self, key: str, field_name: str, value: date | None, fmt) -> str:
        """The date formatted by `fmt`, sometimes with day and month swapped."""
        if value is None:
            return ""
        if value.day <= 12 and value.day != value.month and self.hit(self.profile.date_swap):
            swapped = value.replace(month=value.day, day=value.month)
            self.log.add(key, field_name, "date_swap", fmt(value), fmt(swapped))
            return fmt(swapped)
        return fmt(value)

    def phone(self, key: str, field_name: str, current: str | None, old: str | None) -> str | None:
        """The phone on file: sometimes the one the person no longer uses."""
        if old and self.hit(self.profile.stale_phone):
            self.log.add(key, field_name, "stale_phone", current, old)
            return old
        return current

    def address(self, key: str, field_name: str, current: str, previous: str | None) -> str:
        """The address on file: sometimes the one the person moved away from."""
        if previous and self.hit(self.profile.stale_address):
            self.log.add(key, field_name, "stale_address", current, previous)
            return previous
        return current

    def duplicate(self) -> bool:
        """Whether this record is entered a second time under another record id."""
        return self.hit(self.profile.duplicate)


def _missing(rng: random.Random, value: str) -> str | None:
    return None


def _legacy15(rng: random.Random, value: str) -> str:
    return to_legacy_15(value)


def _lowercase_x(rng: random.Random, value: str) -> str:
    return value[:-1] + "x"


def _fullwidth(rng: random.Random, value: str) -> str:
    return value.translate(_FULL_WIDTH)


def _spaces(rng: random.Random, value: str) -> str:
    style = rng.choice(("groups", "hyphens", "padding"))
    if style == "groups":
        return f"{value[:6]} {value[6:14]} {value[14:]}"
    if style == "hyphens":
        return f"{value[:6]}-{value[6:14]}-{value[14:]}"
    return f" {value} "


def _typo(rng: random.Random, value: str) -> str:
    i = rng.randrange(17)
    digit = str((int(value[i]) + rng.randint(1, 9)) % 10)
    return value[:i] + digit + value[i + 1:]


def _transposition(rng: random.Random, value: str) -> str:
    candidates = [i for i in range(16) if value[i] != value[i + 1]]
    i = rng.choice(candidates)
    return value[:i] + value[i + 1] + value[i] + value[i + 2:]


def _excel(rng: random.Random, value: str) -> str:
    if value.endswith("X"):  # Excel keeps a number with an X as text
        return value
    if rng.random() < 0.5:
        return value[:15] + "000"
    return f"{int(value):.8E}".replace("E+", "E+")


_ID_NOISE = {
    "id_missing": _missing, "id_legacy15": _legacy15, "id_lowercase_x": _lowercase_x, "id_fullwidth": _fullwidth,
    "id_spaces": _spaces, "id_typo": _typo, "id_transposition": _transposition, "id_excel": _excel,
}
