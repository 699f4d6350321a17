"""Seconds spent per named step of a run, for the speed benchmark and for logs: ``with clock("detect"): ...``."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from time import perf_counter


class Stopwatch:
    """Seconds per step name, summed over every time the step ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, step: str):
        start = perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = self.seconds.get(step, 0.0) + perf_counter() - start


class _NoClock:
    """Times nothing: the default of every step that takes a clock."""

    def __call__(self, step: str):
        return nullcontext()


NO_CLOCK = _NoClock()
