"""Outcome accuracy: journeys built with the default definitions against a world's ground truth.

Given a world written by ``journeylens synth`` (or :func:`journeylens.synth.generate_world`), a
fresh workspace ingests its customers, identities, events and feedback, stitches and builds with
the default journey definitions, and is compared with ``ground_truth/``:

- **boundaries**: pairs of events in the same journey — precision over the predicted journeys'
  pairs, recall over the true journeys' pairs (shared pairs: n(n-1)/2 summed over each
  predicted x true journey cell); the share of true journeys reproduced exactly (same event set);
  the share of events whose journey type is right.
- **outcomes per true type**, over journeys matched one-to-one (each other's best match by shared
  events): an outcome confusion matrix, the success-rate bias (predicted minus true rate, each
  over its own journeys of the type) and per-journey outcome accuracy (predicted success equals
  true success, over matched journeys not predicted ``open``; the open ones are counted apart).
- **FCR and leakage like-for-like**: the same matched support journeys and the same denominator
  on both sides.
- **outcome evidence** (when the journeys table has ``outcome_evidence``): per rule, how often the
  truth agrees; *silent give-ups* (truly unresolved support journeys inferred resolved because
  nobody came back) are what behaviour cannot show; feedback can recover some of them.

Targets (issue 13): pair precision and recall >= 0.98, per-type success-rate bias within ±3
percentage points, per-type outcome accuracy >= 0.90. Every denominator is named in
:data:`DENOMINATORS`. The comparison runs on the workspace's engine
(:mod:`._accuracy_metrics`); only aggregated rows reach Python.

Example:
    >>> result = world_outcome_accuracy(Path("world"), Path("ws"))  # doctest: +SKIP
    >>> result.boundaries.pair_precision, result.targets_met  # doctest: +SKIP
    (0.969, False)
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from journeylens.benchmark._accuracy_metrics import TRUE_SUCCESS, Comparison, Row
from journeylens.benchmark._accuracy_results import (
    DENOMINATORS,
    BoundaryAccuracy,
    EvidenceBreakdown,
    EvidenceRow,
    OutcomeAccuracy,
    PairedRate,
    Target,
    TypeAccuracy,
)
from journeylens.errors import InputError
from journeylens.journeys import evidence as ev
from journeylens.journeys.undefined import UNDECIDED
from journeylens.store import Store
from journeylens.workspace import Workspace

__all__ = [
    "DENOMINATORS",
    "TARGET_ACCURACY",
    "TARGET_BIAS_PP",
    "TARGET_PAIRS",
    "BoundaryAccuracy",
    "EvidenceBreakdown",
    "OutcomeAccuracy",
    "PairedRate",
    "Target",
    "TypeAccuracy",
    "build_world_workspace",
    "measure_outcome_accuracy",
    "world_outcome_accuracy",
]

TARGET_PAIRS = 0.98
"""Boundary pair precision and recall must reach this (issue 13)."""
TARGET_BIAS_PP = 3.0
"""Per-type success-rate bias must stay within ± this many percentage points."""
TARGET_ACCURACY = 0.90
"""Per-type, per-journey outcome accuracy must reach this."""

INFERRED = ev.INFERRED_SUCCESS
"""Evidence of a success inferred from the absence of a repeat journey."""
NEGATIVE_FEEDBACK = ev.NEGATIVE_FEEDBACK
_CLAIMS_SUCCESS = (ev.SUCCESS_EVENT, *INFERRED)
_CLAIMS_FAILURE = (ev.FAILURE_EVENT, NEGATIVE_FEEDBACK, ev.NO_OUTCOME_EVENT)
"""The other rules (``open``, ``no_criteria``) make no claim, so no agreement is counted for them."""
NO_EVIDENCE_REASON = (
    "the journeys table has no outcome_evidence column (built by a version without outcome "
    "evidence), so which rule decided each outcome cannot be told"
)
WORLD_TABLES = ("customers", "identities", "events", "feedback")


def build_world_workspace(world: Path, root: Path) -> Workspace:
    """A fresh workspace at ``root`` (replaced if present) with the world's customers, identities,
    events and feedback, stitched and built with the default journey definitions.

    Example:
        >>> ws = build_world_workspace(Path("world"), Path("ws"))  # doctest: +SKIP
    """
    summary = world / "ground_truth.json"
    if not summary.is_file():
        raise InputError(
            f"{world} is not a synthetic world: it has no ground_truth.json.",
            hint="Write one with `journeylens synth --out FOLDER --customers 4000 --seed 101`.",
        )
    truth = json.loads(summary.read_text(encoding="utf-8"))
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.init(root)
    # The world writes national phone numbers of this country; without it they cannot be linked.
    ws.config.privacy.default_country_code = str(truth["default_country_code"])
    for table in WORLD_TABLES:
        ws.ingest(paths=[str(world / table)], table=table)
    ws.build()
    return ws


def world_outcome_accuracy(world: Path, root: Path) -> OutcomeAccuracy:
    """Build ``world`` into a new workspace at ``root`` and measure it (timed per step)."""
    started = time.perf_counter()
    ws = build_world_workspace(world, root)
    built = time.perf_counter()
    try:
        result = measure_outcome_accuracy(ws.store, world, ws.config.journeys.digital_channels)
    finally:
        ws.close()
    done = time.perf_counter()
    seconds = {"ingest_and_build": round(built - started, 3), "compare": round(done - built, 3)}
    return _with_seconds(result, seconds)


def _with_seconds(result: OutcomeAccuracy, seconds: dict[str, float]) -> OutcomeAccuracy:
    return replace(result, seconds={**result.seconds, **seconds})


def measure_outcome_accuracy(store: Store, world: Path, digital_channels: Iterable[str]) -> OutcomeAccuracy:
    """Compare the built journeys of ``store`` with the ground truth of ``world``.

    Args:
        store: a workspace store whose events came from ``world`` and whose journeys are built.
        world: the world's folder (``ground_truth/`` inside).
        digital_channels: the workspace's ``[journeys] digital_channels`` (for leakage).
    """
    with Comparison.start(store, world.resolve(), digital_channels) as c:
        row = c.boundaries()
        boundaries = BoundaryAccuracy(**{k: _int(row, k) for k in _BOUNDARY_FIELDS})
        types = _types(c.truth_by_type(), c.predicted_by_type(UNDECIDED), c.confusion())
        paired = {m: PairedRate(**c.paired_rate(m)) for m in ("fcr", "leakage", "leakage_to_call")}
        evidence_rows = c.evidence() if c.has_evidence else []
        evidence = _evidence(evidence_rows) if c.has_evidence else None
    types = [replace(t, unobservable=_silent(evidence_rows, t.journey_type)) for t in types]
    return OutcomeAccuracy(
        world=str(world),
        boundaries=boundaries,
        types=types,
        fcr=paired["fcr"],
        leakage=paired["leakage"],
        leakage_to_call=paired["leakage_to_call"],
        evidence=evidence,
        evidence_reason=None if evidence else NO_EVIDENCE_REASON,
        targets=_targets(boundaries, types),
    )


_BOUNDARY_FIELDS = (
    "events_truth", "events_model", "events_compared", "shared_pairs", "predicted_pairs", "true_pairs",
    "true_journeys", "exact_journeys", "same_type_events",
)  # fmt: skip


def _int(row: Row, key: str) -> int:
    return int(row[key] or 0)


def _types(truth: list[Row], predicted: list[Row], confusion: list[Row]) -> list[TypeAccuracy]:
    by_type = {r["journey_type"]: r for r in predicted}
    types = []
    for t in sorted(truth, key=lambda r: str(r["journey_type"])):
        name = t["journey_type"]
        mine = [r for r in confusion if r["true_type"] == name]
        matrix: dict[str, dict[str, int]] = {}
        for r in mine:
            cell = matrix.setdefault(r["true_outcome"], {})
            cell[r["outcome"]] = cell.get(r["outcome"], 0) + int(r["journeys"])
        judged = [r for r in mine if r["outcome"] != "open"]
        agreed = [r for r in judged if (r["outcome"] == "success") == (r["true_outcome"] in TRUE_SUCCESS)]
        p = by_type.get(name, {})
        types.append(
            TypeAccuracy(
                journey_type=name,
                true_journeys=int(t["journeys"]),
                true_success=int(t["success"]),
                predicted_journeys=int(p.get("journeys", 0)),
                predicted_defined=int(p.get("defined", 0)),
                predicted_success=int(p.get("success", 0)),
                matched=sum(int(r["journeys"]) for r in mine),
                matched_same_type=sum(int(r["journeys"]) for r in mine if r["pred_type"] == name),
                confusion={k: dict(sorted(v.items())) for k, v in sorted(matrix.items())},
                judged=sum(int(r["journeys"]) for r in judged),
                agreed=sum(int(r["journeys"]) for r in agreed),
                open=sum(int(r["journeys"]) for r in mine if r["outcome"] == "open"),
            )
        )
    return types


def _silent(rows: list[Row], journey_type: str) -> int:
    """Matched journeys of true type ``journey_type`` that are silent give-ups: truly not a
    success, inferred a success ("no repeat"), and no negative feedback in the truth to reveal it."""
    return _n(
        r
        for r in rows
        if r["true_type"] == journey_type
        and r["true_outcome"] not in TRUE_SUCCESS
        and r["evidence"] in INFERRED
        and r["predicted_success"]
        and not r["negative_feedback"]
    )


def _n(rows: Iterable[Row]) -> int:
    """Journeys in aggregated rows."""
    return sum(int(r["journeys"]) for r in rows)


def _evidence(rows: list[Row]) -> EvidenceBreakdown:
    for r in rows:
        r["truly_success"] = r["true_outcome"] in TRUE_SUCCESS
    table = []
    for value in sorted({str(r["evidence"]) for r in rows}):
        mine = [r for r in rows if str(r["evidence"]) == value]
        claims = value in _CLAIMS_SUCCESS or value in _CLAIMS_FAILURE
        table.append(
            EvidenceRow(
                evidence=value,
                journeys=_n(mine),
                truly_success=_n(r for r in mine if r["truly_success"]),
                predicted_success=_n(r for r in mine if r["predicted_success"]),
                agree=_n(r for r in mine if r["predicted_success"] == r["truly_success"]) if claims else None,
            )
        )
    support = [r for r in rows if r["true_type"] == "support"]
    unresolved = [r for r in support if not r["truly_success"]]
    silent = [r for r in unresolved if r["evidence"] in INFERRED and r["predicted_success"]]
    overridden = [r for r in support if r["evidence"] == NEGATIVE_FEEDBACK]
    return EvidenceBreakdown(
        rows=table,
        unresolved_support=_n(unresolved),
        silent_give_ups=_n(silent),
        silent_give_ups_without_negative_feedback=_n(r for r in silent if not r["negative_feedback"]),
        recovered_by_feedback=_n(r for r in overridden if not r["truly_success"]),
        wrongly_overridden=_n(r for r in overridden if r["truly_success"]),
    )


def _targets(boundaries: BoundaryAccuracy, types: list[TypeAccuracy]) -> list[Target]:
    def at_least(name: str, value: float | None, floor: float) -> Target:
        return Target(name, value, f">= {floor:.2f}", value is not None and value >= floor)

    targets = [
        at_least("boundary_pair_precision", boundaries.pair_precision, TARGET_PAIRS),
        at_least("boundary_pair_recall", boundaries.pair_recall, TARGET_PAIRS),
    ]
    for t in types:
        bias = t.success_rate_bias_pp
        targets.append(
            Target(
                f"success_rate_bias_pp[{t.journey_type}]",
                bias,
                f"within ±{TARGET_BIAS_PP:g} pp",
                bias is not None and abs(bias) <= TARGET_BIAS_PP,
            )
        )
        targets.append(at_least(f"outcome_accuracy[{t.journey_type}]", t.outcome_accuracy, TARGET_ACCURACY))
    return targets
