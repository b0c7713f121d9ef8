"""Where every layer lives on disk: one folder per layer, one folder per batch or run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Lake:
    """Paths of the lake under a cityhub home folder.

    raw/<source>/<stream>/batch_id=<batch>/     exactly what the source returned (Parquet)
    rejected/raw/<source>/<stream>/batch_id=<batch>/   raw batches that failed raw validation, kept as landed
    standardised/<run>/persons|facts/<source>/<stream>/   canonical records and department facts
    quarantine/<run>/                           rows kept out, with rule and reason
    resolved/<run>/resident|resident_xref|resident_lineage/
    published/<run>/                            what the publisher loaded (Parquet, one folder per table)
    """

    root: Path

    @classmethod
    def under(cls, home: Path) -> "Lake":
        return cls(Path(home) / "lake")

    def raw_stream(self, source: str, stream: str) -> Path:
        return self.root / "raw" / source / stream

    def raw_batch(self, source: str, stream: str, batch_id: str) -> Path:
        return self.raw_stream(source, stream) / f"batch_id={batch_id}"

    def rejected_raw_batch(self, source: str, stream: str, batch_id: str) -> Path:
        # Outside raw/ so that no reader of raw/<source>/<stream> can pick a rejected batch up.
        return self.root / "rejected" / "raw" / source / stream / f"batch_id={batch_id}"

    def standardised(self, run_id: str) -> Path:
        return self.root / "standardised" / run_id

    def standardised_persons(self, run_id: str) -> Path:
        return self.standardised(run_id) / "persons"

    def standardised_facts(self, run_id: str, source: str) -> Path:
        return self.standardised(run_id) / "facts" / source

    def quarantine(self, run_id: str) -> Path:
        return self.root / "quarantine" / run_id

    def resolved(self, run_id: str, table: str) -> Path:
        return self.root / "resolved" / run_id / table


def state_dir(home: Path) -> Path:
    """Per-source watermark state (bookmarks), kept outside the lake."""
    return Path(home) / "state"


def runs_dir(home: Path) -> Path:
    """Run reports, one folder per run id."""
    return Path(home) / "runs"
