"""Upper bounds on what Splink can score a pair, from the agreements its comparison levels require.

Splink gives a pair, per comparison, the first level whose condition holds. Most levels require the
two records to agree on something (`name_raw_clean_l = name_raw_clean_r`, or `year(birth_date_l) =
year(birth_date_r) AND ...`), and many require nothing else. So from a few equalities per pair,
computed in Arrow with no Spark join and no string similarity, each comparison's level is known, or
narrowed to the levels whose agreements hold; the best of their match weights (term frequency
adjustment included, as Splink computes it) bounds the comparison's, and the prior with their sum
bounds the pair's. A pair whose bound is below the review threshold, or that none of its possible
levels lets link (the profile's link requirements), is never weighed, whatever Splink makes of the
rest.

The agreements are read from the levels' SQL with sqlglot (as Splink reads its own levels): an
equality whose two sides are one expression over one record, with `_l` and `_r` columns. A level
that is nothing but such equalities is decided by them; a null level that is nothing but `IS NULL`
tests is decided by the values present. Any other level may hold whenever its agreements do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from cityhub.lake_tables import lookup

from .comparisons import bound_agreements
from .profile import MatchingProfile

DIALECT = "spark"
# Match weights within this of the review threshold's count as reaching it: Splink filters on the probability it derives from the
# weight, and a bound equal to a pair's weight must not fall below the threshold by a rounding.
ROUNDING = 1e-6


@dataclass(frozen=True)
class TermFrequency:
    """A level's term frequency adjustment: weight × (log2 u of the exact level − log2 the greater side's frequency)."""

    column: str
    weight: float
    log2_u_exact: float
    minimum_u: float


@dataclass(frozen=True)
class Level:
    """What a pair at this level agrees on (SQL over one record), whether that decides the level, and its match weight."""

    label: str
    weight: float  # log2(m / u); 0 for the null level; inf when the model gives it no m or u (nothing bounds it)
    agreements: tuple[tuple[str, ...], ...]  # per clause, values of which both sides have one and it is equal
    decided: bool  # the level holds exactly when its agreements do (a null level: exactly when `missing` has a side null)
    is_null: bool = False
    missing: tuple[str, ...] = ()  # a null level's values, of which one side lacking one makes the pair null
    is_else: bool = False
    tf: TermFrequency | None = None


@dataclass(frozen=True)
class ComparisonBound:
    """One comparison's levels, strongest first, as Splink tries them."""

    name: str
    levels: tuple[Level, ...]


def bare_sql(expression: exp.Expression, suffix: str) -> str | None:
    """SQL of `expression` over one record: every column named with `suffix`, which is dropped; None when a column is not."""
    columns = list(expression.find_all(exp.Column))
    if not columns or any(not column.name.endswith(suffix) for column in columns):
        return None
    bare = expression.copy().transform(lambda node: exp.column(node.name[: -len(suffix)]) if isinstance(node, exp.Column) else node)
    return bare.sql(dialect=DIALECT)


def agreement(clause: exp.Expression) -> str | None:
    """The expression (SQL over one record) both sides of an equality like `f(x_l) = f(x_r)` compute; None for any other clause."""
    if not isinstance(clause, exp.EQ):
        return None
    for left, right in ((clause.left, clause.right), (clause.right, clause.left)):
        one, other = bare_sql(left, "_l"), bare_sql(right, "_r")
        if one is not None and one == other:
            return one
    return None


def alternatives(clause: exp.Expression) -> tuple[str, ...] | None:
    """The agreements of a clause that is one, or a chain of them joined by OR (any holding makes it hold); None for any other."""
    found = [agreement(operand) for operand in flattened(clause, exp.Or)]
    return None if None in found else tuple(dict.fromkeys(found))


def flattened(condition: exp.Expression, kind: type) -> list[exp.Expression]:
    """The operands of a chain of `kind` (exp.And, exp.Or), through parentheses."""
    condition = condition.unnest()
    if isinstance(condition, kind):
        return flattened(condition.left, kind) + flattened(condition.right, kind)
    return [condition]


def null_values(condition: exp.Expression) -> tuple[str, ...] | None:
    """The values of a condition made only of `x_l IS NULL` / `x_r IS NULL` tests (SQL over one record); None for any other."""
    values = []
    for test in flattened(condition, exp.Or):
        if not (isinstance(test, exp.Is) and isinstance(test.expression, exp.Null)):
            return None
        value = bare_sql(test.this, "_l") or bare_sql(test.this, "_r")
        if value is None:
            return None
        values.append(value)
    return tuple(dict.fromkeys(values))


def level_weight(level: dict) -> float:
    """log2(m / u) of a level of a trained model (inf when either is missing: the weight is unknown)."""
    m, u = level.get("m_probability"), level.get("u_probability")
    return math.log2(m / u) if m and u else math.inf


def parsed_level(level: dict, declared: list[dict[str, str]]) -> Level:
    """A model level's agreements, read from its SQL and those its comparison declares (comparisons.bound_agreements: sets of
    columns of which a pair at the level agrees on one), and its weight (without term frequencies)."""
    label = level.get("label_for_charts", "")
    promised = tuple(tuple(columns.values()) for columns in declared)
    if level["sql_condition"].strip().upper() == "ELSE":
        return Level(label, level_weight(level), promised, decided=False, is_else=True)
    condition = sqlglot.parse_one(level["sql_condition"], read=DIALECT)
    if level.get("is_null_level"):
        missing = null_values(condition)
        return Level(label, 0.0, (), decided=missing is not None, is_null=True, missing=missing or ())
    clauses = [alternatives(clause) for clause in flattened(condition, exp.And)]
    read = tuple(clause for clause in clauses if clause is not None)
    return Level(label, level_weight(level), tuple(dict.fromkeys(read + promised)), decided=None not in clauses)


def with_term_frequency(level: Level, original: dict, levels: list[Level], raw: list[dict]) -> Level:
    """`level` (parsed from the model's `original`) with its term frequency adjustment, the u it scales by being that of the
    comparison's exact level on its column."""
    column = original.get("tf_adjustment_column")
    weight = original.get("tf_adjustment_weight", 1.0)
    if not column or not weight or level.is_null or level.is_else:
        return level
    exact = [original for parsed, original in zip(levels, raw) if parsed.decided and not parsed.is_null and parsed.agreements == ((column,),)]
    u = exact[0].get("u_probability") if exact else None
    log2_u = math.log2(u) if u else math.inf  # no exact level to scale by: nothing bounds the adjustment
    return replace(level, tf=TermFrequency(column, weight, log2_u, original.get("tf_minimum_u_value", 0.0)))


def comparison_bounds(model: dict, profile: MatchingProfile) -> list[ComparisonBound]:
    """Every comparison of a model trained under `profile`, its levels' agreements and weights."""
    specs = {spec.column: spec for spec in profile.comparisons}
    bounds = []
    for comparison in model["comparisons"]:
        spec, raw = specs.get(comparison["output_column_name"]), comparison["comparison_levels"]
        levels = [parsed_level(level, bound_agreements(spec, level.get("label_for_charts", "")) if spec else []) for level in raw]
        levels = [with_term_frequency(level, original, levels, raw) for level, original in zip(levels, raw)]
        bounds.append(ComparisonBound(comparison["output_column_name"], tuple(levels)))
    return bounds


def bound_columns(bounds: list[ComparisonBound]) -> dict[str, str]:
    """The columns (name → Spark SQL over a scoring frame) `bounds` read of each record: agreements, null values, frequency columns."""
    expressions = []
    for comparison in bounds:
        for level in comparison.levels:
            expressions += [*(sql for clause in level.agreements for sql in clause), *level.missing, *((level.tf.column,) if level.tf else ())]
    return {f"bound_{position}": sql for position, sql in enumerate(dict.fromkeys(expressions))}


@dataclass
class PairSides:
    """The bound columns (bound_columns) of both records of each pair, aligned (Arrow), and the column of each expression."""

    left: pa.Table
    right: pa.Table
    names: dict[str, str]  # Spark SQL → column name
    _agreeing: dict[str, np.ndarray] = field(default_factory=dict)  # agree(), once per expression: levels and clauses share some

    @classmethod
    def of(cls, records: pa.Table, left: pa.Array | pa.ChunkedArray, right: pa.Array | pa.ChunkedArray, columns: dict[str, str]) -> "PairSides":
        """The sides of the pairs (`left`, `right`: record_key) from `records` (record_key and the `columns` of bound_columns)."""
        names = list(columns)
        return cls(lookup(left, records, "record_key", names), lookup(right, records, "record_key", names),
                   {sql: name for name, sql in columns.items()})

    @property
    def pairs(self) -> int:
        return self.left.num_rows

    def agree(self, sql: str) -> np.ndarray:
        if sql not in self._agreeing:
            name = self.names[sql]
            self._agreeing[sql] = pc.fill_null(pc.equal(self.left[name], self.right[name]), False).to_numpy(zero_copy_only=False)
        return self._agreeing[sql]

    def either_missing(self, sql: str) -> np.ndarray:
        name = self.names[sql]
        return pc.or_(pc.is_null(self.left[name]), pc.is_null(self.right[name])).to_numpy(zero_copy_only=False)

    def values(self, sql: str) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
        return self.left[self.names[sql]], self.right[self.names[sql]]


def term_frequency_weight(tf: TermFrequency, sides: PairSides, frequencies: dict[str, pa.Table]) -> np.ndarray:
    """Splink's adjustment of each pair at a level with term frequencies: weight × (log2 u_exact − log2 max(tf_l, tf_r, minimum)), 0 without a frequency."""
    table = frequencies.get(tf.column)
    if table is None:
        return np.zeros(sides.pairs)  # Splink registered no frequencies for the column: no adjustment
    values = [lookup(side, table, tf.column, [f"tf_{tf.column}"])[f"tf_{tf.column}"] for side in sides.values(tf.column)]
    left, right = (np.asarray(v.to_numpy(zero_copy_only=False), dtype=float) for v in values)
    greatest = np.fmax(np.fmax(left, right), tf.minimum_u)  # fmax: a missing side takes the other's, as Splink's coalesce does
    with np.errstate(divide="ignore", invalid="ignore"):
        adjustment = tf.weight * (tf.log2_u_exact - np.log2(greatest))
    return np.where(np.isnan(left) & np.isnan(right), 0.0, adjustment)


@dataclass
class Possible:
    """Per comparison and level, which pairs may be at it (numpy booleans), and their best weights."""

    levels: dict[str, list[np.ndarray]]
    best: np.ndarray  # the prior plus each comparison's best possible weight


def possible_levels(bounds: list[ComparisonBound], sides: PairSides, prior: float, frequencies: dict[str, pa.Table]) -> Possible:
    """Which levels each pair may be at, trying them in order: a decided level that holds ends the search, one that does not is skipped."""
    pairs = sides.pairs
    best, levels = np.full(pairs, prior), {}
    for comparison in bounds:
        open_, top, mine = np.ones(pairs, bool), np.full(pairs, -np.inf), []
        for level in comparison.levels:
            holds = np.ones(pairs, bool)
            for clause in level.agreements:
                agreeing = np.zeros(pairs, bool)
                for sql in clause:
                    agreeing |= sides.agree(sql)
                holds &= agreeing
            if level.is_null and level.decided:
                holds = np.zeros(pairs, bool)
                for sql in level.missing:
                    holds |= sides.either_missing(sql)
            here = open_ & holds
            weight = np.full(pairs, level.weight)
            if level.tf is not None:
                weight = weight + term_frequency_weight(level.tf, sides, frequencies)
            top = np.where(here, np.maximum(top, weight), top)
            mine.append(here)
            if level.decided:
                open_ &= ~holds
        levels[comparison.name] = mine
        best = best + top
    return Possible(levels, best)


def threshold_weight(probability: float) -> float:
    """The match weight of a match probability."""
    return math.log2(probability / (1 - probability))


def may_be_weighed(bounds: list[ComparisonBound], model: dict, profile: MatchingProfile, sides: PairSides,
                   frequencies: dict[str, pa.Table]) -> np.ndarray:
    """True for each pair Splink may score at or above the review threshold and the link requirements may allow (numpy booleans),
    `bounds` being comparison_bounds(model, profile)."""
    prior_probability = model["probability_two_random_records_match"]
    possible = possible_levels(bounds, sides, threshold_weight(prior_probability), frequencies)
    weighed = possible.best >= threshold_weight(profile.review_threshold) - ROUNDING  # Splink compares the probability, not the weight
    if not profile.link_requires:
        return weighed
    by_name = {comparison.name: comparison for comparison in bounds}
    allowed = np.zeros(len(weighed), bool)
    for requirement in profile.link_requires:
        met = reaching(by_name[requirement.comparison], possible, requirement.at_least, null_passes=False)
        for condition in requirement.provided:
            met &= reaching(by_name[condition.comparison], possible, condition.at_least, null_passes=True)
        allowed |= met
    return weighed & allowed


def reaching(comparison: ComparisonBound, possible: Possible, at_least: str, null_passes: bool) -> np.ndarray:
    """True for each pair that may be at level `at_least` of `comparison` or a stronger one (or at its null level, when that passes),
    as probabilistic.link_allowed reads a requirement."""
    labels = [level.label for level in comparison.levels if not level.is_null]
    wanted = set(labels[: labels.index(at_least) + 1])
    met = np.zeros(len(possible.best), bool)
    for level, may in zip(comparison.levels, possible.levels[comparison.name]):
        if (level.is_null and null_passes) or (not level.is_null and level.label in wanted):
            met |= may
    return met
