"""The result of ``journeylens map check``: per-journey verdicts plus the aggregated views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from journeylens.discovery._result import TableResult

if TYPE_CHECKING:
    import plotly.graph_objects as go


@dataclass(frozen=True)
class MapCheck(TableResult):
    """A map checked against actual journeys.

    ``table`` has one row per journey the map applies to: journey_id, group, outcome, one count
    per CJML deviation kind, ``rules_broken``, ``deviations`` and ``conforms``;
    ``deviation_list`` one row per deviation (journey_id, group, kind, stage, touchpoint, step),
    computed from the store on first use (a check itself needs only the per-journey table).
    The aggregated views are lists of records (see :data:`JSON_FIELDS`); ``group`` is ``all`` for
    one check, or the segment or period label when two are compared.
    """

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "context (object: map, file, journey_type, segment, filter, groups, dimension)",
        "groups (records: group, journeys, conforming, share, lo, hi)",
        "deviations (records: group, scope, kind, stage, journeys, of, share, lo, hi; scope is kind "
        "(any stage) or stage)",
        "ad_hoc (records: group, touchpoint, expected, unplanned, events, journeys, of, share, lo, hi)",
        "rules (records: group, rule, rule_label, journeys, of, share, lo, hi)",
        "costs (records: group, baseline, metric, kind, about, value, reason, lo, hi, n, d, sd, "
        "baseline_value, diff, diff_lo, diff_hi, test, statistic, p, q, significant, journeys)",
        "money (records: group, journeys, per_journey, total, parts, lost_conversion_basis, note)",
        "stage_costs (records: group, stage, baseline, metric, kind, about, value, reason, lo, hi, n, d, "
        "sd, baseline_value, diff, diff_lo, diff_hi, test, statistic, p, q, significant, journeys; group "
        "is deviating for the journeys with a deviation at the stage, conforming for the baseline whose "
        "stage is null)",
        "stage_money (records: group, stage, journeys, per_journey, total, parts, lost_conversion_basis, "
        "note)",
        "patterns (records: group, pattern, journeys, examples)",
        "timing (records: group, measure, stage, journeys, target, target_percentile, within_target, "
        "share_within, share_lo, share_hi, target_met, p50, p50_lo, p50_hi, p80, p80_lo, p80_hi, p90, "
        "p90_lo, p90_hi)",
        "kpis (records: group, stage, metric, value, lo, hi, n, d, min, max, verdict, reason)",
        "comparison (records: measure, about, a, a_value, a_lo, a_hi, a_n, a_d, b, b_value, b_lo, b_hi, "
        "b_n, b_d, diff, diff_lo, diff_hi, test, statistic, p, q, significant)",
    )

    deviation_source: Callable[[], pa.Table] | None = field(default=None, repr=False, compare=False)
    """Computes ``deviation_list`` (from the same store; it must still be open)."""
    context: dict[str, Any] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)
    deviations: list[dict[str, Any]] = field(default_factory=list)
    ad_hoc: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    costs: list[dict[str, Any]] = field(default_factory=list)
    money: list[dict[str, Any]] = field(default_factory=list)
    patterns: list[dict[str, Any]] = field(default_factory=list)
    timing: list[dict[str, Any]] = field(default_factory=list)
    kpis: list[dict[str, Any]] = field(default_factory=list)
    comparison: list[dict[str, Any]] = field(default_factory=list)
    stage_costs: list[dict[str, Any]] = field(default_factory=list)
    stage_money: list[dict[str, Any]] = field(default_factory=list)
    stage_journeys: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per group and stage: journeys with a deviation of any kind placed at the stage."""
    _fetched: dict[str, pa.Table] = field(default_factory=dict, repr=False, compare=False)

    @property
    def deviation_list(self) -> pa.Table:
        if "deviations" not in self._fetched:
            source = self.deviation_source
            self._fetched["deviations"] = source() if source is not None else pa.table({})
        return self._fetched["deviations"]

    def verdicts(self) -> list[dict[str, Any]]:
        """Per journey: does it conform, and how many deviations of each kind (``--format csv``)."""
        return self.records()

    def deviation_records(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.deviation_list.to_pylist()
        return rows

    def summary(self) -> dict[str, Any]:
        """The first group's journeys, conforming count and share with its interval."""
        return self.groups[0] if self.groups else {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "context": self.context, "groups": self.groups, "deviations": self.deviations,
            "ad_hoc": self.ad_hoc, "rules": self.rules, "costs": self.costs, "money": self.money,
            "patterns": self.patterns, "timing": self.timing, "kpis": self.kpis,
            "comparison": self.comparison, "stage_costs": self.stage_costs, "stage_money": self.stage_money,
        }  # fmt: skip

    def plot(self) -> go.Figure:
        """Share of journeys with each deviation kind (and each rule broken), with 95% intervals."""
        import plotly.graph_objects as go

        fig = go.Figure()
        rows = [r for r in self.deviations if r["scope"] == "kind"]
        rows += [{**r, "kind": "rule: " + r["rule_label"]} for r in self.rules]
        for group in dict.fromkeys(r["group"] for r in rows):
            mine = [r for r in rows if r["group"] == group]
            fig.add_bar(
                x=[r["kind"] for r in mine], y=[r["share"] for r in mine], name=str(group),
                error_y={"type": "data", "array": [(r["hi"] or 0) - (r["share"] or 0) for r in mine],
                         "arrayminus": [(r["share"] or 0) - (r["lo"] or 0) for r in mine]},
            )  # fmt: skip
        fig.update_layout(title=f"Map {self.context.get('map')}: journeys affected (95% Wilson interval)")
        return fig
