"""Prepare the benchmark data from the synthetic world, run the stages, report ratios."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from journeylens.benchmark import (  # noqa: F401 - register their stages
    accuracy_stages,
    agent_stages,
    api_stages,
    attribution_stages,
    build_stages,
    caselog_stages,
    cause_stages,
    collector_stages,
    contact_stages,
    dashboard_stages,
    discovery_stages,
    experiment_stages,
    map_stages,
    nba_stages,
    pipeline_stages,
    small_file_stages,
    text_stages,
    theme_stages,
)
from journeylens.benchmark._host import Host
from journeylens.benchmark.stages import DATA_FOLDER, PREPARATIONS, STAGES, metrics_path
from journeylens.errors import InputError
from journeylens.synth import generate_world

EVENTS_PER_CUSTOMER = 29.6  # measured on the synthetic world (seed 7); only sizes the world


@dataclass(frozen=True)
class BenchResult:
    stage: str
    events: int
    rows: int
    seconds: float
    events_per_s: int | None
    """The run's events per second; None for a stage that counts another unit (``unit``)."""
    peak_rss_mb: float
    floor: str | None
    ratio_to_floor: float | None
    """seconds / floor seconds: 1.0 means as fast as the hand-written floor."""
    unit: str
    """What ``per_s`` counts: the run's ``events``, or another unit (``files``) counted by ``rows``."""
    per_s: int
    target_per_s: float | None
    """The rate (``unit`` per second) the stage must reach, where an issue set one."""
    target_met: bool | None
    """Whether the rate target is met; for an accuracy stage (no rate target), whether every
    accuracy target in ``metrics`` is met."""
    metrics: dict[str, Any] | None = None
    """An accuracy stage's figures and target verdicts (see ``accuracy_stages``), or a timed
    stage's ``targets`` (see ``dashboard_stages``); else None."""
    peer: str | None = None
    """Another tool's stage doing the same job (pm4py), when the stage names one."""
    ratio_to_peer: float | None = None
    """seconds / the peer's seconds (when both ran): 0.1 means ten times faster than the peer."""


def parse_size(text: str) -> int:
    """``"1M"`` -> 1_000_000, ``"500k"`` -> 500_000, ``"2500"`` -> 2500."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise InputError.bad_flag("--events", text, "is not a size.", hint="Use e.g. 100k, 1M, 10M or 50M.")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1_000, "m": 1_000_000}[unit])


def machine() -> dict[str, object]:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def prepare_data(events: int, data: Path, progress: Callable[[str], None]) -> int:
    """One Parquet and one CSV file of about ``events`` synthetic events (cached by size)."""
    marker = data / "events.count"
    if marker.exists() and (data / "events.csv").exists():
        return int(marker.read_text())
    customers = max(10, round(events / EVENTS_PER_CUSTOMER))
    progress(f"generating a synthetic world of {customers:,} customers")
    world = data / "world"
    generate_world(world, customers=customers, seed=7)
    parts = sorted((world / "events").glob("*.parquet"))
    progress(f"combining {len(parts)} parts into events.parquet and events.csv")
    schema = pq.read_schema(parts[0])
    total = 0
    with (
        pq.ParquetWriter(data / "events.parquet", schema) as parquet,
        pacsv.CSVWriter(data / "events.csv", schema) as csv,
    ):
        for part in parts:
            for batch in pq.ParquetFile(part).iter_batches(batch_size=250_000):
                table = pa.Table.from_batches([batch], schema=schema)
                parquet.write_table(table)
                csv.write_table(table)
                total += table.num_rows
    marker.write_text(str(total))
    return total


def _in_process(host: Host, name: str, data: Path, work: Path, *extra: str) -> dict[str, float]:
    """Run one stage or preparation in a process of its own (forked by ``host``); its rows,
    seconds and peak RSS."""
    module = (STAGES[name].run if name in STAGES else PREPARATIONS[name].run).__module__
    proc = host.run(module, [name, str(data), str(work), *extra])
    if proc.returncode:
        raise RuntimeError(f"benchmark stage {name} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _prepare(
    host: Host,
    state: str | None,
    ready: set[str],
    data: Path,
    work: Path,
    memory_limit: str | None,
    progress: Callable[[str], None],
) -> None:
    """Make the workspace ``state`` exist (and the states it builds on), untimed."""
    if state is None or state in ready:
        return
    prep = PREPARATIONS[state]
    _prepare(host, prep.after, ready, data, work, memory_limit, progress)
    progress(f"preparing {state} (not timed)")
    took = _in_process(host, state, data, work, *([memory_limit] if memory_limit else []))
    progress(f"prepared {state} in {took['seconds']:.1f} s, peak RSS {took['peak_rss_mb']:,.0f} MB")
    ready.add(state)


def run_bench(
    events: int,
    out: Path,
    stages: list[str] | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    memory_limit: str | None = None,
) -> list[BenchResult]:
    """Run ``stages`` (default: all but the explicit ones, which start a cluster) on ~``events``
    events; each stage in its own process (forked from a warm host: ``benchmark._host``).

    Stages that need a prepared workspace (stitching, journeys) get it from an earlier stage of
    the same run or from an untimed preparation, so only the stage's own work is timed.
    ``memory_limit`` (e.g. ``"8GB"``) caps DuckDB in that workspace; None leaves DuckDB's default
    (80% of RAM). The ingest stages keep their own cap (``[ingest] memory_limit``).

    Example:
        >>> stages = ["stitch", "floor_sessionize", "journeys"]
        >>> run_bench(1_000_000, Path("bench/out"), stages)  # doctest: +SKIP
    """
    data, work = out / DATA_FOLDER.format(events=events), out / "work"
    data.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    names = stages or [name for name, spec in STAGES.items() if not spec.explicit]
    unknown = [s for s in names if s not in STAGES]
    if unknown:  # before generating data, which takes minutes at 10M events
        raise InputError.unknown_choice("benchmark stage", unknown[0], STAGES)
    _check_requirements(names, explicit=stages is not None)
    # Accuracy stages make their own worlds: the run's files are only written for other stages.
    n = prepare_data(events, data, progress) if any(not STAGES[s].accuracy for s in names) else events
    measured: dict[str, dict[str, float]] = {}
    ready: set[str] = set()
    results: list[BenchResult] = []
    host = Host()
    try:
        for name in names:
            _prepare(host, STAGES[name].needs, ready, data, work, memory_limit, progress)
            progress(f"stage {name}")
            metrics_path(work, name).unlink(missing_ok=True)  # never report a previous run's figures
            measured[name] = _in_process(host, name, data, work)
            leaves = STAGES[name].leaves
            if leaves:
                ready.add(leaves)
            results.append(_result(name, n, measured, work))
            m = measured[name]
            progress(f"  {name}: {m['seconds']:.2f} s, peak RSS {m['peak_rss_mb']:,.0f} MB")
            # Written after every stage, so that a long run that fails later keeps what it measured.
            _save(out / f"results-{events}.json", memory_limit, results)
    finally:
        host.close()
    # A floor may run after the stage it is compared with: ratios once everything is measured.
    results = [_result(name, n, measured, work) for name in names]
    _save(out / f"results-{events}.json", memory_limit, results)
    return results


def _check_requirements(names: list[str], *, explicit: bool) -> None:
    """Every stage's optional package is installed, or a clear error before any work."""
    for name in names:
        need = STAGES[name].requires
        if need and importlib.util.find_spec(need[0]) is None:
            others = " ".join(f"--stage {n}" for n in names if STAGES[n].requires is None)
            hint = f"Install it with `pip install 'journeylens[{need[1]}]'`"
            raise InputError(
                f"Benchmark stage {name} needs {need[0]}, which is not installed.",
                hint=hint + ("." if explicit else f", or pick stages without it: {others}"),
            )


def _result(name: str, events: int, measured: dict[str, dict[str, float]], work: Path) -> BenchResult:
    m, spec = measured[name], STAGES[name]
    floor, unit, target = spec.floor, spec.unit, spec.target
    ratio = m["seconds"] / measured[floor]["seconds"] if floor in measured else None
    peer = spec.peer
    to_peer = m["seconds"] / measured[peer]["seconds"] if peer in measured else None
    metrics: dict[str, Any] | None = None
    met = None
    if spec.accuracy or metrics_path(work, name).is_file():  # a timed stage may judge targets too
        metrics = json.loads(metrics_path(work, name).read_text(encoding="utf-8"))
        met = bool(metrics["targets_met"])
        events = int(metrics["events"]) if spec.accuracy else events
    per_s = (events if unit == "events" else m["rows"]) / m["seconds"]
    if target is not None:
        met = per_s >= target
    return BenchResult(
        stage=name,
        events=events,
        rows=int(m["rows"]),
        seconds=round(m["seconds"], 3),
        events_per_s=round(events / m["seconds"]) if unit == "events" else None,
        peak_rss_mb=round(m["peak_rss_mb"]),
        floor=floor,
        ratio_to_floor=round(ratio, 2) if ratio else None,
        unit=unit,
        per_s=round(per_s),
        target_per_s=target,
        target_met=met,
        metrics=metrics,
        peer=peer,
        ratio_to_peer=round(to_peer, 3) if to_peer else None,
    )


def _save(path: Path, memory_limit: str | None, results: list[BenchResult]) -> None:
    path.write_text(
        json.dumps(
            {"machine": machine(), "memory_limit": memory_limit, "results": [asdict(r) for r in results]},
            indent=2,
        )
    )
