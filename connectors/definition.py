"""Source definitions: one YAML file per department, validated into typed models.

A data engineer adds a department by writing a YAML file, not code. Secrets never live in the
YAML: credentials are named by environment variable (`token_env`, `password_env`), and any string
may reference the environment as `${VAR}` or `${VAR:-default}`, resolved when the source is used
(not when the file is parsed, so DAG files can read definitions without the secrets).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CANONICAL_PERSON_FIELDS = (
    "id_number", "name", "gender", "birth_date", "phone", "address",
    "ethnicity", "marital_status", "death_date", "source_updated_at",
)

_ENV_REF = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
_SECRET_KEYS = {"token", "password", "secret", "api_key", "apikey"}


class SourceDefinitionError(ValueError):
    """A source definition is wrong; the message names the file, the key and the fix."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldRef(_Model):
    """Where a value sits in a source record: a column, optionally a JSON path inside it, optional code table."""

    field: str
    json_path: str | None = None
    codes: dict[str, str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_plain_name(cls, value: Any) -> Any:
        return {"field": value} if isinstance(value, str) else value


class PersonMapping(_Model):
    """How a source record maps onto the canonical person record."""

    id_number: FieldRef | None = None
    name: FieldRef | None = None
    gender: FieldRef | None = None
    birth_date: FieldRef | None = None
    phone: FieldRef | None = None
    address: FieldRef | None = None
    ethnicity: FieldRef | None = None
    marital_status: FieldRef | None = None
    death_date: FieldRef | None = None
    source_updated_at: FieldRef | None = None

    @model_validator(mode="after")
    def _has_identity(self) -> "PersonMapping":
        if self.id_number is None and self.name is None:
            raise ValueError("a person mapping needs at least `id_number` or `name`")
        return self


class Subject(_Model):
    """For fact-only streams: the person record (in another stream of this source) a row is about.

    The value at `field` (and `json_path`, if the column holds JSON), less `prefix`, is the primary
    key of the subject's row in `stream`: e.g. `{"reference": "Patient/P1"}` with prefix `Patient/`.
    """

    stream: str
    field: str
    json_path: str | None = None
    prefix: str | None = None


class Stream(_Model):
    """One table, endpoint or file family of a source (Singer-style declarative stream)."""

    name: str
    primary_key: str
    # sql: a column; rest: a dotted path into the record (`meta.lastUpdated`); files: a column used
    # to order versions (new and changed files themselves are found by name and content hash).
    replication_key: str | None = None
    table: str | None = None  # sql
    path: str | None = None  # rest: endpoint path under base_url
    records_path: str | None = None  # rest: where the records sit in a response, e.g. `items` or `entry[].resource`
    # rest: query parameters; a value containing `{bookmark}` is filled with the stream's bookmark
    # and the parameter is left out when there is none yet, e.g. `updated_since: "{bookmark}"`.
    params: dict[str, str] = Field(default_factory=dict)
    pattern: str | None = None  # files: glob inside the drop folder
    sheet: str | None = None  # files: XLSX sheet name (first sheet by default)
    person: PersonMapping | None = None
    subject: Subject | None = None
    facts: dict[str, FieldRef] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("must be lower_snake_case (letters, digits, underscores)")
        return value

    @model_validator(mode="after")
    def _person_or_subject(self) -> "Stream":
        if (self.person is None) == (self.subject is None):
            raise ValueError("a stream needs exactly one of `person` (rows describe a person) or `subject` (rows are facts about a person record of another stream)")
        return self


class Auth(_Model):
    """How to authenticate; secrets come from environment variables named here."""

    type: Literal["none", "bearer", "header", "basic"] = "none"
    token_env: str | None = None
    header: str = "Authorization"
    username_env: str | None = None
    password_env: str | None = None

    @model_validator(mode="after")
    def _needs_secret(self) -> "Auth":
        if self.type in ("bearer", "header") and not self.token_env:
            raise ValueError(f"auth type `{self.type}` needs `token_env: NAME_OF_ENV_VAR` holding the token")
        if self.type == "basic" and not (self.username_env and self.password_env):
            raise ValueError("auth type `basic` needs `username_env` and `password_env`")
        return self


class Paginator(_Model):
    """How a REST endpoint pages: page/size numbers, offset/limit, or `next` links (cursor)."""

    type: Literal["none", "page", "offset", "next_link"] = "page"
    page_param: str = "page"
    size_param: str = "size"
    offset_param: str = "offset"  # offset: the parameter carrying the offset (size_param carries the limit)
    page_size: int = Field(default=500, gt=0)
    start_page: int = 1
    next_link_path: str = "next"  # next_link: dotted path to the next URL, `link[relation=next].url` style supported


class SqlConnection(_Model):
    url: str
    chunk_size: int = Field(default=5000, gt=0)
    schema_name: str | None = Field(default=None, alias="schema")


class RestConnection(_Model):
    base_url: str
    auth: Auth = Auth()
    paginator: Paginator = Paginator()
    timeout_seconds: float = Field(default=30.0, gt=0)
    retries: int = Field(default=5, ge=0)
    backoff_factor: float = Field(default=0.5, ge=0)
    max_pages: int = Field(default=100_000, gt=0)


class FilesConnection(_Model):
    path: str
    encoding: str = "auto"


class SqlSource(_Model):
    kind: Literal["sql"]
    connection: SqlConnection


class RestSource(_Model):
    kind: Literal["rest"]
    connection: RestConnection


class FilesSource(_Model):
    kind: Literal["files"]
    connection: FilesConnection


class SourceDefinition(_Model):
    """A department system the hub pulls from."""

    name: str
    title: str
    provider_code: str
    kind: Literal["sql", "rest", "files"]
    connection: Union[SqlConnection, RestConnection, FilesConnection]
    schedule: str = "@daily"
    streams: list[Stream] = Field(min_length=1)
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("must be lower_snake_case (letters, digits, underscores)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _connection_for_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("connection"), dict):
            model = {"sql": SqlConnection, "rest": RestConnection, "files": FilesConnection}.get(data.get("kind"))
            if model is not None:
                data = {**data, "connection": model.model_validate(data["connection"])}
        return data

    @model_validator(mode="after")
    def _streams_consistent(self) -> "SourceDefinition":
        names = [s.name for s in self.streams]
        if len(set(names)) != len(names):
            raise ValueError(f"stream names must be unique, got {names}")
        where = {"sql": "table", "rest": "path", "files": "pattern"}[self.kind]
        for stream in self.streams:
            if getattr(stream, where) is None:
                raise ValueError(f"stream `{stream.name}` of a `{self.kind}` source needs `{where}`")
            if stream.subject and stream.subject.stream not in names:
                raise ValueError(f"stream `{stream.name}`: subject stream `{stream.subject.stream}` is not a stream of this source")
        return self

    def fact_names(self) -> list[str]:
        """Every fact name declared across this source's streams, in declaration order."""
        return list(dict.fromkeys(name for stream in self.streams for name in stream.facts))

    def stream(self, name: str) -> Stream:
        """The stream called `name`."""
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(f"source {self.name} has no stream {name!r}")


def resolve_env(value: str, where: str = "") -> str:
    """Replace `${VAR}` / `${VAR:-default}` with the environment's values; fail naming the variable."""

    def substitute(match: re.Match) -> str:
        name, default = match.group("name"), match.group("default")
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise SourceDefinitionError(f"{where}: environment variable {name} is not set; export {name}=... before running this source")

    return _ENV_REF.sub(substitute, value)


def secret_from_env(variable: str, where: str) -> str:
    """Read a secret from the environment variable a definition names."""
    try:
        return os.environ[variable]
    except KeyError:
        raise SourceDefinitionError(f"{where}: secret environment variable {variable} is not set; export {variable}=... (secrets never go in the YAML)") from None


def _reject_literal_secrets(node: Any, path: str, file: Path) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key).lower() in _SECRET_KEYS and isinstance(value, str):
                raise SourceDefinitionError(
                    f"{file}: {path}{key}: secrets may not be written in source definitions; "
                    f"use `{key}_env: NAME_OF_ENV_VAR` and export that variable instead"
                )
            _reject_literal_secrets(value, f"{path}{key}.", file)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _reject_literal_secrets(value, f"{path}{index}.", file)


def _describe(error: dict) -> str:
    location = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-after"))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{location}: required key is missing; add `{error['loc'][-1]}:` here"
    if error["type"] == "extra_forbidden":
        return f"{location}: unknown key; remove it or check its spelling against docs/sources.md"
    return f"{location}: {message}" if location else message


def parse_source_definition(data: Any, file: Path) -> SourceDefinition:
    """Validate one parsed YAML document; raise SourceDefinitionError naming file, key and fix."""
    if not isinstance(data, dict):
        raise SourceDefinitionError(f"{file}: expected a mapping at the top level (name, title, kind, connection, streams)")
    _reject_literal_secrets(data, "", file)
    try:
        definition = SourceDefinition.model_validate(data)
    except ValidationError as exc:
        details = "\n  ".join(_describe(error) for error in exc.errors())
        raise SourceDefinitionError(f"{file}: invalid source definition:\n  {details}") from None
    return definition.model_copy(update={"path": file})


def load_source_definition(file: Path) -> SourceDefinition:
    """Read and validate one source definition YAML file."""
    file = Path(file)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceDefinitionError(f"{file}: no such source definition file") from None
    except yaml.YAMLError as exc:
        raise SourceDefinitionError(f"{file}: not valid YAML: {exc}") from None
    return parse_source_definition(data, file)


def load_source_definitions(folder: Path) -> list[SourceDefinition]:
    """All source definitions in a folder (`*.yaml`, `*.yml`), sorted by name; names must be unique."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceDefinitionError(f"{folder}: sources folder does not exist; set CITYHUB_SOURCES_DIR or pass --sources")
    definitions = [load_source_definition(f) for f in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])]
    seen: dict[str, Path] = {}
    for definition in definitions:
        if definition.name in seen:
            raise SourceDefinitionError(f"{definition.path}: source name `{definition.name}` is already used by {seen[definition.name]}; names must be unique")
        seen[definition.name] = definition.path
    return definitions
