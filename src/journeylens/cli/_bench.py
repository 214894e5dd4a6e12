"""What ``journeylens bench`` prints: the stages with their ratios, the accuracy figures, the targets.

JSON and CSV carry every field of every result (an accuracy stage's ``metrics`` as an object, or as
JSON text in CSV); the table shows the timings, then one table per accuracy stage with a column per
world, then one line per target: met or missed.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.text import Text

from journeylens.cli._output import OutputFormat, err_console, first, render

if TYPE_CHECKING:
    from journeylens.benchmark import BenchResult

# What a reader compares first: the rate, the ratio to the floor, the target; the run's size last.
_BENCH_FIRST = (
    "stage", "seconds", "per_s", "unit", "ratio_to_floor", "floor", "ratio_to_peer", "peer",
    "target_met", "rows",
)  # fmt: skip


def show_bench(results: list[BenchResult], fmt: OutputFormat) -> None:
    """Print the results of one ``journeylens bench`` run in ``fmt``."""
    rows = first([asdict(r) for r in results], _BENCH_FIRST)
    timed = [r for r in results if r.metrics is None or "worlds" not in r.metrics]
    size = f"{timed[0].events:,} events" if timed else "accuracy stages"
    if fmt is not OutputFormat.table:
        render(rows, fmt, title=f"Benchmark, {size}")
        return
    render(
        [{k: v for k, v in row.items() if k != "metrics"} for row in rows], fmt, title=f"Benchmark, {size}"
    )
    for r in results:
        if r.metrics is not None and "worlds" in r.metrics:
            _accuracy_table(r.stage, r.metrics)
        elif r.metrics is not None and "pages" in r.metrics:
            shown = [{k: v for k, v in p.items() if k != "targets"} for p in r.metrics["pages"]]
            render(shown, OutputFormat.table, title=f"{r.stage}: per page, ms")
    for r in results:
        if r.target_per_s is not None:
            verdict = "met" if r.target_met else "MISSED"
            rate, target = f"{r.per_s:,} {r.unit}/s", f"{r.target_per_s:,.0f} {r.unit}/s"
            _verdict(f"Target: {r.stage} {rate}, needs >= {target}: {verdict}", met=bool(r.target_met))
        if r.metrics is not None and "worlds" in r.metrics:
            _accuracy_targets(r.stage, r.metrics)
        for t in r.metrics.get("targets", []) if r.metrics and "worlds" not in r.metrics else []:
            line = f"Target: {r.stage} {t['name']} {t['value']}, needs {t['requirement']}: "
            _verdict(line + ("met" if t["met"] else "MISSED"), met=bool(t["met"]))


def _accuracy_table(stage: str, metrics: dict[str, Any]) -> None:
    """One row per figure, one column per world (seed)."""
    worlds = metrics["worlds"]
    names = list(dict.fromkeys(k for w in worlds for k in w["figures"]))
    rows = [
        {"figure": name, **{f"seed {w['seed']}": w["figures"].get(name) for w in worlds}} for name in names
    ]
    rows.append({"figure": "seconds", **{f"seed {w['seed']}": sum(w["seconds"].values()) for w in worlds}})
    customers = f"{metrics['customers']:,} customers per world"
    render(rows, OutputFormat.table, title=f"{stage}: against ground truth, {customers}")


def _accuracy_targets(stage: str, metrics: dict[str, Any]) -> None:
    """A target line per target: its value on each world, met only when met on all."""
    worlds = metrics["worlds"]
    for i, target in enumerate(worlds[0]["targets"]):
        values = [w["targets"][i] for w in worlds]
        met = all(v["met"] for v in values)
        shown = ", ".join(f"{v['value']} (seed {w['seed']})" for v, w in zip(values, worlds, strict=True))
        line = f"Target: {stage} {target['name']} {shown}, needs {target['requirement']}: "
        _verdict(line + ("met" if met else "MISSED"), met=met)


def _verdict(line: str, *, met: bool) -> None:
    err_console.print(Text(line), style="bold" if met else "bold red", soft_wrap=True)
