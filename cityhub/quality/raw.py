"""The raw layer's gate: the batch a source has just landed, validated stream by stream with GX on pandas.

Each stream's batch (`lake/raw/<source>/<stream>/batch_id=<batch>/`) is read with pyarrow, only the
columns the suite names, and checked with the department's suite (`raw_<source>.json`, which includes
the common `raw_batch.json`; a department without its own file gets the common one). An expectation
whose `meta.streams` lists streams applies to those only. To the suite's rules the batch's own facts add:

- `provenance_matches_batch` (critical): `_source`, `_stream`, `_batch_id` name this source, stream, batch;
- `missing_primary_key` (warning): the stream's primary key is present and not blank; the standardiser
  quarantines such rows under the same rule, so the batch may go on;
- `rows_match_extract` (critical): the batch holds as many rows as the extract step reported landing.

No Spark: an ingest task validates what it landed without starting a JVM. Outcomes go to the run's
`quality/outcomes.json` as layer `raw` (one source's rows replaced at a time) and the results into the
run's GX folder, so the run's Data Docs show them. What to do with a failed batch is the caller's
(`cityhub.pipeline.validate_raw_step` withdraws it, as if the source had been down).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import great_expectations as gx
import pandas as pd
import pyarrow.dataset as pads

from cityhub.lake import Lake
from connectors.definition import SourceDefinition, Stream

from .gates import MISSING_PRIMARY_KEY, RAW, outcome_records, quality_dir, write_outcomes
from .run import ExpectationOutcome, QualityResult, validate_pandas_frames
from .suites import CRITICAL, SUITES_DIR, WARNING, build_suite, raw_suite, suite_expectations

PROVENANCE_MATCHES_BATCH = "provenance_matches_batch"
ROWS_MATCH_EXTRACT = "rows_match_extract"
BLANK = r"^\s*$"  # the standardiser reads a blank key as a missing one
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list", "column_set")


class RawBatchRejected(RuntimeError):
    """A critical raw-layer rule failed on a source's batch: the message names the stream and the rule."""


@dataclass
class RawValidation:
    """How each stream's batch of one source fared: its outcomes, rows found and rows the extract reported."""

    source: str
    batch_id: str
    results: dict[str, QualityResult] = field(default_factory=dict)
    landed: dict[str, int] = field(default_factory=dict)
    reported: dict[str, int] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        """True when a critical rule failed on any stream: the batch must not be passed on."""
        return any(result.blocking for result in self.results.values())

    def failures(self, severity: str | None = None) -> list[str]:
        """`<stream>: <rule>(<column>) [n unexpected]` for every failed expectation (of one severity if given)."""
        return [f"{stream}: {self._described(stream, outcome)}"
                for stream, result in self.results.items() for outcome in result.failures(severity)]

    def message(self) -> str:
        """One line naming the batch and every critical rule it broke."""
        return f"raw batch {self.batch_id} of {self.source} failed: " + "; ".join(self.failures(CRITICAL))

    def summary(self) -> dict:
        """What the run report keeps: pass or not, rows per stream, failed rules by severity."""
        return {"success": not self.blocking, "batch_id": self.batch_id, "rows": dict(self.landed),
                "critical": self.failures(CRITICAL), "warning": self.failures(WARNING)}

    def _described(self, stream: str, outcome: ExpectationOutcome) -> str:
        if outcome.rule == ROWS_MATCH_EXTRACT:
            return f"{outcome.rule} [{self.landed.get(stream, 0)} rows in the batch, {self.reported.get(stream, 0)} reported]"
        name = outcome.rule or outcome.expectation
        if outcome.target not in (outcome.rule, outcome.expectation):
            name = f"{name}({outcome.target})"
        if outcome.error:
            return f"{name}: {outcome.error}"
        return f"{name} [{outcome.unexpected_count} unexpected]" if outcome.unexpected_count is not None else name


def batch_expectations(source: str, stream: Stream, batch_id: str, reported_rows: int) -> list[dict]:
    """The rules a batch's own facts give: provenance naming it, its primary key present, the rows reported."""
    def names(column: str, value: str) -> dict:
        return {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": column, "value_set": [value]},
                "meta": {"severity": CRITICAL, "rule": PROVENANCE_MATCHES_BATCH}}

    why_key = "the standardiser quarantines the row as missing_primary_key"
    return [
        names("_source", source), names("_stream", stream.name), names("_batch_id", batch_id),
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": stream.primary_key},
         "meta": {"severity": WARNING, "rule": MISSING_PRIMARY_KEY, "why": why_key}},
        {"type": "expect_column_values_to_not_match_regex", "kwargs": {"column": stream.primary_key, "regex": BLANK},
         "meta": {"severity": WARNING, "rule": MISSING_PRIMARY_KEY, "why": why_key}},
        {"type": "expect_table_row_count_to_equal", "kwargs": {"value": int(reported_rows)},
         "meta": {"severity": CRITICAL, "rule": ROWS_MATCH_EXTRACT, "why": "rows lost or added between the extract and the lake"}},
    ]


def raw_stream_suite(source: str, stream: Stream, batch_id: str, reported_rows: int, suites_dir: Path = SUITES_DIR) -> gx.ExpectationSuite:
    """The suite one stream's batch is validated with: the department's raw rules for it, then the batch's own."""
    name = raw_suite(source, suites_dir)
    configured = [e for e in suite_expectations(name, suites_dir) if applies_to(e, stream.name)]
    return build_suite(f"{name}.{stream.name}", configured + batch_expectations(source, stream, batch_id, reported_rows))


def applies_to(expectation: dict, stream: str) -> bool:
    """True unless the expectation's `meta.streams` lists other streams only."""
    streams = (expectation.get("meta") or {}).get("streams")
    return streams is None or stream in streams


def named_columns(suite: gx.ExpectationSuite) -> list[str]:
    """Every column the suite's expectations name, in first-named order (the only ones worth reading)."""
    columns: dict[str, None] = {}
    for expectation in suite.expectations:
        kwargs = expectation.configuration.kwargs
        for key in _COLUMN_KWARGS:
            if key in kwargs:
                columns.setdefault(kwargs[key], None)
        for key in _COLUMN_LIST_KWARGS:
            for column in kwargs.get(key) or ():
                columns.setdefault(column, None)
    return list(columns)


def batch_frame(folder: Path, columns: Iterable[str]) -> pd.DataFrame:
    """The batch's rows as a pandas DataFrame of those of `columns` it has (none at all when the folder is missing)."""
    if not folder.is_dir():
        return pd.DataFrame()
    dataset = pads.dataset(str(folder), format="parquet")
    present = [c for c in columns if c in dataset.schema.names]
    return dataset.to_table(columns=present).to_pandas()


def validate_raw_batch(lake: Lake, definition: SourceDefinition, batch_id: str, reported_rows: Mapping[str, int], run_dir: Path,
                       suites_dir: Path = SUITES_DIR) -> RawValidation:
    """Validate every stream's batch `batch_id` of one source against its suite and the rows the extract reported."""
    validation = RawValidation(definition.name, batch_id, reported={s: int(reported_rows.get(s, 0)) for s in _stream_names(definition)})
    frames = {}
    for stream in definition.streams:
        folder = lake.raw_batch(definition.name, stream.name, batch_id)
        reported = validation.reported[stream.name]
        if reported == 0 and not folder.exists():
            continue  # nothing new in this stream: no batch folder, nothing to check
        suite = raw_stream_suite(definition.name, stream, batch_id, reported, suites_dir)
        frame = batch_frame(folder, named_columns(suite))
        validation.landed[stream.name] = len(frame)
        frames[stream.name] = (frame, suite)
    if not frames:
        return validation
    with _run_folder_lock(run_dir):
        validation.results = validate_pandas_frames(frames, quality_dir(run_dir), RAW)
        records = [row for stream, result in validation.results.items() for row in outcome_records(result, RAW, stream, definition.name)]
        write_outcomes(run_dir, RAW, records, source=definition.name)
    return validation


def _stream_names(definition: SourceDefinition) -> list[str]:
    return [stream.name for stream in definition.streams]


@contextmanager
def _run_folder_lock(run_dir: Path) -> Iterator[None]:
    # Ingest DAGs on one schedule get one run id, hence one run folder: their validations would
    # otherwise write the same GX context and outcomes.json at the same time.
    path = quality_dir(run_dir) / ".raw.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
