"""The README's demo path, end to end through the real `cityhub` console script on a small city."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.e2e

CITYHUB = Path(sys.executable).with_name("cityhub")


def cityhub(*args: str, home: Path, extra_env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "CITYHUB_HOME": str(home), "COLUMNS": "200", **(extra_env or {})}
    completed = subprocess.run([str(CITYHUB), *args], capture_output=True, text=True, env=env, timeout=900)
    if check:
        assert completed.returncode == 0, f"cityhub {' '.join(args)} failed:\n{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
    return completed


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("demo-home")
    # Two simulated days: the second advances the city, so the scorecard has a history.
    cityhub("demo", "--residents", "300", "--seed", "11", "--days", "2", home=home)
    return home


def latest_report(home: Path) -> dict:
    reports = sorted((home / "runs").glob("*/report.json"))
    return json.loads(reports[-1].read_text(encoding="utf-8"))


def test_demo_publishes_every_table_and_reconciles(demo_home):
    report = latest_report(demo_home)
    assert report["status"] == "success"
    assert report["reconciliation"] and all(row["ok"] for row in report["reconciliation"])
    assert all(entry["raw_validation"]["success"] for entry in report["sources"].values()), "every new raw batch passed its suite"
    assert {row["source"] for row in report["reconciliation"]} == {"public_security", "civil_affairs", "housing", "health"}
    steps = report["step_seconds"]
    assert {"extract health", "validate_raw health", "standardise", "validate_standardised", "resolve", "publish", "scorecard"} <= set(steps)
    assert all(seconds >= 0 for seconds in steps.values()) and steps["resolve"] > 0
    engine = sa.create_engine(f"sqlite:///{demo_home / 'shared.db'}")
    tables = set(sa.inspect(engine).get_table_names())
    assert {"resident", "resident_xref", "resident_lineage", "quarantine", "dataset_version"} <= tables
    assert {"fact_public_security", "fact_civil_affairs", "fact_housing", "fact_health"} <= tables
    with engine.connect() as connection:
        residents = connection.execute(sa.text("select count(*) from resident")).scalar()
        unknown = connection.execute(sa.text("select count(*) from resident_xref x left join resident r using (resident_id) where r.resident_id is null")).scalar()
    assert residents > 200
    assert unknown == 0


def test_every_true_source_record_is_linked_or_quarantined_once(demo_home):
    from cityhub.demo import truth_coverage

    coverage = truth_coverage(f"sqlite:///{demo_home / 'shared.db'}", demo_home / "demo" / "city")
    assert coverage["truth_records"] > 300
    assert coverage["missing"] == 0 and coverage["duplicated"] == 0, coverage


def test_rerun_is_incremental_and_idempotent(demo_home):
    engine = sa.create_engine(f"sqlite:///{demo_home / 'shared.db'}")
    query = sa.text("select resident_id, name, id_number from resident order by resident_id")
    with engine.connect() as connection:
        before = connection.execute(query).all()
    result = cityhub("demo", "--residents", "300", "--seed", "11", "--days", "1", home=demo_home)
    assert "reusing the demo city" in result.stdout
    report = latest_report(demo_home)
    assert report["status"] == "success"
    assert all(entry.get("total_rows", 0) == 0 for entry in report["sources"].values()), "nothing changed, so nothing new should land"
    with engine.connect() as connection:
        assert connection.execute(query).all() == before


def test_demo_writes_the_scorecard_and_quality_report_reads_it(demo_home):
    report = latest_report(demo_home)
    html = Path(report["scorecard"]["html"])
    assert html == demo_home / "runs" / report["run_id"] / "quality" / "scorecard.html" and html.exists()
    page = html.read_text(encoding="utf-8")
    assert all(source in page for source in ("public_security", "civil_affairs", "housing", "health"))
    engine = sa.create_engine(f"sqlite:///{demo_home / 'shared.db'}")
    with engine.connect() as connection:
        runs = connection.execute(sa.text("select count(distinct run_id) from provider_scorecard")).scalar()
        clear_ids = [row[0] for row in connection.execute(sa.text("select id_number from resident where id_number is not null"))]
    assert runs >= 2
    assert not any(number in page for number in clear_ids), "example values must be masked"
    with engine.connect() as connection:
        gated = connection.execute(sa.text("select count(*), sum(case when held then 1 else 0 end) from gate_outcome where run_id = :run"),
                                   {"run": report["run_id"]}).one()
    assert gated[0] > 0 and gated[1] == 0, "the publish records every dataset-gate rule it passed"
    first_run = sorted((demo_home / "runs").glob("*/quality/outcomes.json"))[0]  # it landed every source's first batch
    assert {row["layer"] for row in json.loads(first_run.read_text(encoding="utf-8"))} >= {"raw", "standardised", "resolved", "published"}
    result = cityhub("quality", "report", home=demo_home)
    assert "provider scorecard" in result.stdout and "scorecard HTML:" in result.stdout
    assert "dataset gate:" in result.stdout


def test_status_shows_datasets_and_bookmarks(demo_home):
    result = cityhub("status", home=demo_home)
    assert "resident_xref" in result.stdout
    assert "bookmarks public_security" in result.stdout


def test_bad_source_definition_fails_naming_file_and_key(tmp_path):
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "broken.yaml").write_text("name: broken\ntitle: x\nprovider_code: X\nkind: files\nconnection: {path: /tmp}\nstreams:\n  - name: s\n    pattern: '*.csv'\n    person: {name: n}\n", encoding="utf-8")
    result = cityhub("sources", "validate", "--sources", str(folder), home=tmp_path / "home", check=False)
    assert result.returncode == 2
    assert "broken.yaml" in result.stdout and "primary_key" in result.stdout
