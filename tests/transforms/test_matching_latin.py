"""The generic Latin-script profile resolves a small person file end to end through Splink (fixed model)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from transforms.resolve.matching import match_persons
from transforms.resolve.probabilistic import settings
from transforms.resolve.profile import load_profile

pytestmark = pytest.mark.spark

ROWS = [
    ("p1", "John Smith", dt.date(1980, 1, 2), "M", "5550101"),
    ("p2", "Jon  Smith", dt.date(1980, 1, 2), "M", "5550101"),
    ("p3", "john smith", dt.date(1980, 1, 2), "M", None),
    ("p4", "Mary Smith", dt.date(1980, 1, 2), "F", "5550101"),
    ("p5", "Anna Kowalski", dt.date(1975, 6, 30), "F", "5550202"),
    ("p6", "Ana Kowalski", dt.date(1975, 6, 30), "F", None),
    ("p7", "Peter Novak", dt.date(1990, 12, 1), "M", "5550303"),
    ("p8", "Petra Novak", dt.date(1992, 3, 4), "F", "5550404"),
    ("p9", "Luis Garcia", dt.date(1988, 8, 8), "M", "5550505"),
    ("p10", "Luis Garcia", dt.date(1988, 8, 8), "M", "5550505"),
    ("p11", "Emma Brown", dt.date(2001, 5, 5), "F", None),
    ("p12", "Oliver Brown", dt.date(2003, 7, 7), "M", None),
]


def fixed_model(profile) -> dict:
    """The profile's settings with hand-set m/u (training is not what this test is about)."""
    model = settings(profile)
    model["probability_two_random_records_match"] = 0.05
    for comp in model["comparisons"]:
        levels = [lvl for lvl in comp["comparison_levels"] if not lvl.get("is_null_level")]
        for rank, level in enumerate(levels):
            last = rank == len(levels) - 1
            level["m_probability"], level["u_probability"] = (0.02, 0.95) if last else (0.9 / (rank + 1), 0.02 * (rank + 1))
    return model


def test_the_latin_profile_links_spelling_variants_and_keeps_different_people_apart(spark):
    profile = load_profile("latin_person")
    persons = spark.createDataFrame(ROWS, "record_key string, name string, birth_date date, gender string, phone string")
    matches = match_persons(persons, profile, model=fixed_model(profile))
    links = {row["record_key"]: row for row in matches.links.to_pylist()}
    cluster = {key: row["anchor_value"] for key, row in links.items()}
    assert cluster["p1"] == cluster["p2"] == cluster["p3"]
    assert cluster["p4"] != cluster["p1"]  # same surname, birth date and phone, different person
    assert cluster["p5"] == cluster["p6"] and cluster["p9"] == cluster["p10"]
    assert len({cluster[k] for k in ("p7", "p8", "p11", "p12")}) == 4
    evidence = json.loads(links["p2"]["match_evidence"])
    assert links["p2"]["match_rule"] == "probabilistic" and evidence["probability"] >= profile.threshold
    assert {c["comparison"] for c in evidence["comparisons"]} == {"name", "birth_date", "gender", "phone", "address_key"}
    assert links["p7"]["match_rule"] == "singleton"
