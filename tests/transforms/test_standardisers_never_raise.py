"""Property tests: every standardiser takes any text (or None, or a number) and returns, never raises."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.standardise import addresses, dates, ethnicity, gender, id_number, marital_status, names, phones
from transforms.standardise.person import RAW_FIELDS, standardise_person

# Arbitrary Unicode, including surrogates and control characters, plus strings shaped like the real thing.
ANY_TEXT = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=40),
    st.text(alphabet="0123456789xX×-/ .年月日号:TZ+E０１２３４５６７８９", max_size=24),
    st.integers(), st.floats(allow_nan=True),
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(ANY_TEXT)
def test_id_number(value):
    result = id_number.standardise_id_number(value)
    assert result.status in id_number.STATUSES
    assert (result.id_number is not None) == (result.status in id_number.USABLE_STATUSES)
    if result.id_number is not None:
        assert len(result.id_number) == 18 and id_number.has_valid_checksum(result.id_number)
    id_number.gender_from_id(value)
    id_number.birth_date_from_id(value)


@FAST
@given(ANY_TEXT)
def test_names(value):
    result = names.standardise_name(value)
    assert result.status in names.STATUSES
    if result.name is not None:
        assert not any(ch.isspace() for ch in result.name)
        assert result.pinyin is None or result.pinyin == result.pinyin.lower()


@FAST
@given(ANY_TEXT)
def test_dates(value):
    result = dates.parse_date(value, latest=date(2030, 1, 1))
    assert result.status in dates.STATUSES
    assert (result.value is not None) == (result.status in dates.USABLE_STATUSES)
    assert dates.parse_timestamp(value).status in dates.STATUSES


@FAST
@given(ANY_TEXT)
def test_gender(value):
    result = gender.standardise_gender(value, {"A": "M"})
    assert result.status in gender.STATUSES and result.gender in (None, "M", "F")


@FAST
@given(ANY_TEXT)
def test_phones(value):
    result = phones.standardise_phone(value)
    assert result.status in phones.STATUSES


@FAST
@given(ANY_TEXT)
def test_addresses(value):
    result = addresses.standardise_address(value)
    assert result.status in addresses.STATUSES
    assert result.admin_code is None or (len(result.admin_code) == 6 and result.admin_code.isdigit())


@FAST
@given(ANY_TEXT)
def test_ethnicity_and_marital_status(value):
    assert ethnicity.standardise_ethnicity(value).status in ethnicity.STATUSES
    assert marital_status.standardise_marital_status(value).status in marital_status.STATUSES


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({name: ANY_TEXT for name in RAW_FIELDS}))
def test_whole_records(raw):
    standardise_person(raw)
