"""The pipeline in-process: a source outage fails that source only; the published layer stays readable."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa

pytestmark = [pytest.mark.e2e, pytest.mark.spark]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def published(url: str) -> dict:
    with sa.create_engine(url).connect() as connection:
        return {
            "residents": connection.execute(sa.text("select count(*) from resident")).scalar(),
            "health_facts": connection.execute(sa.text("select count(*) from fact_health")).scalar(),
            "versions": dict(connection.execute(sa.text("select dataset, max(version) from dataset_version group by dataset")).all()),
        }


def test_source_outage_fails_only_that_source(fresh_city, tmp_path, monkeypatch, spark):
    from simulators.city import advance_city
    from simulators.runtime import CitySystems

    from cityhub.config import Settings
    from cityhub.context import RunContext
    from cityhub.pipeline import run_pipeline

    settings = Settings(home=tmp_path / "home")
    with CitySystems(fresh_city) as systems:
        for name, value in systems.env.items():
            monkeypatch.setenv(name, value)
        first = run_pipeline(RunContext(settings))
        assert first["status"] == "success"
        before = published(settings.shared_layer_url)

        advance_city(fresh_city, days=1)
        monkeypatch.setenv("CITYHUB_HEALTH_URL", f"http://127.0.0.1:{closed_port()}")
        second = run_pipeline(RunContext(settings))

    assert second["status"] == "partial"
    assert second["sources"]["health"]["status"] == "failed"
    assert "health" in second["sources"]["health"]["error"]
    assert all(second["sources"][name]["status"] == "ok" for name in ("public_security", "civil_affairs", "housing"))
    assert sum(second["sources"][name]["total_rows"] for name in ("public_security", "civil_affairs", "housing")) > 0
    after = published(settings.shared_layer_url)
    assert after["health_facts"] == before["health_facts"], "the down source's published facts must stay as they were"
    assert after["versions"]["resident"] == before["versions"]["resident"] + 1
