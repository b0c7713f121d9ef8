"""Matching profiles: which comparisons, blocking rules and thresholds the probabilistic pass uses.

A profile is a YAML file in `profiles/` (`chinese_resident.yaml` is the default, `latin_person.yaml`
resolves Latin-script person files). It is validated with pydantic; a bad file raises ProfileError
naming the file, the key and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PROFILES_DIR = Path(__file__).with_name("profiles")
DEFAULT_PROFILE = PROFILES_DIR / "chinese_resident.yaml"

# The comparison kinds the engine knows (see comparisons.py for their levels).
ComparisonKind = Literal["chinese_name", "latin_name", "id_number", "rounded_id", "birth_date", "address", "exact"]


class ProfileError(ValueError):
    """A matching profile is wrong; the message names the file, the key and the fix."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComparisonSpec(_Model):
    """One comparison: its kind, the column it reads and whether names get term-frequency adjustment."""

    kind: ComparisonKind
    column: str
    term_frequency: bool = False


class TrainingSpec(_Model):
    """How λ, m and u are estimated on the run's own records.

    λ from the deterministic rule; u by random sampling; m first from `label_column` (pairs of records
    that share a value of it are taken as matches: the deterministic pass's ID anchors), then by EM
    on each `em_blocking` rule (only pairs the pass would score, so levels the labels never show —
    a typo'd ID number against the true one — are learnt too).
    """

    u_max_pairs: float = 1e6
    # Splink samples u in chunks to stop early once every level is seen 100 times; levels that rare
    # pairs reach (one typo in an ID number) never are, so chunks only add Spark jobs.
    u_chunks: int = Field(default=1, ge=1)
    label_column: str | None = None
    em_blocking: list[list[str]] = Field(default_factory=list)
    max_iterations: int = Field(default=10, ge=1)
    deterministic_rule: list[str] = Field(min_length=1)
    deterministic_recall: float = Field(default=0.8, gt=0, le=1)
    # Fewer labelled pairs than this and m cannot be estimated reliably: the profile's model is used.
    min_label_pairs: int = Field(default=1000, ge=0)
    # Training reads at most about this many records (whole clusters, chosen by hash, so labelled
    # pairs stay together); scoring always reads all. m and u need a sample, not the whole city.
    sample_records: int = Field(default=60_000, ge=1000)


class Condition(_Model):
    """A comparison at `at_least` (a level label) or a stronger level."""

    comparison: str
    at_least: str


class Requirement(Condition):
    """A probabilistic link needs this comparison at `at_least` or stronger, and each `provided` condition
    wherever both records have that field (a missing value does not refuse; a contrary one does)."""

    provided: list[Condition] = Field(default_factory=list)


class MatchingProfile(_Model):
    """A full matching profile."""

    name: str
    comparisons: list[ComparisonSpec] = Field(min_length=1)
    blocking: list[list[str]] = Field(min_length=1)
    training: TrainingSpec
    threshold: float = Field(default=0.95, gt=0, lt=1)
    review_threshold: float = Field(default=0.5, gt=0, lt=1)
    id_anchored: bool = True  # the deterministic ID pass runs first (Chinese resident ID numbers)
    # A pair may only link when one of these holds, whatever its probability (none listed: no such rule).
    link_requires: list[Requirement] = Field(default_factory=list)
    # A record whose best link and its best link to another resident differ by fewer match-weight
    # bits than this joins neither: it goes to review as ambiguous.
    ambiguity_margin: float = Field(default=5.0, ge=0)
    # A reference model (JSON, relative to the profile) used when the caller passes none and the run
    # has too few labelled pairs to train on (training.min_label_pairs).
    model: str | None = None
    source: Path | None = None  # the file the profile was read from (set by load_profile)

    @model_validator(mode="after")
    def _review_below_match(self):
        if self.review_threshold > self.threshold:
            raise ValueError(f"review_threshold ({self.review_threshold}) must not exceed threshold ({self.threshold})")
        if not self.training.em_blocking and not self.training.label_column:
            raise ValueError("training needs label_column or em_blocking (or both) to estimate m")
        from .comparisons import comparison  # comparisons build on this module's specs

        levels = {spec.column: [level["label_for_charts"] for level in comparison(spec)["comparison_levels"]] for spec in self.comparisons}
        for condition in (c for requirement in self.link_requires for c in (requirement, *requirement.provided)):
            if condition.at_least not in levels.get(condition.comparison, []):
                known = levels.get(condition.comparison)
                raise ValueError(f"link_requires: comparison {condition.comparison!r} has no level {condition.at_least!r}"
                                 + (f"; its levels: {', '.join(known)}" if known else f"; comparisons: {', '.join(levels)}"))
        return self

    def trained_model(self) -> dict | None:
        """The profile's shipped trained model, or None when runs should train their own."""
        if not self.model:
            return None
        path = (self.source.parent if self.source else PROFILES_DIR) / self.model
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProfileError(f"{self.source}: model: cannot read {path} ({exc}); train one or remove the key") from None

    def columns(self) -> list[str]:
        """Every input column the comparisons and blocking rules read."""
        names = [c.column for c in self.comparisons] + [c for rule in self.blocking for c in rule]
        return list(dict.fromkeys(names))


def load_profile(path: Path | str = DEFAULT_PROFILE) -> MatchingProfile:
    """Read and validate a matching profile; raise ProfileError naming the file and key."""
    path = Path(path)
    if not path.suffix and not path.exists():
        path = PROFILES_DIR / f"{path}.yaml"  # a bare name means a shipped profile
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        shipped = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise ProfileError(f"{path}: no such matching profile; use a YAML file path or one of: {shipped}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML, fix the syntax: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a matching profile must be a mapping with keys name, comparisons, blocking, training")
    try:
        return MatchingProfile.model_validate({**data, "source": path})
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors())
        raise ProfileError(f"{path}: invalid matching profile: {details}") from None
