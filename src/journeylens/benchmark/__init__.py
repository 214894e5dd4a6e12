"""``journeylens bench``: stages timed side by side with their floors, in one run, as ratios.

The names below resolve on first use (:mod:`journeylens._lazy`): each stage runs in a process of
its own that imports only its stage module (``benchmark._run``), not the runner and every stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeylens._lazy import lazy_names

if TYPE_CHECKING:
    from journeylens.benchmark.runner import BenchResult, parse_size, run_bench

__all__ = ["BenchResult", "parse_size", "run_bench"]
__getattr__ = lazy_names(__name__, dict.fromkeys(__all__, "journeylens.benchmark.runner"))
