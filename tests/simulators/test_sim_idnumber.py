"""ID number rules the simulator relies on (GB 11643-1999)."""

from datetime import date

from simulators.idnumber import check_char, is_valid_id_number, make_id_number, sequence_for, to_legacy_15
from simulators.noise import _transposition, _typo
import random


def test_check_character_of_published_examples():
    assert check_char("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number("440524188001010014")
    assert not is_valid_id_number("440524188001010015")


def test_made_numbers_are_valid_and_carry_gender_parity():
    male = make_id_number("330106", date(1990, 1, 2), sequence_for("M", 17))
    female = make_id_number("330106", date(1990, 1, 2), sequence_for("F", 17))
    assert is_valid_id_number(male) and is_valid_id_number(female)
    assert int(male[16]) % 2 == 1 and int(female[16]) % 2 == 0
    assert male.startswith("33010619900102")


def test_legacy_15_drops_century_and_check_char():
    assert to_legacy_15("330106199001021234"[:17] + "X") == "330106900102123"


def test_every_single_digit_error_and_transposition_breaks_the_check():
    rng = random.Random(1)
    number = make_id_number("330102", date(1985, 6, 7), 123)
    for _ in range(200):
        assert not is_valid_id_number(_typo(rng, number))
        assert not is_valid_id_number(_transposition(rng, number))
