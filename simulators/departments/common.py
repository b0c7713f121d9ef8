"""What every department renderer shares: the truth it records, timestamps, date formats, gender codes."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from simulators.noise import NoiseLog, NoiseProfile, Noiser


@dataclass
class Truth:
    """Ground truth gathered while rendering: which person each source record and fact row is about."""

    records: list[tuple[str, str, str, str]] = field(default_factory=list)  # source, stream, id, person_id
    facts: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # source, stream, id, subject key, person_id
    noise: NoiseLog = field(default_factory=NoiseLog)
    duplicates: list[tuple[str, str, str]] = field(default_factory=list)  # person_id, first key, duplicate key
    parent_id_on_child: list[dict] = field(default_factory=list)
    index: dict[str, dict] = field(default_factory=dict)  # kind -> item (case no, person id...) -> first record key

    def remember(self, kind: str, item: object, key: str) -> None:
        """Remember the first record key rendered for an item, for the planted-case list."""
        self.index.setdefault(kind, {}).setdefault(item, key)

    def record(self, source: str, stream: str, record_id: str, person_id: str) -> str:
        """Note a person record and return its record key."""
        self.records.append((source, stream, record_id, person_id))
        return record_key(source, stream, record_id)

    def fact(self, source: str, stream: str, record_id: str, subject_key: str, person_id: str) -> None:
        """Note a fact-only row about the person record `subject_key`."""
        self.facts.append((source, stream, record_id, subject_key, person_id))


def record_key(source: str, stream: str, record_id: str) -> str:
    """`<source>:<stream>:<source_record_id>`, as in the canonical record."""
    return f"{source}:{stream}:{record_id}"


@dataclass
class RenderContext:
    """The rendering state of one department: its random stream, its noise, the truth being gathered."""

    rng: random.Random
    profile: NoiseProfile
    truth: Truth
    today: date

    def noiser(self, excel: bool = False, scale: float = 1.0) -> Noiser:
        return Noiser(self.rng, self.profile, self.truth.noise, excel=excel, scale=scale)

    def updated_at(self, not_before: date | None = None, not_after: date | None = None) -> datetime:
        """A last-update time in the year before today, never before the event it records."""
        end = datetime.combine(not_after or self.today, time(23, 59, 59))
        start = datetime.combine(self.today - timedelta(days=365), time(0, 0, 0))
        if not_before is not None:
            start = max(start, datetime.combine(not_before, time(8, 0, 0)))
        if start >= end:
            start = end - timedelta(hours=8)
        return start + timedelta(seconds=self.rng.randint(0, int((end - start).total_seconds())))


def fmt_compact(value: date) -> str:
    """YYYYMMDD."""
    return f"{value:%Y%m%d}"


def fmt_iso(value: date) -> str:
    """YYYY-MM-DD."""
    return value.isoformat()


def fmt_slash(value: date) -> str:
    """YYYY/M/D, as Excel users type it."""
    return f"{value.year}/{value.month}/{value.day}"


def fmt_chinese(value: date) -> str:
    """YYYY年M月D日."""
    return f"{value.year}年{value.month}月{value.day}日"


def fmt_timestamp(value: datetime) -> str:
    """YYYY-MM-DD HH:MM:SS."""
    return f"{value:%Y-%m-%d %H:%M:%S}"


def fmt_iso_timestamp(value: datetime) -> str:
    """YYYY-MM-DDTHH:MM:SS (local time, no offset)."""
    return f"{value:%Y-%m-%dT%H:%M:%S}"


def fmt_fhir_instant(value: datetime) -> str:
    """FHIR instant in China Standard Time, e.g. 2026-03-01T10:22:33+08:00."""
    return f"{value:%Y-%m-%dT%H:%M:%S}+08:00"
