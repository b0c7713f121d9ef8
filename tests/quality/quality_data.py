"""Small person records and published tables with deliberately planted errors, for the quality suites."""

from __future__ import annotations

from datetime import date

from transforms.standardise.id_number import check_character


def id_number(region: str, born: str, sequence: str) -> str:
    """An 18-character number with a correct check character (region and date as given, valid or not)."""
    first17 = f"{region}{born}{sequence}"
    return first17 + check_character(first17)


def wrong_check(number: str) -> str:
    """The same number with a check character that does not match."""
    return number[:17] + ("0" if number[17] != "0" else "1")


MAN_1980 = id_number("110105", "19800101", "001")  # odd sequence digit: male
WOMAN_1975 = id_number("330106", "19750615", "002")
MAN_1949 = id_number("110105", "19491231", "003")
OLD_REGION_1960 = id_number("110103", "19600301", "004")  # Beijing Chongwen district, merged in 2010

PERSON_COLUMNS = ("record_key", "source", "stream", "source_record_id", "id_number", "id_status", "gender", "birth_date", "death_date", "phone",
                  "admin_code")


def person(key: str, number: str | None, gender: str | None, born: date | None, died: date | None = None, phone: str | None = None,
           admin_code: str | None = "110101") -> tuple:
    """One canonical person row with the columns the standardised suite reads."""
    status = "valid" if number else "missing"
    return (key, "public_security", "rk_person", key, number, status, gender, born, died, phone, admin_code)


GOOD_PERSONS = [
    person("ps:1", MAN_1980, "M", date(1980, 1, 1), phone="13800138000"),
    person("ps:2", WOMAN_1975, "F", date(1975, 6, 15), phone="010-62345678"),
    person("ps:3", MAN_1949, "M", date(1949, 12, 31), died=date(2020, 5, 1)),
    person("ps:4", OLD_REGION_1960, "F", date(1960, 3, 1), phone="0571-87654321"),
    person("ps:5", None, "F", date(1990, 2, 2)),
]

# Each planted row breaks exactly the rules named in its comment.
BAD_PERSONS = [
    person("bad:1", wrong_check(MAN_1980), "M", None),  # ID check character
    person("bad:2", id_number("123456", "19800101", "001"), "M", date(1980, 1, 1)),  # ID region code not a division
    person("bad:3", id_number("110105", "19800230", "001"), "M", None),  # ID date 30 February
    person("bad:4", MAN_1980, "M", date(1981, 1, 1)),  # birth date differs from the ID's
    person("bad:5", WOMAN_1975, "M", date(1975, 6, 15)),  # gender differs from the ID's parity
    person("bad:6", None, "F", date(2999, 1, 1)),  # birth date in the future
    person("bad:7", None, "M", date(1950, 1, 1), died=date(2999, 1, 1)),  # death date in the future
    person("bad:8", None, "M", date(1960, 1, 1), died=date(1950, 1, 1)),  # death before birth
    person("bad:9", None, "F", None, phone="12345"),  # phone malformed
    person("bad:10", None, "F", None, phone="138 0013 8000"),  # phone not in its cleaned form
    person("bad:11", None, "M", None, admin_code="999999"),  # administrative code of no division
]

PLANTED_UNEXPECTED = {
    ("expect_column_values_to_be_valid_cn_id_number", "id_number"): 3,
    ("expect_column_pair_birth_date_to_match_id_number", "id_number,birth_date"): 1,
    ("expect_column_pair_gender_to_match_id_number", "id_number,gender"): 1,
    ("expect_column_values_to_not_be_in_the_future", "birth_date"): 1,
    ("expect_column_values_to_not_be_in_the_future", "death_date"): 1,
    ("expect_column_pair_death_date_to_not_be_before_birth_date", "death_date,birth_date"): 1,
    ("expect_column_values_to_be_known_admin_code", "admin_code"): 1,
    ("expect_column_values_to_be_well_formed_cn_phone", "phone"): 2,
}


def persons_frame(spark, rows: list[tuple]):
    """A Spark DataFrame of person rows (dates as DateType, like the standardised layer)."""
    schema = (
        "record_key string, source string, stream string, source_record_id string, id_number string, "
        "id_status string, gender string, birth_date date, death_date date, phone string, admin_code string"
    )
    return spark.createDataFrame(rows, schema)
