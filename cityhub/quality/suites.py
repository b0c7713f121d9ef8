"""The JSON suites under `expectations/suites/`: loading them as GX suites and reading each rule's severity."""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations as gx
from great_expectations.expectations.expectation import Expectation

from . import expectations as _custom  # noqa: F401 - registers the domain's expectations before suites name them

SUITES_DIR = Path(__file__).resolve().parents[2] / "expectations" / "suites"
CRITICAL = "critical"
WARNING = "warning"
SEVERITIES = (CRITICAL, WARNING)

STANDARDISED_PERSONS = "standardised_persons"
RAW_BATCH = "raw_batch"  # the provenance rules every landed batch must keep, whatever its source
PUBLISHED_DATASETS = ("resident", "resident_xref", "resident_lineage")
FACT_SUITE = "fact"  # one suite for every fact_<source> table


class SuiteError(ValueError):
    """A suite file that cannot be used as written (unknown expectation, missing severity)."""


def suite_path(name: str, suites_dir: Path = SUITES_DIR) -> Path:
    """The JSON file of the suite called `name`."""
    return suites_dir / f"{name}.json"


def load_suite(name: str, suites_dir: Path = SUITES_DIR) -> gx.ExpectationSuite:
    """The suite `name` from its JSON file, every expectation checked to exist and carry a severity."""
    document = json.loads(suite_path(name, suites_dir).read_text(encoding="utf-8"))
    return build_suite(document.get("name", name), suite_expectations(name, suites_dir), document.get("meta"))


def build_suite(name: str, configured: list[dict], meta: dict | None = None) -> gx.ExpectationSuite:
    """A GX suite of expectation configurations, every one checked to carry a severity and to build."""
    for position, expectation in enumerate(configured):
        _check_severity(name, position, expectation.get("meta") or {})
    suite = gx.ExpectationSuite(name=name, expectations=configured, meta=meta)
    # GX logs and drops an expectation it cannot build; a quality gate must not lose a rule silently.
    if len(suite.expectations) != len(configured):
        raise SuiteError(f"suite {name}: {len(configured) - len(suite.expectations)} expectation(s) could not be built")
    return suite


def suite_expectations(name: str, suites_dir: Path = SUITES_DIR) -> list[dict]:
    """The suite's expectation configurations, those of the suite it includes (`"include"`) first."""
    document = json.loads(suite_path(name, suites_dir).read_text(encoding="utf-8"))
    included = suite_expectations(document["include"], suites_dir) if document.get("include") else []
    return included + document.get("expectations", [])


def standardised_suite(source: str, suites_dir: Path = SUITES_DIR) -> str:
    """The standardised-layer suite of a department: its own file, or the common person rules."""
    own = f"standardised_{source}"
    return own if suite_path(own, suites_dir).exists() else STANDARDISED_PERSONS


def raw_suite(source: str, suites_dir: Path = SUITES_DIR) -> str:
    """The raw-layer suite of a department: its own file, or the common landed-batch rules."""
    own = f"raw_{source}"
    return own if suite_path(own, suites_dir).exists() else RAW_BATCH


def severity_of(expectation: Expectation) -> str:
    """The severity (`critical` or `warning`) recorded in an expectation's meta."""
    return (expectation.meta or {}).get("severity", CRITICAL)


def _check_severity(suite: str, position: int, meta: dict) -> None:
    if meta.get("severity") not in SEVERITIES:
        raise SuiteError(f"suite {suite}: expectation {position} needs meta.severity in {SEVERITIES}, got {meta.get('severity')!r}")
