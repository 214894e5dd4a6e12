"""The same map checked for two groups — two segments or two periods — side by side, tested.

Each row compares one share between group B and group A (the baseline: the first segment or
period named): conformance, each deviation kind, each deviation kind at each stage, each rule
broken, and each stage's share of journeys within its time target. The statistics are the
discovery comparisons' (``discovery/_stats.py``): Wilson intervals, Newcombe's interval of the
difference, the two-proportion z test (Fisher's exact test when an expected count is below 5),
and Benjamini-Hochberg q-values over every test of the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from journeylens.discovery._stats import Proportion, benjamini_hochberg, compare_proportions

__all__ = ["compare_groups"]


def _shares(
    groups: dict[str, dict[str, Any]],
    deviations: Sequence[dict[str, Any]],
    rules: Sequence[dict[str, Any]],
    timing: Sequence[dict[str, Any]],
) -> dict[tuple[str, str], dict[str, Proportion]]:
    """(measure, about) -> group -> Proportion."""
    out: dict[tuple[str, str], dict[str, Proportion]] = {}
    for label, g in groups.items():
        out.setdefault(("conformance", "all"), {})[label] = Proportion(g["conforming"], g["journeys"])
    for row in deviations:
        about = (
            row["kind"]
            if row["stage"] is None and row["scope"] == "kind"
            else f"{row['kind']} @ {row['stage']}"
        )
        measure = "deviation" if row["scope"] == "kind" else "deviation_at_stage"
        out.setdefault((measure, about), {})[row["group"]] = Proportion(row["journeys"], row["of"])
    for row in rules:
        out.setdefault(("rule_broken", row["rule_label"]), {})[row["group"]] = Proportion(
            row["journeys"], row["of"]
        )
    for row in timing:
        if row["within_target"] is not None:
            key = ("within_time_target", row["stage"])
            out.setdefault(key, {})[row["group"]] = Proportion(row["within_target"], row["journeys"])
    return out


def compare_groups(
    labels: Sequence[str],
    groups: dict[str, dict[str, Any]],
    deviations: Sequence[dict[str, Any]],
    rules: Sequence[dict[str, Any]],
    timing: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Rows of B against A (``labels`` = [A, B]): each share in both groups with its interval,
    the difference with its interval, the test, p and BH q. A share missing in a group (no journey
    deviated there) counts 0 of that group's journeys."""
    a, b = labels
    rows: list[dict[str, Any]] = []
    for (measure, about), by in _shares(groups, deviations, rules, timing).items():
        pa_ = by.get(a, Proportion(0, groups.get(a, {}).get("journeys", 0)))
        pb = by.get(b, Proportion(0, groups.get(b, {}).get("journeys", 0)))
        if measure == "within_time_target" and (a not in by or b not in by):
            continue  # a stage no journey of one group reached has no time to compare
        test = compare_proportions(pb, pa_)
        (alo, ahi), (blo, bhi) = pa_.interval(), pb.interval()
        rows.append({
            "measure": measure, "about": about,
            "a": a, "a_value": pa_.rate, "a_lo": alo, "a_hi": ahi, "a_n": pa_.successes, "a_d": pa_.trials,
            "b": b, "b_value": pb.rate, "b_lo": blo, "b_hi": bhi, "b_n": pb.successes, "b_d": pb.trials,
            "diff": test.diff, "diff_lo": test.diff_lo, "diff_hi": test.diff_hi,
            "test": test.test, "statistic": test.statistic, "p": test.p,
        })  # fmt: skip
    for row, q in zip(rows, benjamini_hochberg([r["p"] for r in rows]), strict=True):
        row["q"] = q
        row["significant"] = None if q is None else q < 0.05
    return rows
