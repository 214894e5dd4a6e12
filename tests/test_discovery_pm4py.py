"""Process maps, variants and XES export on the real reference logs, checked against pm4py.

Each log in ../shared/data/process-logs is ingested once per module (XES as is; the road-traffic
CSV with ``--map`` onto the pm4py columns), stitched and built into journeys — a case is one
journey — and compared with pm4py reading the same file itself:

* DFG edges and counts, start and end activities, and variant counts are EXACTLY equal, for the
  ``concept:name`` key and for ``concept:name+lifecycle:transition`` (pm4py joins the two with
  ``+``, as ``pm4py.set_classifier`` does). Logs without lifecycle attributes (help desk, running
  example) have no such classifier in pm4py; there JourneyLens' key falls back to the name and
  must equal pm4py's ``concept:name`` results.
* Median and mean transition times equal ``pm4py.discover_performance_dfg`` within 1 µs (measured:
  at most 6e-11 s apart on the receipt log, identical on the others).
* The running example equals pm4py's own oracle, ``running-example.dfg``.
* An XES export reads back in pm4py with the same traces, events, order, resources and times.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from journeylens import Workspace
from journeylens.discovery import ActivityKey, JourneyFilter
from journeylens.discovery.dfg import MapSpec, ProcessMap, process_map
from journeylens.discovery.variants import VariantSpec, variants
from journeylens.discovery.xes_export import export_xes
from journeylens.identity import stitch
from journeylens.journeys import build_journeys

pytestmark = pytest.mark.realdata

SharedFile = Callable[[str], Path]
CSV_MAPPING = {"case_id": "case:concept:name", "touchpoint": "concept:name", "timestamp": "time:timestamp"}
LOGS = {
    "receipt": "process-logs/receipt.xes.gz",
    "helpdesk": "process-logs/helpdesk.xes.gz",
    "roadtraffic": "process-logs/roadtraffic100traces.csv",
    "running-example": "process-logs/running-example.xes",
}
# Published sizes (../shared/data/README.md): cases, events, variants.
SIZES = {
    "receipt": (1434, 8577, 116),
    "helpdesk": (4580, 21348, 226),
    "roadtraffic": (100, 390, 10),
    "running-example": (6, 42, 6),
}
LIFECYCLE_CLASSIFIER = "@@name+lifecycle"
TIME_TOLERANCE_S = 1e-6


@dataclass(frozen=True)
class Loaded:
    ws: Workspace
    source: Path
    pm4py_log: pd.DataFrame
    """The log as pm4py reads it, with the name+lifecycle classifier column where it applies."""

    @property
    def has_lifecycle(self) -> bool:
        return LIFECYCLE_CLASSIFIER in self.pm4py_log.columns


def _read_pm4py(path: Path) -> pd.DataFrame:
    import pm4py

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pm4py suggests optional faster importers
        if path.suffix == ".csv":
            frame = pd.read_csv(path)
            frame["time:timestamp"] = pd.to_datetime(frame["time:timestamp"], utc=True, format="ISO8601")
            log = pm4py.format_dataframe(
                frame,
                case_id="case:concept:name",
                activity_key="concept:name",
                timestamp_key="time:timestamp",
            )
        else:
            log = pm4py.read_xes(str(path), show_progress_bar=False)
    if "lifecycle:transition" in log.columns:
        log[LIFECYCLE_CLASSIFIER] = log["concept:name"] + "+" + log["lifecycle:transition"]
    return log


@pytest.fixture(scope="module")
def loaded(
    shared_file: SharedFile, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Loaded]]:
    """``loaded(name)``: the log ingested and built into journeys, once per module."""
    cache: dict[str, Loaded] = {}

    def load(name: str) -> Loaded:
        if name not in cache:
            source = shared_file(LOGS[name])
            ws = Workspace.init(tmp_path_factory.mktemp(name) / "ws")
            if source.suffix == ".csv":
                ws.ingest(paths=[str(source)], mapping=CSV_MAPPING, channel="other")
            else:
                ws.ingest(paths=[str(source)], channel="other")
            stitch(ws.store, ws.config.identity)
            build_journeys(ws.store, ws.config.journeys)
            cache[name] = Loaded(ws=ws, source=source, pm4py_log=_read_pm4py(source))
        return cache[name]

    yield load
    for item in cache.values():
        item.ws.close()


def _key_pairs(log: Loaded) -> list[tuple[ActivityKey, str]]:
    """(JourneyLens key, pm4py activity column) pairs that must agree on this log."""
    lifecycle = LIFECYCLE_CLASSIFIER if log.has_lifecycle else "concept:name"
    return [(ActivityKey.touchpoint, "concept:name"), (ActivityKey.touchpoint_lifecycle, lifecycle)]


def _ours(pm: ProcessMap) -> tuple[dict[tuple[str, str], int], dict[str, int], dict[str, int]]:
    edges = {(e["source"], e["target"]): e["count"] for e in pm.records()}
    starts = {r["activity"]: r["count"] for r in pm.start_activities.to_pylist()}
    ends = {r["activity"]: r["count"] for r in pm.end_activities.to_pylist()}
    return edges, starts, ends


@pytest.mark.parametrize("name", list(LOGS))
def test_sizes_match_the_published_numbers(loaded: Callable[[str], Loaded], name: str) -> None:
    log = loaded(name)
    cases, events, n_variants = SIZES[name]
    pm = process_map(log.ws.store)
    assert (pm.totals["journeys"], pm.totals["events"]) == (cases, events)
    assert variants(log.ws.store, VariantSpec(coverage=1.0)).totals["variants"] == n_variants


@pytest.mark.parametrize("name", list(LOGS))
def test_dfg_start_end_equal_pm4py(loaded: Callable[[str], Loaded], name: str) -> None:
    import pm4py

    log = loaded(name)
    for key, column in _key_pairs(log):
        dfg, starts, ends = pm4py.discover_dfg(log.pm4py_log, activity_key=column)
        edges, our_starts, our_ends = _ours(process_map(log.ws.store, MapSpec(key=key)))
        assert edges == dict(dfg), (name, key)
        assert our_starts == dict(starts), (name, key)
        assert our_ends == dict(ends), (name, key)


@pytest.mark.parametrize("name", list(LOGS))
def test_variant_counts_equal_pm4py(loaded: Callable[[str], Loaded], name: str) -> None:
    import pm4py

    log = loaded(name)
    for key, column in _key_pairs(log):
        expected = pm4py.get_variants(log.pm4py_log, activity_key=column)
        rows = variants(log.ws.store, VariantSpec(key=key, coverage=1.0)).records()
        assert {tuple(r["steps"]): r["count"] for r in rows} == dict(expected), (name, key)
        assert len(rows) == len(expected)
        # Most frequent first; equal counts in sequence order.
        assert [(-r["count"], r["steps"]) for r in rows] == sorted((-r["count"], r["steps"]) for r in rows)


@pytest.mark.parametrize("name", ["receipt", "helpdesk", "roadtraffic"])
def test_transition_times_equal_pm4py_performance_dfg(loaded: Callable[[str], Loaded], name: str) -> None:
    import pm4py

    log = loaded(name)
    perf, _, _ = pm4py.discover_performance_dfg(log.pm4py_log)
    edges = {(e["source"], e["target"]): e for e in process_map(log.ws.store).records()}
    assert set(edges) == set(perf)
    for pair, stats in perf.items():
        assert edges[pair]["median_s"] == pytest.approx(stats["median"], abs=TIME_TOLERANCE_S), pair
        assert edges[pair]["mean_s"] == pytest.approx(stats["mean"], abs=TIME_TOLERANCE_S), pair
        assert stats["min"] - TIME_TOLERANCE_S <= edges[pair]["p90_s"] <= stats["max"] + TIME_TOLERANCE_S


def _parse_dfg_file(path: Path) -> tuple[dict[tuple[str, str], int], dict[str, int], dict[str, int]]:
    """pm4py's .dfg format: activity count and names, then start and end activities as
    ``index x count`` lines (each block preceded by its length), then ``a>b x count`` edges."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    n = int(lines[0])
    names = lines[1 : 1 + n]
    pos = 1 + n

    def block() -> dict[str, int]:
        nonlocal pos
        size = int(lines[pos])
        rows = lines[pos + 1 : pos + 1 + size]
        pos += 1 + size
        return {names[int(i)]: int(c) for i, c in (row.split("x") for row in rows)}

    starts, ends = block(), block()
    edges: dict[tuple[str, str], int] = {}
    for row in lines[pos:]:
        pair, count = row.split("x")
        a, b = pair.split(">")
        edges[(names[int(a)], names[int(b)])] = int(count)
    return edges, starts, ends


def test_running_example_equals_the_pm4py_oracle(
    loaded: Callable[[str], Loaded], shared_file: SharedFile
) -> None:
    edges, starts, ends = _parse_dfg_file(shared_file("process-logs/running-example.dfg"))
    assert len(edges) == 16 and starts == {"register request": 6}
    assert _ours(process_map(loaded("running-example").ws.store)) == (edges, starts, ends)


# --- XES export ---------------------------------------------------------------------------------


def _traces(log: pd.DataFrame) -> dict[str, list[tuple[Any, ...]]]:
    cols = ["concept:name", "time:timestamp", "org:resource"]
    return {
        str(case): list(group[cols].itertuples(index=False, name=None))
        for case, group in log.groupby("case:concept:name", sort=False)
    }


def test_xes_export_reads_back_in_pm4py_with_the_same_traces(
    loaded: Callable[[str], Loaded], tmp_path: Path
) -> None:
    log = loaded("helpdesk")
    out = tmp_path / "helpdesk.xes.gz"
    result = export_xes(log.ws.store, None, out)
    assert (result.traces, result.events) == (4580, 21348)
    back = _read_pm4py(out)
    assert _traces(back) == _traces(log.pm4py_log)
    import pm4py

    assert pm4py.get_variants(back) == pm4py.get_variants(log.pm4py_log)


def test_xes_export_of_a_filtered_set(loaded: Callable[[str], Loaded], tmp_path: Path) -> None:
    log = loaded("helpdesk")
    source = log.pm4py_log
    product = str(source["product"].value_counts().index[0])
    wanted = set(source.loc[source["product"] == product, "case:concept:name"].astype(str))
    out = tmp_path / "one-product.xes"
    result = export_xes(log.ws.store, JourneyFilter(properties={"product": product}), out)
    back = _read_pm4py(out)
    assert result.traces == len(wanted) > 0
    expected = {case: events for case, events in _traces(source).items() if case in wanted}
    assert _traces(back) == expected
