"""``journeylens bench``: stages timed side by side with their floors, in one run, as ratios."""

from __future__ import annotations

from journeylens.benchmark.runner import BenchResult, parse_size, run_bench

__all__ = ["BenchResult", "parse_size", "run_bench"]
