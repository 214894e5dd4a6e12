"""The search of ``journeylens causes``: candidates, contrasts, conditional checks, joint model.

1. **Candidates.** Per feature family one engine pass counts journeys with each feature and the
   outcome among them (``causes_features.feature_counts``). A feature is *supported* when at least
   ``min_support`` journeys have it and ``min_support`` do not. A property or trait key with
   more than ``max_values`` distinct values is not tested (a note says so). Pairs ``A & B`` are
   formed among the ``max_pair_features`` most frequent supported features (one more pass) and
   are candidates when supported and not equal to one of their parts.
2. **Contrasts.** Each candidate: rate with vs without, difference, risk ratio, z or Fisher test
   (``causes_stats.contrast``); Benjamini-Hochberg q over every candidate tested.
3. **Conditional step**, on the candidates with q at or below the level (one engine pass counts
   every pair of them: the 2x2x2 tables): in order of strength (p), a feature is the *proxy of*
   another when, stratified on the other, it is no longer associated (Cochran-Mantel-Haenszel
   p at or above the level) while the other still is given it (or is stronger); a feature on
   exactly the same journeys as a stronger one is the *same journeys as* it. A pair is kept
   only when its interaction (log-odds scale) is significant: otherwise its parts explain it.
4. **Joint model.** The survivors enter one logistic regression on grouped presence patterns
   (one engine pass); a survivor whose adjusted odds ratio is not significant is reported, not
   counted as a cause.

A *cause* is a survivor that raises the outcome rate and stays significant when adjusted (or
cannot be adjusted: the reason says why). Causes are ranked by their excess outcome journeys
(journeys with the feature x the difference in rate): what a fix could at most give back. All
"associated with": only an experiment shows that changing it changes the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from journeylens.decisions import causes_features as counts
from journeylens.decisions.causes_stats import FloatArray, cmh, contrast, interaction, joint_logistic, strata
from journeylens.discovery._stats import benjamini_hochberg
from journeylens.errors import InputError

Execute = Callable[[ir.Expr], pa.Table]
MAX_CONDITIONAL = 40
"""Significant single features entering the conditional step (the strongest by p)."""
MAX_JOINT = 30
"""Features entering the joint model."""
MAX_BITS = 62
"""Features whose presence patterns one engine pass counts (a 64-bit mask)."""


@dataclass(frozen=True)
class Engine:
    """Where the counts come from: the feature tables, the outcome table, and how to run a query."""

    features: ir.Table
    outcome: ir.Table
    execute: Execute

    def rows(self, expr: ir.Expr) -> list[dict[str, Any]]:
        return self.execute(expr).to_pylist()


@dataclass(frozen=True)
class Settings:
    min_support: int = 20
    max_values: int = 20
    max_pair_features: int = 30
    level: float = 0.05
    examples: int = 3


@dataclass
class Search:
    """Every candidate tested (``rows``), the totals and what was not tested (``notes``)."""

    journeys: int
    outcome_journeys: int
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    unsupported: int = 0


def search(features: ir.Table, outcome: ir.Table, execute: Execute, s: Settings) -> Search:
    """Run steps 1-4 (module doc) over the feature table (every family) and the outcome table."""
    engine = Engine(features, outcome, execute)
    total = engine.rows(counts.totals(outcome))[0]
    n_all, k_all = int(total["n"]), int(total["k"] or 0)
    if n_all == 0:  # undefined is not zero: an empty result that says why (``causes.result``)
        return Search(0, 0, [])
    _check_contrast(n_all, k_all)
    singles, notes, unsupported = _singles(engine, s, n_all)
    rows = [
        {"label": c["label"], "family": c["family"], "parts": None, **contrast(c["n"], c["k"], n_all, k_all)}
        for c in singles.values()
    ]
    base = sorted(rows, key=lambda r: (-r["journeys_with"], r["label"]))[: s.max_pair_features]
    strongest = sorted(rows, key=_strength)[:MAX_CONDITIONAL]
    # One pass counts the presence patterns over the most frequent features (pair candidates) and
    # the strongest ones (a superset of the significant ones the conditional step checks): every
    # pair count, every 2x2x2 table and the joint model's data follow from them.
    chosen = list(dict.fromkeys([r["label"] for r in strongest] + [r["label"] for r in base]))[:MAX_BITS]
    found = Patterns.of(engine.rows(counts.patterns(features, outcome, chosen)) if chosen else [], chosen)
    co = found.pairs()
    frequent = {r["label"] for r in base}
    for (a, b), (n, k) in sorted(co.items()):
        if a not in frequent or b not in frequent:
            continue
        if min(n, n_all - n) >= s.min_support and n < min(singles[a]["n"], singles[b]["n"]):
            rows.append({"label": f"{a} & {b}", "family": "pair", "parts": [a, b],
                         **contrast(n, k, n_all, k_all)})  # fmt: skip
    for row, q in zip(rows, benjamini_hochberg([r["p"] for r in rows]), strict=True):
        row["q"] = q
        row["verdict"] = "kept" if q is not None and q <= s.level else f"not significant (q > {s.level:g})"
    _conditional(rows, co, s, n_all, k_all)
    _joint(rows, found, s.level)
    _examples(rows, engine, s)
    rows.sort(key=_rank)
    return Search(n_all, k_all, rows, notes, unsupported)


def _strength(r: dict[str, Any]) -> tuple[Any, ...]:
    """Strongest first: smallest p, then largest difference, then by label."""
    return (r["p"] if r["p"] is not None else 2.0, -abs(r["difference"] or 0), r["label"])


def _check_contrast(n: int, k: int) -> None:
    if k == 0:
        raise InputError(f"No journey has the outcome (0 of {n:,}): there is nothing to explain.", hint=_HINT)
    if k == n:
        raise InputError(
            f"Every journey has the outcome ({n:,} of {n:,}): no contrast is possible (nothing to compare "
            "with).",
            hint=_HINT,
        )


_HINT = "Widen the journey filter (--type, --segment, --since), or pick another --outcome."


def _singles(engine: Engine, s: Settings, n_all: int) -> tuple[dict[str, dict[str, Any]], list[str], int]:
    singles: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    unsupported = 0
    for r in engine.rows(counts.feature_counts(engine.features, engine.outcome, s.max_values)):
        family = r["family"]
        if family in counts.CAPPED and r["values"] > s.max_values:
            notes.append(
                f"{r['key']} has {r['values']:,} distinct values, more than max_values = {s.max_values}: "
                "not tested (only low-cardinality properties are candidate causes)"
            )
            continue
        n, k = int(r["n"]), int(r["k"] or 0)
        if min(n, n_all - n) < s.min_support:
            unsupported += 1
            continue
        singles[r["label"]] = {"label": r["label"], "family": family, "n": n, "k": k}
    return singles, notes, unsupported


@dataclass(frozen=True)
class Patterns:
    """Journeys (``n``) and outcome journeys (``k``) per presence pattern over ``labels`` (bit
    ``i`` of ``masks``: the journey has ``labels[i]``), every counted journey in one pattern."""

    labels: list[str]
    masks: npt.NDArray[np.int64]
    n: npt.NDArray[np.int64]
    k: npt.NDArray[np.int64]

    @classmethod
    def of(cls, table: list[dict[str, Any]], labels: list[str]) -> Patterns:
        def column(name: str) -> npt.NDArray[np.int64]:
            return np.array([int(t[name] or 0) for t in table], dtype=np.int64)

        return cls(labels, column("mask"), column("n"), column("k"))

    def bits(self, labels: list[str]) -> npt.NDArray[np.int64]:
        """Presence (0/1) of ``labels`` per pattern, one column each."""
        shifts = np.array([self.labels.index(name) for name in labels], dtype=np.int64)
        return (self.masks[:, None] >> shifts[None, :]) & 1

    def pairs(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(a, b) with a < b -> journeys with both and outcome journeys among them."""
        b = self.bits(self.labels)
        both_n, both_k = b.T @ (b * self.n[:, None]), b.T @ (b * self.k[:, None])
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for i, a in enumerate(self.labels):
            for j, c in enumerate(self.labels):
                if a < c and both_n[i, j]:
                    out[(a, c)] = (int(both_n[i, j]), int(both_k[i, j]))
        return out

    def collapse(self, labels: list[str]) -> tuple[FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The patterns over ``labels`` only (summed): presence columns, n and k per pattern."""
        bits = self.bits(labels)
        unique, inverse = np.unique(bits, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        n = np.bincount(inverse, weights=self.n, minlength=len(unique)).astype(np.int64)
        k = np.bincount(inverse, weights=self.k, minlength=len(unique)).astype(np.int64)
        return unique.astype(np.float64), n, k


def _conditional(
    rows: list[dict[str, Any]],
    co: dict[tuple[str, str], tuple[int, int]],
    s: Settings,
    n_all: int,
    k_all: int,
) -> None:
    by_label = {r["label"]: r for r in rows}
    sig = [r for r in rows if r["verdict"] == "kept" and r["family"] != "pair"]
    sig = sorted(sig, key=_strength)[:MAX_CONDITIONAL]
    order = {r["label"]: i for i, r in enumerate(sig)}
    removed: set[str] = set()
    for a in sig:
        worst: tuple[float, str, str] | None = None
        for b in sig:
            la, lb = a["label"], b["label"]
            if la == lb or lb in removed:
                continue
            n_ab, k_ab = co.get((min(la, lb), max(la, lb)), (0, 0))
            if n_ab == 0:
                continue
            na, ka, nb, kb = a["journeys_with"], a["outcome_with"], b["journeys_with"], b["outcome_with"]
            if n_ab == na == nb:
                if order[lb] < order[la]:
                    worst = (2.0, lb, "same journeys as")
                continue
            p_a = _held(a, strata(na, ka, nb, kb, n_ab, k_ab, n_all, k_all))
            if p_a < s.level:
                continue
            p_b = _held(b, strata(nb, kb, na, ka, n_ab, k_ab, n_all, k_all))
            if (p_b < s.level or order[lb] < order[la]) and (worst is None or p_a > worst[0]):
                worst = (p_a, lb, "proxy of")
        if worst is not None:
            removed.add(a["label"])
            a["verdict"] = f"{worst[2]} {worst[1]}"
            a["conditional_p"] = None if worst[0] > 1 else worst[0]
    tested = [r for r in rows if r["family"] == "pair" and r["verdict"] == "kept"]
    for r in tested:
        x, y = (by_label[p] for p in r["parts"])
        n_ab, k_ab = r["journeys_with"], r["outcome_with"]
        cells = [
            (n_ab, k_ab),
            (x["journeys_with"] - n_ab, x["outcome_with"] - k_ab),
            (y["journeys_with"] - n_ab, y["outcome_with"] - k_ab),
            (n_all - x["journeys_with"] - y["journeys_with"] + n_ab,
             k_all - x["outcome_with"] - y["outcome_with"] + k_ab),
        ]  # fmt: skip
        r["interaction"], r["interaction_p"] = interaction(cells)
    # The interaction tests are a family of their own: BH over them, and only a pair that raises
    # the outcome beyond its parts (a positive interaction) is kept as a pair.
    for r, q in zip(tested, benjamini_hochberg([r["interaction_p"] for r in tested]), strict=True):
        if q is None or q > s.level or (r["interaction"] or 0) <= 0:
            r["verdict"] = "explained by its parts (no positive interaction)"


def _held(row: dict[str, Any], tables: np.ndarray) -> float:
    """The CMH p of a feature within the strata of another, counted as 1 when the pooled odds ratio
    points the other way from the feature's own difference (the association did not hold: a
    feature that raised the outcome but lowers it within the strata is explained, not kept)."""
    p, odds = cmh(tables)
    raises = (row["difference"] or 0) > 0
    pooled_raises = odds is None or odds > 1  # None: no b*c mass, an infinite odds ratio
    if odds == 1 or pooled_raises != raises:
        return 1.0
    return p


def _joint(rows: list[dict[str, Any]], found: Patterns, level: float) -> None:
    kept = [r for r in rows if r["verdict"] == "kept"]
    kept = sorted(kept, key=_strength)[:MAX_JOINT]
    for r in rows:
        r.setdefault("conditional_p", None)
        r.setdefault("interaction", None)
        r.setdefault("interaction_p", None)
        r.update(adjusted_odds_ratio=None, adjusted_lo=None, adjusted_hi=None, adjusted_p=None)
        r["adjusted_reason"] = "not in the joint model: " + (
            r["verdict"] if r["verdict"] != "kept" else "beyond its cap"
        )
    kept = [r for r in kept if all(p in found.labels for p in r["parts"] or [r["label"]])]
    if not kept:
        return
    singles = list(dict.fromkeys(p for r in kept for p in r["parts"] or [r["label"]]))
    bits, n, k = found.collapse(singles)
    column = {name: bits[:, i] for i, name in enumerate(singles)}
    own = {r["label"] for r in kept}
    names = [r["label"] for r in kept] + [p for p in singles if p not in own]
    columns = [column[r["label"]] if r["family"] != "pair" else column[r["parts"][0]] * column[r["parts"][1]]
               for r in kept] + [column[p] for p in singles if p not in own]  # fmt: skip
    fitted = joint_logistic(names, np.column_stack(columns), n, k)
    for r in kept:
        adj = fitted[r["label"]]
        r.update(adjusted_odds_ratio=adj.odds_ratio, adjusted_lo=adj.lo, adjusted_hi=adj.hi, adjusted_p=adj.p,
                 adjusted_reason=adj.reason)  # fmt: skip
        if adj.p is not None and adj.p >= level:
            r["verdict"] = "not significant when adjusted jointly"


def _examples(
    rows: list[dict[str, Any]],
    engine: Engine,
    s: Settings,
) -> None:
    for r in rows:
        r["cause"] = r["verdict"] == "kept" and (r["difference"] or 0) > 0
        r["examples"] = []
    singles = [r["label"] for r in rows if r["cause"] and r["family"] != "pair"]
    if not singles or s.examples == 0:
        return
    found: dict[str, list[str]] = {}
    for e in engine.rows(counts.examples(engine.features, engine.outcome, singles, s.examples)):
        found.setdefault(e["label"], []).append(str(e["journey_id"]))
    for r in rows:
        if r["label"] in found:
            r["examples"] = sorted(found[r["label"]])


def _rank(r: dict[str, Any]) -> tuple[Any, ...]:
    """Causes first, by excess outcome journeys (most first); then the rest by p."""
    excess = r["excess_journeys"] or 0.0
    return (not r["cause"], -excess if r["cause"] else 0.0, r["p"] if r["p"] is not None else 2.0, r["label"])
