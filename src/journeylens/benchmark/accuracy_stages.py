"""The outcome-accuracy stage: how right journeys and outcomes are, on worlds no test uses.

``outcome_accuracy`` generates one synthetic world per seed of :data:`SEEDS` (seeds used nowhere
else, so no rule was tuned on them), builds each into a fresh workspace with the default journey
definitions and compares it with the world's ground truth
(:mod:`journeylens.benchmark.outcome_accuracy`). Each world has :func:`accuracy_customers` of the
run's size: 4,000 customers at the default ``--events 1M`` (about 118k events per world).

It is an accuracy stage: its seconds (generating, building and comparing the three worlds) are
reported like any stage's, but what it measures is the figures and their targets. It writes them
to :func:`~journeylens.benchmark.stages.metrics_path` — per world, the headline figures and the
target verdicts — and the full result of each world next to it (``outcome_accuracy/seed-N.json``).
The run's ``target_met`` for this stage is True only when every target is met on every world.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from journeylens.benchmark.outcome_accuracy import OutcomeAccuracy, world_outcome_accuracy
from journeylens.benchmark.stages import metrics_path, run_size, stage
from journeylens.synth import generate_world

NAME = "outcome_accuracy"
SEEDS = (101, 102, 103)
"""World seeds of this stage; no test or other stage uses them (the CI test uses 104)."""
CUSTOMERS_PER_MILLION_EVENTS = 4_000
MIN_CUSTOMERS = 200


def accuracy_customers(events: int) -> int:
    """Customers per world for a run of ``events``: 4,000 per million, at least 200.

    Example:
        >>> accuracy_customers(1_000_000), accuracy_customers(10_000_000), accuracy_customers(6_000)
        (4000, 40000, 200)
    """
    return max(MIN_CUSTOMERS, round(events * CUSTOMERS_PER_MILLION_EVENTS / 1_000_000))


def headline(result: OutcomeAccuracy) -> dict[str, float | int | None]:
    """The figures a reader compares first, flat (docs/benchmarks.md shows these)."""
    b = result.boundaries
    figures: dict[str, float | int | None] = {
        "pair_precision": b.pair_precision,
        "pair_recall": b.pair_recall,
        "exact_share": b.exact_share,
        "type_agreement": b.type_agreement,
    }
    for t in result.types:
        name = t.journey_type
        figures[f"{name}.journeys_true"] = t.true_journeys
        figures[f"{name}.journeys_predicted"] = t.predicted_journeys
        figures[f"{name}.success_rate_true"] = t.true_success_rate
        figures[f"{name}.success_rate_predicted"] = t.predicted_success_rate
        figures[f"{name}.success_rate_bias_pp"] = t.success_rate_bias_pp
        figures[f"{name}.outcome_accuracy"] = t.outcome_accuracy
        if t.unobservable:
            figures[f"{name}.unobservable"] = t.unobservable
            figures[f"{name}.observable_accuracy"] = t.observable_accuracy
    for label, rate in (
        ("fcr", result.fcr),
        ("leakage", result.leakage),
        ("leakage_to_call", result.leakage_to_call),
    ):
        figures[f"{label}.journeys"] = rate.journeys
        figures[f"{label}.true_rate"] = rate.true_rate
        figures[f"{label}.predicted_rate"] = rate.predicted_rate
    if result.evidence is not None:
        e = result.evidence
        figures["silent_give_ups"] = e.silent_give_ups
        figures["silent_give_ups_without_negative_feedback"] = e.silent_give_ups_without_negative_feedback
        figures["recovered_by_feedback"] = e.recovered_by_feedback
        figures["recovered_share"] = e.recovered_share
        figures["wrongly_overridden"] = e.wrongly_overridden
    return figures


@stage(
    NAME,
    f"outcome accuracy against ground truth on worlds of seeds {', '.join(map(str, SEEDS))} "
    "(generate, build with the default definitions, compare; rows: true journeys compared)",
    unit="journeys",
    accuracy=True,
)
def outcome_accuracy_stage(data: Path, work: Path) -> int:
    customers = accuracy_customers(run_size(data))
    folder = work / NAME
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    worlds: list[dict[str, Any]] = []
    for seed in SEEDS:
        started = time.perf_counter()
        world = folder / f"world-{seed}"
        generate_world(world, customers=customers, seed=seed)
        generated = round(time.perf_counter() - started, 3)
        result = world_outcome_accuracy(world, folder / f"workspace-{seed}")
        details = folder / f"seed-{seed}.json"
        details.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        worlds.append(
            {
                "seed": seed,
                "customers": customers,
                "events": result.boundaries.events_truth,
                "true_journeys": result.boundaries.true_journeys,
                "seconds": {"generate": generated, **result.seconds},
                "figures": headline(result),
                "targets": [vars(t) for t in result.targets],
                "targets_met": result.targets_met,
                "details": str(details),
            }
        )
    report = {
        "seeds": list(SEEDS),
        "customers": customers,
        "events": sum(w["events"] for w in worlds),
        "targets_met": all(w["targets_met"] for w in worlds),
        "worlds": worlds,
    }
    metrics_path(work, NAME).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return sum(int(w["true_journeys"]) for w in worlds)
