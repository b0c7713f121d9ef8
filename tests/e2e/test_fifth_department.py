"""A fifth department added with nothing but the README's YAML file, run through the whole pipeline."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "connectors" / "examples" / "social_security.yaml"
HEADER = ["参保编号", "姓名", "公民身份号码", "性别", "出生日期", "联系电话", "居住地址", "险种", "参保状态", "缴费基数", "参保日期", "单位名称", "更新时间"]


def test_readme_shows_the_example_file():
    block = re.search(r"```yaml\n(name: social_security.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S).group(1)
    assert yaml.safe_load(block) == yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def write_insured_drop(city: Path, drop: Path, count: int) -> list[dict]:
    """Insured persons drawn from the city's local residents, as the bureau would export them (GBK)."""
    with open(city / "truth" / "persons.csv", newline="", encoding="utf-8") as handle:
        people = [p for p in csv.DictReader(handle) if p["hukou_registered"] == "true" and not p["death_date"]][:count]
    drop.mkdir(parents=True)
    with open(drop / "insured_20260701.csv", "w", newline="", encoding="gbk") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index, person in enumerate(people):
            writer.writerow([f"RS{index:05d}", person["name"], person["id_number"], "男" if person["gender"] == "M" else "女",
                             person["birth_date"], person["phone"], person["current_address"], "城镇职工基本养老保险", "正常参保",
                             "6500.00", "2010-01-01", "", "2026-07-01 09:00:00"])
    with open(drop / "payments_20260701.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["缴费流水号", "参保编号", "费款所属期", "缴费金额", "到账日期", "更新时间"])
        writer.writerow(["JF000001", "RS00000", "202606", "1040.00", "2026-07-01", "2026-07-01 09:00:00"])
        writer.writerow(["JF000002", "RS99999", "202606", "1040.00", "2026-07-01", "2026-07-01 09:00:00"])  # no such insured person
    return people


def test_fifth_department_is_linked_and_published(fresh_city, tmp_path, monkeypatch, spark):
    from simulators.runtime import CitySystems

    from cityhub.config import Settings
    from cityhub.context import RunContext
    from cityhub.pipeline import run_pipeline

    sources = tmp_path / "sources"
    shutil.copytree(REPO / "connectors" / "sources", sources)
    shutil.copy(EXAMPLE, sources)
    people = write_insured_drop(fresh_city, tmp_path / "ss_drop", count=25)
    monkeypatch.setenv("CITYHUB_SOCIAL_SECURITY_DROP", str(tmp_path / "ss_drop"))
    settings = Settings(home=tmp_path / "home", sources_dir=sources)

    with CitySystems(fresh_city) as systems:
        for name, value in systems.env.items():
            monkeypatch.setenv(name, value)
        report = run_pipeline(RunContext(settings))

    assert report["status"] == "success"
    rows = {(r["source"], r["stream"]): r for r in report["reconciliation"] if r["kind"] == "persons"}
    assert rows[("social_security", "insured")]["current"] == 25
    with sa.create_engine(settings.shared_layer_url).connect() as connection:
        linked = connection.execute(sa.text(
            "select r.id_number, count(distinct x.source) from resident_xref x join resident r using (resident_id) "
            "where r.resident_id in (select resident_id from resident_xref where source = 'social_security') group by r.id_number"
        )).all()
        facts = connection.execute(sa.text("select stream, count(*) from fact_social_security group by stream")).all()
        orphans = connection.execute(sa.text("select count(*) from quarantine where source = 'social_security' and stream = 'payments'")).scalar()
    assert {id_number for id_number, _ in linked} == {p["id_number"] for p in people}
    assert all(sources_seen >= 2 for _, sources_seen in linked), "each insured person should join their public security record"
    assert dict(facts) == {"insured": 25, "payments": 1}
    assert orphans == 1
