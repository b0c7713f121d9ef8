"""Settings from `CITYHUB_*` environment variables and `.env`, with embedded defaults."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_SOURCES_DIR = Path(__file__).resolve().parent.parent / "connectors" / "sources"


class Settings(BaseSettings):
    """Everything configurable about one cityhub installation."""

    model_config = SettingsConfigDict(env_prefix="CITYHUB_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path(".cityhub"), description="Root folder for lake, state, runs and the embedded database.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the shared layer; SQLite under home by default.")
    spark_master: str = Field(default="local[*]", description="local[*], spark://host:7077 or sc://host:15002.")
    spark_driver_memory: str = "4g"
    spark_shuffle_partitions: int = 8
    sources_dir: Path = Field(default=PACKAGE_SOURCES_DIR, description="Folder of source definition YAML files.")
    hub_secret: str = Field(default="cityhub-demo-secret", description="Key for HMAC-SM3 identifiers; set a real one in production.")

    @cached_property
    def home_dir(self) -> Path:
        """Absolute home folder, created on first use."""
        path = self.home.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def shared_layer_url(self) -> str:
        """The shared layer's SQLAlchemy URL (embedded SQLite unless configured)."""
        return self.database_url or f"sqlite:///{self.home_dir / 'shared.db'}"


def load_settings(**overrides) -> Settings:
    """Read settings from the environment, with explicit overrides taking precedence."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
