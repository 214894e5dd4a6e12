"""The comparison behind :mod:`journeylens.benchmark.outcome_accuracy`, as Ibis expressions.

A built workspace is set against a synthetic world's ground truth (``ground_truth/*.parquet``,
registered on the workspace's engine). Everything that reads events runs there; each function
returns only aggregated rows (a handful per journey type or evidence value) to Python.

Working tables, dropped by :meth:`Comparison.close`:

- ``_jl_acc_events``: one row per event present on both sides — its predicted journey and type,
  its true journey and type, and its channel;
- ``_jl_acc_cells``: events shared by each (predicted journey, true journey) pair;
- ``_jl_acc_matched``: the one-to-one matches — a predicted and a true journey that are each
  other's best match by shared events (ties broken by journey id) — with both sides' columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from journeylens.journeys.build import require_journeys
from journeylens.store import Store
from journeylens.store._working import drop_scratch, scratch_table

TRUE_SUCCESS = ("converted", "resolved", "informed")
"""Ground-truth outcomes that count as success (the other two are abandoned and unresolved)."""
EVIDENCE_COLUMN = "outcome_evidence"
CALL_CENTRE = "call_center"
TRUTH_FILES = {
    "events": "ground_truth/events.parquet",
    "journeys": "ground_truth/journeys.parquet",
    "feedback": "ground_truth/feedback.parquet",
}
EVENTS, CELLS, MATCHED = "_jl_acc_events", "_jl_acc_cells", "_jl_acc_matched"
_TRUTH_VIEW = "_jl_acc_truth_{}"

Row = dict[str, Any]


def _pairs(n: ir.IntegerValue) -> ir.IntegerValue:
    """Unordered pairs among ``n`` events, summed: n(n-1) is even, so halving the sum is exact."""
    return (n * (n - 1)).sum() // 2


def _count_if(condition: ir.BooleanValue) -> ir.IntegerValue:
    return condition.fill_null(False).cast("int64").sum()


@dataclass
class Comparison:
    """A workspace's journeys against the truth of the world its data came from.

    Example:
        >>> with Comparison.start(ws.store, world, ["web", "app"]) as c:  # doctest: +SKIP
        ...     c.boundaries()["shared_pairs"]
    """

    store: Store
    truth_events: ir.Table
    truth_journeys: ir.Table
    journeys: ir.Table
    events: ir.Table
    cells: ir.Table
    matched: ir.Table
    has_evidence: bool

    @classmethod
    def start(cls, store: Store, world: Path, digital_channels: Iterable[str]) -> Comparison:
        """Register the truth files and write the working tables."""
        backend = store.backend
        truth = {
            name: backend.read_parquet(str(world / path), table_name=_TRUTH_VIEW.format(name))
            for name, path in TRUTH_FILES.items()
        }
        journeys = require_journeys(store)
        has_evidence = EVIDENCE_COLUMN in journeys.columns
        predicted = backend.table("journey_events").join(
            journeys.select("journey_id", ptype=journeys.journey_type), "journey_id"
        )
        t = truth["events"]
        events = scratch_table(
            backend,
            EVENTS,
            t.select("event_id", tj=t.journey_id, ttype=t.journey_type)
            .join(predicted.select("event_id", pj=predicted.journey_id, ptype=predicted.ptype), "event_id")
            .join(store.table("events").select("event_id", "channel"), "event_id"),
            large=True,
        )
        cells = scratch_table(backend, CELLS, events.group_by(["pj", "tj"]).agg(n=events.count()))
        matched = scratch_table(
            backend,
            MATCHED,
            _matched(cells, events, truth, journeys, digital_channels, has_evidence=has_evidence),
        )
        return cls(store, truth["events"], truth["journeys"], journeys, events, cells, matched, has_evidence)

    def __enter__(self) -> Comparison:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        drop_scratch(self.store.backend, EVENTS, CELLS, MATCHED)
        for name in TRUTH_FILES:
            self.store.backend.drop_view(_TRUTH_VIEW.format(name), force=True)

    def _rows(self, expr: ir.Table) -> list[Row]:
        rows: list[Row] = self.store.execute(expr).to_pylist()
        return rows

    def boundaries(self) -> Row:
        """Pair counts, exact journeys and type agreement (one row)."""
        ev, cells, te = self.events, self.cells, self.truth_events
        true_size = te.group_by(tj=te.journey_id).agg(tsize=te.count())
        je = self.store.backend.table("journey_events")
        pred_size = je.group_by(pj=je.journey_id).agg(psize=je.count())
        exact = cells.join(true_size, "tj").join(pred_size, "pj")
        exact = exact.filter((exact.n == exact.tsize) & (exact.n == exact.psize))
        by_pred = ev.group_by("pj").agg(n=ev.count())
        by_true = ev.group_by("tj").agg(n=ev.count())
        parts = [
            cells.aggregate(shared_pairs=_pairs(cells.n)),
            by_pred.aggregate(predicted_pairs=_pairs(by_pred.n)),
            by_true.aggregate(true_pairs=_pairs(by_true.n)),
            ev.aggregate(events_compared=ev.count(), same_type_events=_count_if(ev.ptype == ev.ttype)),
            exact.aggregate(exact_journeys=exact.count()),
            self.truth_journeys.aggregate(true_journeys=self.truth_journeys.count()),
            te.aggregate(events_truth=te.count()),
            pred_size.aggregate(events_model=pred_size.psize.sum()),
        ]
        one = parts[0]
        for part in parts[1:]:
            one = one.cross_join(part)
        [row] = self._rows(one)
        return row

    def truth_by_type(self) -> list[Row]:
        t = self.truth_journeys
        return self._rows(
            t.group_by("journey_type").agg(
                journeys=t.count(), success=_count_if(t.outcome.isin(TRUE_SUCCESS))
            )
        )

    def predicted_by_type(self, undecided: Iterable[str]) -> list[Row]:
        """Predicted journeys per type, those with a final outcome (the product's success-rate
        denominator: not open, not unknown) and the successes."""
        j = self.journeys
        return self._rows(
            j.group_by("journey_type").agg(
                journeys=j.count(),
                defined=_count_if(~j.outcome.isin(list(undecided))),
                success=_count_if(j.outcome == "success"),
            )
        )

    def confusion(self) -> list[Row]:
        """Matched journeys by true type, true outcome, predicted outcome and predicted type."""
        m = self.matched
        return self._rows(
            m.group_by(["true_type", "true_outcome", "outcome", "pred_type"]).agg(journeys=m.count())
        )

    def paired_rate(self, metric: str) -> Row:
        """FCR or leakage on the same matched support journeys, counted by the truth and the model.

        ``fcr``: journeys with an assisted contact on both sides. ``leakage``: those that also
        have a digital event on both sides. ``leakage_to_call``: those of them whose true journey
        has a call-centre event (the world counts a digital attempt as leaked only when a call
        followed; the model counts any assisted contact).
        """
        m = self.matched
        base = (m.true_type == "support") & (m.true_contacts > 0) & (m.assisted_contacts > 0)
        columns = ("true_fcr", "pred_fcr")
        if metric != "fcr":
            base &= m.true_digital & (m.digital_events > 0)
            columns = ("true_leakage", "pred_leakage")
        if metric == "leakage_to_call":
            base &= m.true_called
        s = m.filter(base)
        truth, model = (s[c].fill_null(False) for c in columns)
        [row] = self._rows(
            s.aggregate(
                journeys=s.count(),
                true=_count_if(truth),
                predicted=_count_if(model),
                agree=_count_if(truth == model),
            )
        )
        return row

    def evidence(self) -> list[Row]:
        """Matched journeys by outcome evidence, true type and outcome, predicted success, and
        whether the truth links negative feedback to the journey (needs ``outcome_evidence``)."""
        m = self.matched
        return self._rows(
            m.group_by(
                evidence=m[EVIDENCE_COLUMN],
                true_type=m.true_type,
                true_outcome=m.true_outcome,
                predicted_success=m.outcome == "success",
                negative_feedback=m.true_negative_feedback,
            ).agg(journeys=m.count())
        )


def _matched(
    cells: ir.Table,
    events: ir.Table,
    truth: dict[str, ir.Table],
    journeys: ir.Table,
    digital_channels: Iterable[str],
    *,
    has_evidence: bool,
) -> ir.Table:
    """Mutual best matches with the true journey's and the predicted journey's columns."""
    by_pred = ibis.window(group_by="pj", order_by=[ibis.desc("n"), "tj"])
    by_true = ibis.window(group_by="tj", order_by=[ibis.desc("n"), "pj"])
    ranked = cells.mutate(rp=ibis.row_number().over(by_pred), rt=ibis.row_number().over(by_true))
    pairs = ranked.filter((ranked.rp == 0) & (ranked.rt == 0)).select("pj", "tj", shared="n")
    tj = truth["journeys"]
    true_side = tj.select(
        tj=tj.journey_id,
        true_type=tj.journey_type,
        true_outcome=tj.outcome,
        true_contacts=tj.contacts,
        true_fcr=tj.first_contact_resolution,
        true_leakage=tj.leakage,
    )
    digital = events.group_by("tj").agg(
        true_digital=events.channel.isin(list(digital_channels)).any(),
        true_called=(events.channel == CALL_CENTRE).any(),
    )
    fb = truth["feedback"].filter(truth["feedback"].journey_id.notnull())
    negative = fb.group_by(tj=fb.journey_id).agg(true_negative_feedback=(fb.tone == "negative").any())
    pred_side = journeys.select(
        pj=journeys.journey_id,
        pred_type=journeys.journey_type,
        outcome=journeys.outcome,
        assisted_contacts=journeys.assisted_contacts,
        digital_events=journeys.digital_events,
        pred_fcr=journeys.first_contact_resolution,
        pred_leakage=journeys.leakage,
        **({EVIDENCE_COLUMN: journeys[EVIDENCE_COLUMN]} if has_evidence else {}),
    )
    joined = pairs.join(true_side, "tj").join(pred_side, "pj").join(digital, "tj")
    joined = joined.left_join(negative, joined.tj == negative.tj).drop("tj_right")
    return joined.mutate(true_negative_feedback=joined.true_negative_feedback.fill_null(False))
