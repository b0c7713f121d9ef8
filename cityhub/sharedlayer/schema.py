"""The shared layer's tables, defined once (SQLAlchemy Core); the Alembic migrations mirror this file.

Department fact tables (`fact_<source>`) are not here: a new department is a YAML file, not a
migration, so the publisher builds them with `fact_table()` and creates or widens them itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

# Fixed constraint names, so that migrations written today still name the same objects on every
# backend tomorrow (and autogenerate compares like with like).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# Keys get a bounded VARCHAR (indexable everywhere); descriptive values are unbounded text, so that
# an unexpected value is published as it is rather than failing the whole publish on a length.
KEY = sa.String(255)
RUN_ID = sa.String(64)
NAME = sa.String(128)

resident = sa.Table(
    "resident",
    metadata,
    sa.Column("resident_id", KEY, primary_key=True),
    sa.Column("id_number", sa.Text, index=True),
    sa.Column("name", sa.Text),
    sa.Column("gender", sa.Text),
    sa.Column("birth_date", sa.Date),
    sa.Column("ethnicity", sa.Text),
    sa.Column("marital_status", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("hukou_address", sa.Text),
    sa.Column("hukou_admin_code", sa.Text),
    sa.Column("current_address", sa.Text),
    sa.Column("current_admin_code", sa.Text),
    sa.Column("death_date", sa.Date),
    sa.Column("is_deceased", sa.Boolean),
    sa.Column("record_count", sa.Integer),
    sa.Column("sources", sa.Text),
    sa.Column("run_id", RUN_ID),
)

resident_xref = sa.Table(
    "resident_xref",
    metadata,
    sa.Column("record_key", KEY, primary_key=True),
    sa.Column("source", NAME),
    sa.Column("stream", NAME),
    sa.Column("source_record_id", KEY),
    sa.Column("resident_id", KEY, sa.ForeignKey("resident.resident_id"), nullable=False, index=True),
    sa.Column("match_rule", sa.Text),
    sa.Column("match_probability", sa.Float),
    sa.Column("match_evidence", sa.Text),  # JSON: the rule, or the per-field match weights of the link
    sa.Column("batch_id", KEY),
    sa.Column("run_id", RUN_ID),
)

# The primary key (resident_id, attribute) leads with resident_id, so it is the index on resident_id.
resident_lineage = sa.Table(
    "resident_lineage",
    metadata,
    sa.Column("resident_id", KEY, sa.ForeignKey("resident.resident_id"), primary_key=True),
    sa.Column("attribute", NAME, primary_key=True),
    sa.Column("value", sa.Text),
    sa.Column("record_key", KEY),
    sa.Column("source", NAME),
    sa.Column("rule", sa.Text),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("record_key", KEY, primary_key=True),
    sa.Column("rule", NAME, primary_key=True),
    sa.Column("source", NAME),
    sa.Column("stream", NAME),
    sa.Column("source_record_id", KEY),
    sa.Column("batch_id", KEY),
    sa.Column("reason", sa.Text),
    sa.Column("value", sa.Text),
)

dataset_version = sa.Table(
    "dataset_version",
    metadata,
    sa.Column("dataset", NAME, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("run_id", RUN_ID, nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("previous_version", sa.Integer),
)

pipeline_run = sa.Table(
    "pipeline_run",
    metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("summary", sa.Text),
    sa.Column("error", sa.Text),
)

# Provider scorecards (cityhub.quality.scorecard): one row per run, department and GB/T 36344 dimension.
provider_scorecard = sa.Table(
    "provider_scorecard",
    metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("source", NAME, primary_key=True),
    sa.Column("dimension", sa.String(32), primary_key=True),
    sa.Column("score", sa.Float),
    sa.Column("numerator", sa.BigInteger, nullable=False),
    sa.Column("denominator", sa.BigInteger, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

# The worst rules of each department in a run, with example values already masked (JSON list).
provider_rule_failure = sa.Table(
    "provider_rule_failure",
    metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("source", NAME, primary_key=True),
    sa.Column("rule", sa.String(255), primary_key=True),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("failing_count", sa.BigInteger, nullable=False),
    sa.Column("examples", sa.Text),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

# Record pairs the matcher would not decide alone (e.g. two ID-anchored residents a record would chain):
# a snapshot of the live run, like the resolved tables; `status` is 'open' until someone reviews it.
review_queue = sa.Table(
    "review_queue",
    metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("record_key", KEY, primary_key=True),
    sa.Column("other_record_key", KEY, primary_key=True),
    sa.Column("reason", sa.String(255), primary_key=True),
    sa.Column("match_probability", sa.Float),
    sa.Column("evidence", sa.Text),
    sa.Column("status", sa.String(16), nullable=False, server_default="open"),
)

# How resident ids changed between runs (transforms.resolve.registry): append-only across runs, so
# a subscriber holding an old id can follow it. change is merge (old id absorbed into new), split
# (records of old moved to new; old lives on) or retire (old has no records any more; new is null).
resident_id_history = sa.Table(
    "resident_id_history",
    metadata,
    sa.Column("history_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("old_resident_id", KEY, nullable=False, index=True),
    sa.Column("new_resident_id", KEY, index=True),
    sa.Column("change", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("run_id", RUN_ID, nullable=False, index=True),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("record_count", sa.Integer),
)

# Quarantine history across runs (cityhub.quality.quarantine_history): an entry opens when a record first
# breaks a critical rule and closes when a later batch's version of the record is accepted.
quarantine_entry = sa.Table(
    "quarantine_entry",
    metadata,
    sa.Column("record_key", KEY, primary_key=True),
    sa.Column("rule", NAME, primary_key=True),
    sa.Column("opened_run", RUN_ID, primary_key=True),
    sa.Column("source", NAME),
    sa.Column("stream", NAME),
    sa.Column("source_record_id", KEY),
    sa.Column("batch_id", KEY),
    sa.Column("reason", sa.Text),
    sa.Column("value", sa.Text),
    sa.Column("last_seen_run", RUN_ID, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("closed_run", RUN_ID),
    sa.Column("closed_by_record_key", KEY),
    sa.Column("closed_by_batch_id", KEY),
)

# The dataset gate's results per run (cityhub.quality.gates): which rule held which dataset.
gate_outcome = sa.Table(
    "gate_outcome",
    metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("dataset", NAME, primary_key=True),
    sa.Column("rule", sa.String(255), primary_key=True),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("unexpected_count", sa.BigInteger),
    sa.Column("held", sa.Boolean, nullable=False),
)

# Tables published from the lake, in load order (parents before the tables that reference them).
RESOLVED_TABLES = (resident, resident_xref, resident_lineage)

FACT_TABLE_PREFIX = "fact_"
FACT_KEY_COLUMNS = ("resident_id", "record_key", "fact_key", "stream", "source_record_id", "batch_id")


def fact_table_name(source: str) -> str:
    """The shared layer table holding one department's facts."""
    return f"{FACT_TABLE_PREFIX}{source}"


def fact_table(source: str, fact_columns: Iterable[str], meta: sa.MetaData | None = None) -> sa.Table:
    """The Core definition of `fact_<source>`: key columns, then one text column per fact."""
    fact_columns = list(fact_columns)
    clashes = sorted(set(fact_columns) & set(FACT_KEY_COLUMNS))
    if clashes:
        raise ValueError(f"source {source}: fact names {clashes} clash with the fact table's key columns {list(FACT_KEY_COLUMNS)}; rename the facts in its source definition")
    if len(set(fact_columns)) != len(fact_columns):
        raise ValueError(f"source {source}: fact names must be unique, got {fact_columns}")
    meta = meta if meta is not None else sa.MetaData(naming_convention=NAMING_CONVENTION)
    name = fact_table_name(source)
    return sa.Table(
        name,
        meta,
        sa.Column("resident_id", KEY, index=True),
        sa.Column("record_key", KEY),
        sa.Column("fact_key", KEY, primary_key=True),
        sa.Column("stream", NAME),
        sa.Column("source_record_id", KEY),
        sa.Column("batch_id", KEY),
        *(sa.Column(column, sa.Text) for column in fact_columns),
    )
