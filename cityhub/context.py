"""The run context every pipeline step receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from connectors.definition import SourceDefinition, load_source_definitions

from .config import Settings
from .lake import Lake, runs_dir, state_dir


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, filesystem-safe run id from the UTC clock."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


@dataclass
class RunContext:
    """Settings, lake and run id shared by the steps of one pipeline run."""

    settings: Settings
    run_id: str = field(default_factory=new_run_id)
    sources: list[SourceDefinition] | None = None

    def __post_init__(self) -> None:
        if self.sources is None:
            self.sources = load_source_definitions(self.settings.sources_dir)

    @property
    def home(self) -> Path:
        return self.settings.home_dir

    @property
    def lake(self) -> Lake:
        return Lake.under(self.home)

    @property
    def state_dir(self) -> Path:
        return state_dir(self.home)

    @property
    def run_dir(self) -> Path:
        path = runs_dir(self.home) / self.run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def source(self, name: str) -> SourceDefinition:
        """The source definition called `name`."""
        for definition in self.sources or []:
            if definition.name == name:
                return definition
        known = ", ".join(d.name for d in self.sources or [])
        raise KeyError(f"no source called {name!r} in {self.settings.sources_dir} (known: {known})")
