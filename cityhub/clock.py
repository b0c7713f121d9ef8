"""Wall time of the steps of a run (the run report's `step_seconds`, the resolve step's parts)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class StepClock:
    """Wall seconds of each step of a run, in the order they ran (the run report's `step_seconds`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 2)
