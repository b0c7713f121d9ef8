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
ComparisonKind = Literal["chinese_name", "latin_name", "id_number", "birth_date", "exact"]


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
    """How m and u are estimated: u by random sampling, m by EM on each blocking rule listed."""

    u_max_pairs: float = 1e6
    em_blocking: list[list[str]] = Field(min_length=1)
    max_iterations: int = Field(default=10, ge=1)
    deterministic_rule: list[str] = Field(min_length=1)
    deterministic_recall: float = Field(default=0.8, gt=0, le=1)


class MatchingProfile(_Model):
    """A full matching profile."""

    name: str
    comparisons: list[ComparisonSpec] = Field(min_length=1)
    blocking: list[list[str]] = Field(min_length=1)
    training: TrainingSpec
    threshold: float = Field(default=0.95, gt=0, lt=1)
    review_threshold: float = Field(default=0.5, gt=0, lt=1)
    id_anchored: bool = True  # the deterministic ID pass runs first (Chinese resident ID numbers)
    # A trained Splink model (JSON, relative to the profile) used when the caller passes none; without
    # one every run trains on its own data.
    model: str | None = None
    source: Path | None = None  # the file the profile was read from (set by load_profile)

    @model_validator(mode="after")
    def _review_below_match(self):
        if self.review_threshold > self.threshold:
            raise ValueError(f"review_threshold ({self.review_threshold}) must not exceed threshold ({self.threshold})")
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
