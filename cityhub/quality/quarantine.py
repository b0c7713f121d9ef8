"""Row rules applied on Spark: which critical rules a person record fails (it is quarantined), which warnings it raises.

The checks are the same pandas Series functions GX's metrics call (`cityhub.quality.rules`), run as
Arrow pandas UDFs, so a quarantine count and the matching expectation's unexpected count come from
one definition. Imports no Great Expectations (Spark's Python workers unpickle these UDFs).
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column
from pyspark.sql import functions as F

from .rules import CRITICAL_ROW_RULES, QUALITY_FLAG_PREFIX, WARNING_ROW_RULES, RowRule

FAILURE_TYPE = "array<struct<rule:string,reason:string,value:string>>"


def rule_passes(rule: RowRule) -> Column:
    """True where a row passes `rule` (rows of departments the rule does not apply to always pass)."""
    passes = F.pandas_udf(rule.check, "boolean")(*(F.col(c) for c in rule.columns))
    if rule.sources is None:
        return passes
    return F.when(F.col("source").isin(*rule.sources), passes).otherwise(F.lit(True))


def _failure(rule: RowRule) -> Column:
    values = [F.coalesce(F.col(c).cast("string"), F.lit("(none)")) for c in rule.columns]
    return F.when(~rule_passes(rule), F.struct(
        F.lit(rule.name).alias("rule"),
        F.format_string(rule.reason, *values).alias("reason"),
        F.concat_ws(" | ", *values).alias("value"),
    ))


def _present(items: Iterable[Column], kind: str) -> Column:
    return F.filter(F.array(*items).cast(kind), lambda item: item.isNotNull())


def failed_critical_rules(rules: Iterable[RowRule] = CRITICAL_ROW_RULES) -> Column:
    """Every critical row rule the row fails, as `array<struct<rule, reason, value>>` (empty when none)."""
    return _present([_failure(rule) for rule in rules], FAILURE_TYPE)


def flags_with_warnings(flags: Column, rules: Iterable[RowRule] = WARNING_ROW_RULES) -> Column:
    """The `flags` text with `quality:<rule>` added for every warning row rule the row fails."""
    raised = _present([F.when(~rule_passes(rule), F.lit(QUALITY_FLAG_PREFIX + rule.name)) for rule in rules], "array<string>")
    joined = F.array_join(F.concat(F.coalesce(F.split(flags, ","), F.array().cast("array<string>")), raised), ",")
    return F.when(joined == "", None).otherwise(joined)


def rejected_persons_path(lake, run_id: str):
    """Where a run keeps its quarantined person records in canonical form (validated with the accepted ones)."""
    return lake.standardised(run_id) / "rejected_persons"
