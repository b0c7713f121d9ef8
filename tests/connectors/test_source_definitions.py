"""Source definition YAML: the demo city's four files load, and every mistake names the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cityhub.config import PACKAGE_SOURCES_DIR
from connectors.definition import SourceDefinitionError, load_source_definition, load_source_definitions
from connectors.extract import client_for

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "connectors" / "examples"

VALID = {
    "name": "education",
    "title": "教育局学籍信息",
    "provider_code": "JY",
    "kind": "files",
    "connection": {"path": "/srv/education/drop"},
    "streams": [{"name": "students", "pattern": "students_*.csv", "primary_key": "学籍号", "person": {"id_number": "身份证号", "name": "姓名"}}],
}


def write(tmp_path: Path, data: dict, name: str = "education.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def with_changes(**changes) -> dict:
    data = {**VALID, **changes}
    return {k: v for k, v in data.items() if v is not None}


def test_the_demo_city_sources_and_the_examples_load():
    names = [d.name for d in load_source_definitions(PACKAGE_SOURCES_DIR)]
    assert names == ["civil_affairs", "health", "housing", "public_security"]
    assert [d.name for d in load_source_definitions(EXAMPLES_DIR)] == ["social_security"]


def test_valid_definition(tmp_path):
    definition = load_source_definition(write(tmp_path, VALID))
    assert definition.stream("students").primary_key == "学籍号"
    assert definition.path == tmp_path / "education.yaml"


def test_missing_key(tmp_path):
    path = write(tmp_path, with_changes(provider_code=None))
    with pytest.raises(SourceDefinitionError) as caught:
        load_source_definition(path)
    message = str(caught.value)
    assert str(path) in message and "provider_code" in message and "add `provider_code:`" in message


def test_unknown_key(tmp_path):
    streams = [{**VALID["streams"][0], "primary_kye": "x"}]
    path = write(tmp_path, with_changes(streams=streams))
    with pytest.raises(SourceDefinitionError) as caught:
        load_source_definition(path)
    message = str(caught.value)
    assert str(path) in message and "streams.0.primary_kye: unknown key" in message and "check its spelling" in message


def test_literal_secret(tmp_path):
    path = write(tmp_path, with_changes(kind="rest", connection={"base_url": "http://x", "auth": {"type": "bearer", "token": "abc123"}}))
    with pytest.raises(SourceDefinitionError) as caught:
        load_source_definition(path)
    message = str(caught.value)
    assert str(path) in message and "connection.auth.token" in message and "token_env: NAME_OF_ENV_VAR" in message
    assert "abc123" not in message  # the secret itself is not echoed into logs


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        ({"name": "Students", "pattern": "s.csv", "primary_key": "id", "person": {"name": "n"}}, "streams.0.name: must be lower_snake_case"),
        ({"name": "students", "primary_key": "id", "person": {"name": "n"}}, "stream `students` of a `files` source needs `pattern`"),
        ({"name": "students", "pattern": "s.csv", "primary_key": "id"}, "needs exactly one of `person`"),
        ({"name": "students", "pattern": "s.csv", "primary_key": "id", "person": {"gender": "g"}}, "needs at least `id_number` or `name`"),
        ({"name": "grades", "pattern": "g.csv", "primary_key": "id", "subject": {"stream": "pupils", "field": "sid"}}, "subject stream `pupils` is not a stream of this source"),
    ],
)
def test_bad_stream(tmp_path, stream, expected):
    path = write(tmp_path, with_changes(streams=[stream]))
    with pytest.raises(SourceDefinitionError) as caught:
        load_source_definition(path)
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_missing_environment_variable_is_named_when_the_source_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv("CITYHUB_EDUCATION_DROP", raising=False)
    path = write(tmp_path, with_changes(connection={"path": "${CITYHUB_EDUCATION_DROP}"}))
    definition = load_source_definition(path)  # parsing does not need the environment (DAG files parse definitions)
    with pytest.raises(SourceDefinitionError) as caught:
        client_for(definition)
    message = str(caught.value)
    assert str(path) in message and "connection.path" in message and "export CITYHUB_EDUCATION_DROP=" in message


def test_missing_secret_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("CITYHUB_EDU_TOKEN", raising=False)
    path = write(tmp_path, with_changes(kind="rest", connection={"base_url": "http://x", "auth": {"type": "bearer", "token_env": "CITYHUB_EDU_TOKEN"}}, streams=[{**VALID["streams"][0], "path": "/students"}]))
    with pytest.raises(SourceDefinitionError) as caught:
        client_for(load_source_definition(path))
    message = str(caught.value)
    assert str(path) in message and "connection.auth.token_env" in message and "export CITYHUB_EDU_TOKEN=" in message


def test_not_yaml_and_not_a_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(SourceDefinitionError, match="bad.yaml: not valid YAML"):
        load_source_definition(bad)
    bad.write_text("- just a list", encoding="utf-8")
    with pytest.raises(SourceDefinitionError, match="bad.yaml: expected a mapping"):
        load_source_definition(bad)
