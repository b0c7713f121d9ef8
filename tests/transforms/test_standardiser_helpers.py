"""The pieces every standardiser is built from: the never-raise wrapper, the repair record, code tables."""

from __future__ import annotations

import pytest

from transforms.standardise.status import read_code
from transforms.standardise.text import Repairs, standardiser


@standardiser(missing="missing", on_error="failed")
def _shout(text: str, suffix: str = "!") -> str:
    if text == "boom":
        raise ValueError(text)
    return text.upper() + suffix


@pytest.mark.parametrize("raw", [None, float("nan"), "", "  \u3000", "\u200b\t"])
def test_blank_values_are_missing_without_being_read(raw):
    assert _shout(raw) == "missing"


def test_an_exception_becomes_the_error_result():
    assert _shout("boom") == "failed"


def test_values_reach_the_function_as_text_with_their_arguments():
    assert _shout(12) == "12!"
    assert _shout("a", suffix="?") == "A?"
    assert _shout.__name__ == "_shout"


def test_repairs_record_only_the_steps_that_changed_the_text_in_order():
    cleaned = Repairs(" Ab ")
    cleaned.apply(str.strip, "trimmed")
    cleaned.apply(str.strip, "trimmed_again")
    cleaned.apply(str.lower, "lowercase")
    assert (cleaned.text, cleaned.codes) == ("ab", ["trimmed", "lowercase"])


def test_code_tables_tell_unknown_from_unrecognised():
    table = {"1": "yes", "9": None}
    assert read_code("1", table, "bad") == ("yes", "valid")
    assert read_code("9", table, "bad") == (None, "unknown")
    assert read_code("7", table, "bad") == (None, "bad")
