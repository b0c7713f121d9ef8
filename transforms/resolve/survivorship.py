"""Golden records by survivorship (一数一源): the authority's value first, then the most recent, then the most frequent.

The rules live in `survivorship.yaml` beside this module. Candidates for every attribute are laid
out in one long frame (resident, attribute, value, the record that supplied it), ranked once per
resident and attribute; the winner becomes the golden value and its record the lineage.
"""

from __future__ import annotations

from functools import reduce
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.standardise.person import FROM_ID_REPAIRS, ZERO_TAIL_FLAG
from transforms.standardise.udfs import parse_date_udf

from .linking import ID_NUMBER, has_flag_sql, sql_string, valid_number_sql

DEFAULT_RULES = Path(__file__).with_name("survivorship.yaml")
AUTHORITY, MOST_RECENT, MOST_FREQUENT = "authority", "most_recent", "most_frequent"
_NOT_AN_AUTHORITY = 1_000

CANDIDATE_COLUMNS = ("resident_id", "attribute", "value", "code", "record_key", "source", "stream", "updated_at", "authority_rank")
CANDIDATE_SCHEMA = (
    "resident_id string, attribute string, value string, code string, record_key string, source string, "
    "stream string, updated_at timestamp, authority_rank int"
)


class SurvivorshipError(ValueError):
    """The survivorship rules file is wrong; the message names the file, the key and the fix."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactCandidates(_Model):
    """Candidates for an attribute read from one stream's department facts."""

    source: str
    stream: str
    value: str
    when: dict[str, str] = Field(default_factory=dict)
    values: dict[str, str] | None = None
    updated_at: str | None = None
    parse: Literal["date"] | None = None


class AttributeRule(_Model):
    """How one golden-record attribute is chosen."""

    field: str | None = None
    code_field: str | None = None
    authority: list[str] | Literal["most_recent"] = Field(default_factory=list)
    only_authority: bool = False
    exclude: list[str] = Field(default_factory=list)
    exclude_flags: list[str] = Field(default_factory=list)
    exclude_borrowed: bool = False  # drop the value when it is a number the matcher judged someone else's, or was read from one
    facts: list[FactCandidates] = Field(default_factory=list)

    @field_validator("authority")
    @classmethod
    def _sources(cls, value):
        return [] if value == "most_recent" else value

    def rank_sql(self) -> str:
        """SQL of a candidate's authority rank: its position in `authority` (source:stream before source), else last."""
        if not self.authority:
            return str(_NOT_AN_AUTHORITY)
        cases = " ".join(f"WHEN {_is_stream(name)} THEN {position}" for position, name in enumerate(self.authority))
        return f"CASE {cases} ELSE {_NOT_AN_AUTHORITY} END"

    def rank(self) -> Column:
        """A candidate's authority rank (rank_sql)."""
        return F.expr(self.rank_sql())


class SurvivorshipRules(_Model):
    """All attributes' rules, from survivorship.yaml."""

    attributes: dict[str, AttributeRule]


def load_rules(path: Path = DEFAULT_RULES) -> SurvivorshipRules:
    """Read and validate the survivorship rules; raise SurvivorshipError naming the file and key."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return SurvivorshipRules.model_validate(data)
    except FileNotFoundError:
        raise SurvivorshipError(f"{path}: no such survivorship rules file") from None
    except yaml.YAMLError as exc:
        raise SurvivorshipError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SurvivorshipError(f"{path}: invalid survivorship rules: {details}") from None


def _is_stream(name: str) -> str:
    """SQL: the candidate comes from `name` (`source` or `source:stream`)."""
    source, _, stream = name.partition(":")
    return f"(source = {sql_string(source)}" + (f" AND stream = {sql_string(stream)})" if stream else ")")


def _excluded_sql(names: list[str]) -> str:
    return "(" + " OR ".join(_is_stream(name) for name in names) + ")" if names else "false"


def borrowed_sql(field: str) -> str:
    """SQL of borrowed."""
    if field == "id_number":
        from_number = "true"
    elif field in FROM_ID_REPAIRS:
        from_number = has_flag_sql(FROM_ID_REPAIRS[field], "repairs")
    else:
        from_number = "false"  # nothing else is read from the number
    return f"({valid_number_sql()} AND NOT {has_flag_sql(ZERO_TAIL_FLAG)} AND match_rule != {sql_string(ID_NUMBER)} AND {from_number})"


def borrowed(field: str) -> Column:
    """True where `field` is the record's usable ID number, or was read from it, and the matcher did not link the record by it.

    A usable number (not a zeroed tail) always anchors its record unless linking judged it someone
    else's (a parent's on a child's record): then neither it nor what standardisation read from it
    (`FROM_ID_REPAIRS`) describes this resident. Needs the xref's match_rule beside the record.
    """
    return F.expr(borrowed_sql(field))


def person_candidates(persons: DataFrame, rules: SurvivorshipRules) -> DataFrame:
    """Candidates from the canonical person records (with resident_id) for every attribute, in one pass.

    Each record becomes one row per attribute it has a value for (an exploded array of structs),
    instead of one scan of the persons per attribute.
    """
    entries = []
    for attribute, rule in rules.attributes.items():
        if not rule.field:
            continue
        keep = [f"`{rule.field}` IS NOT NULL", f"NOT {_excluded_sql(rule.exclude)}", *(f"NOT {has_flag_sql(flag)}" for flag in rule.exclude_flags)]
        if rule.exclude_borrowed:
            keep.append(f"NOT {borrowed_sql(rule.field)}")
        if rule.only_authority:
            keep.append(f"{rule.rank_sql()} < {_NOT_AN_AUTHORITY}")
        code = f"CAST(`{rule.code_field}` AS STRING)" if rule.code_field else "CAST(NULL AS STRING)"
        entries.append(f"named_struct('attribute', {sql_string(attribute)}, 'value', CAST(`{rule.field}` AS STRING), 'code', {code}, "
                       f"'authority_rank', {rule.rank_sql()}, 'keep', {' AND '.join(keep)})")
    if not entries:
        return persons.sparkSession.createDataFrame([], CANDIDATE_SCHEMA)
    # One SQL expression: built of Column calls, the same array took thousands of calls into Spark.
    exploded = persons.select(
        "resident_id", "record_key", "source", "stream", F.col("source_updated_at").alias("updated_at"),
        F.expr(f"explode(array({', '.join(entries)}))").alias("candidate"),
    )
    return exploded.filter("candidate.keep").select(
        "resident_id", "candidate.attribute", "candidate.value", "candidate.code", "record_key", "source", "stream",
        "updated_at", "candidate.authority_rank",
    )


# What fact_candidates gives beside CANDIDATE_COLUMNS: the dating fact as written, and whether the value is a date to read.
RAW_UPDATED, PARSE_VALUE = "updated_raw", "parse_value"


def fact_candidates(facts: DataFrame, attribute: str, rule: AttributeRule, spec: FactCandidates) -> DataFrame:
    """Candidates from one stream's facts (with resident_id), dates still as written (dated_candidates reads them); rows
    matching `when` are kept even without a value."""
    for column in (spec.value, *spec.when, *([spec.updated_at] if spec.updated_at else [])):
        if column not in facts.columns:
            raise SurvivorshipError(
                f"{DEFAULT_RULES.name}: attributes.{attribute}.facts: source {spec.source} declares no fact `{column}`; "
                f"use one of {', '.join(c for c in facts.columns if c not in ('resident_id', 'record_key', 'fact_key'))}"
            )
    # SQL text, a few calls into Spark: built of Column calls, the candidates of every stream took hundreds.
    conditions = [f"stream = {sql_string(spec.stream)}", "resident_id IS NOT NULL",
                  *(f"trim(`{name}`) = {sql_string(expected)}" for name, expected in spec.when.items())]
    value = f"trim(`{spec.value}`)"
    if spec.values:
        value = f"try_element_at(map({', '.join(sql_string(p) for pair in spec.values.items() for p in pair)}), {value})"
    updated = f"CAST(`{spec.updated_at}` AS STRING)" if spec.updated_at else "CAST(NULL AS STRING)"
    return facts.where(" AND ".join(conditions)).selectExpr(
        "resident_id", f"{sql_string(attribute)} AS attribute", f"{value} AS value", "CAST(NULL AS STRING) AS code",
        "fact_key AS record_key", f"{sql_string(spec.source)} AS source", f"{sql_string(spec.stream)} AS stream",
        f"{updated} AS {RAW_UPDATED}", f"{'true' if spec.parse == 'date' else 'false'} AS {PARSE_VALUE}",
    ).selectExpr("*", f"{rule.rank_sql()} AS authority_rank")  # ranked by the candidate's own source and stream


def dated_candidates(candidates: DataFrame) -> DataFrame:
    """CANDIDATE_COLUMNS of fact_candidates frames (unioned), their dates read by the standardiser's parser.

    One pass of the Python parser over every stream's candidates, in one partition: each pass of a
    Python function is a round trip to a Python worker (a third of a second however few the rows),
    and Spark would otherwise run one per stream, below the union. Fact candidates are few (a
    death, a marriage), and the streams are still read in parallel before the shuffle.
    """
    parsed = candidates.repartition(1).select("*", parse_date_udf(F.col("value")).alias("_value_date"),
                                              parse_date_udf(F.col(RAW_UPDATED)).alias("_updated_date"))
    return parsed.selectExpr(
        "resident_id", "attribute", f"CASE WHEN {PARSE_VALUE} THEN CAST(_value_date AS STRING) ELSE value END AS value", "code",
        "record_key", "source", "stream", "CAST(_updated_date AS TIMESTAMP) AS updated_at", "authority_rank",
    )


def all_candidates(persons: DataFrame, facts: dict[str, DataFrame], rules: SurvivorshipRules) -> DataFrame:
    """Every attribute's candidates in one long frame (CANDIDATE_COLUMNS)."""
    from_facts = [fact_candidates(facts[spec.source], attribute, rule, spec)
                  for attribute, rule in rules.attributes.items() for spec in rule.facts if spec.source in facts]
    frames = [person_candidates(persons, rules)]
    if from_facts:
        frames.append(dated_candidates(reduce(DataFrame.unionByName, from_facts)))
    return reduce(DataFrame.unionByName, (f.select(*CANDIDATE_COLUMNS) for f in frames))


def choose(candidates: DataFrame) -> DataFrame:
    """One winner per resident and attribute, with the rule that decided it (authority, most_recent, most_frequent).

    Both windows are partitioned by resident alone (attribute leads the ordering), so the candidates
    are shuffled once, and the golden record's grouping by resident after them needs no shuffle.
    Written as SQL text: built of Column calls, the two windows took hundreds of calls into Spark.
    """
    # Peers in the (attribute, value) ordering are the candidates with the same value for the attribute.
    frequency = "count(1) OVER (PARTITION BY resident_id ORDER BY attribute, value RANGE BETWEEN CURRENT ROW AND CURRENT ROW)"
    ranked = candidates.selectExpr("*", f"CASE WHEN value IS NOT NULL THEN {frequency} ELSE 0 END AS frequency")
    order = ("PARTITION BY resident_id ORDER BY attribute, value IS NULL, authority_rank, updated_at DESC NULLS LAST, "
             "frequency DESC NULLS LAST, record_key")
    ranked = ranked.selectExpr("*", f"lag(attribute) OVER ({order}) AS previous_attribute", f"lead(attribute) OVER ({order}) AS next_attribute",
                               f"lead(updated_at) OVER ({order}) AS next_updated_at")
    winners = ranked.where("previous_attribute IS NULL OR previous_attribute != attribute")
    runner_up = "CASE WHEN next_attribute = attribute THEN next_updated_at END"
    recent = f"updated_at IS NOT NULL AND ({runner_up} IS NULL OR updated_at > {runner_up})"
    rule = (f"CASE WHEN authority_rank < {_NOT_AN_AUTHORITY} THEN {sql_string(AUTHORITY)} WHEN {recent} THEN {sql_string(MOST_RECENT)} "
            f"ELSE {sql_string(MOST_FREQUENT)} END AS rule")
    return winners.selectExpr(*CANDIDATE_COLUMNS, rule)


def lineage(winners: DataFrame, run_id: str) -> DataFrame:
    """`resident_lineage`: which source record supplied each golden value."""
    return winners.filter(F.col("value").isNotNull()).select(
        "resident_id", "attribute", "value", "record_key", "source", "rule", F.lit(run_id).alias("run_id"),
    )


def golden_records(xref: DataFrame, winners: DataFrame, run_id: str) -> DataFrame:
    """`resident`: one row per resident with the winning values, record count and sources (SQL text: a few calls into Spark)."""
    def value(attribute: str, name: str | None = None, column: str = "value", cast: str = "string") -> Column:
        return F.expr(f"CAST(max(CASE WHEN attribute = {sql_string(attribute)} THEN `{column}` END) AS {cast}) AS {name or attribute}")

    chosen = winners.groupBy("resident_id").agg(
        value("id_number"), value("name"), value("gender"), value("birth_date", cast="date"), value("ethnicity"),
        value("marital_status"), value("phone"), value("hukou_address"), value("hukou_address", "hukou_admin_code", "code"),
        value("current_address"), value("current_address", "current_admin_code", "code"), value("death_date", cast="date"),
        # any death evidence makes a resident deceased, even one whose date could not be read
        F.expr("max(attribute = 'death_date') AS is_deceased"),
    )
    base = xref.groupBy("resident_id").agg(F.expr("count(1) AS record_count"), F.expr("concat_ws(',', array_sort(collect_set(source))) AS sources"))
    return base.join(chosen, "resident_id", "left").selectExpr(
        "resident_id", "id_number", "name", "gender", "birth_date", "ethnicity", "marital_status", "phone",
        "hukou_address", "hukou_admin_code", "current_address", "current_admin_code", "death_date",
        "coalesce(is_deceased, false) AS is_deceased", "record_count", "sources", f"{sql_string(run_id)} AS run_id",
    )
