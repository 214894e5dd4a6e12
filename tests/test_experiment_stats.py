"""Experiment statistics against GrowthBook's gbstats 0.8.0 (golden numbers written by
scripts/gbstats_golden.py in its own environment) to 1e-9, and the multiplicity adjustments
against statsmodels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from statsmodels.stats.multitest import multipletests

from journeylens.experiments import statistics as st

DATA = Path(__file__).parent / "data"
CASES = json.loads((DATA / "gbstats_cases.json").read_text())
GOLDEN = json.loads((DATA / "gbstats_golden.json").read_text())


def _stat(s: dict[str, Any]) -> st.Statistic:
    kind = s["kind"]
    if kind == "proportion":
        return st.Proportion(s["n"], s["sum"])
    if kind == "mean":
        return st.SampleMean(s["n"], s["sum"], s["sum_squares"])
    if kind == "ratio":
        m, d = _stat(s["m"]), _stat(s["d"])
        assert isinstance(m, st.Proportion | st.SampleMean) and isinstance(d, st.Proportion | st.SampleMean)
        return st.Ratio(s["n"], m, d, s["m_d_sum_of_products"])
    post, pre = _stat(s["post"]), _stat(s["pre"])
    assert isinstance(post, st.Proportion | st.SampleMean) and isinstance(pre, st.Proportion | st.SampleMean)
    return st.RegressionAdjusted(s["n"], post, pre, s["post_pre_sum_of_products"])


def _close(ours: float, golden: float) -> None:
    assert ours == pytest.approx(golden, rel=1e-9, abs=1e-9)


def _same(ours: st.TestResult, golden: dict[str, Any], *keys: str) -> None:
    for key in ("estimate", "lo", "hi", "stddev", *keys):
        _close(getattr(ours, key), golden[key])
    assert ours.error == golden["error"]


def test_the_golden_numbers_come_from_gbstats_0_8() -> None:
    assert GOLDEN["gbstats"].startswith("0.8")
    assert len(GOLDEN["tests"]) == 2 * len(CASES["tests"])


@pytest.mark.parametrize("row", GOLDEN["tests"], ids=lambda r: f"{r['a']}-{r['b']}-{r['difference']}")
def test_frequentist_sequential_and_bayesian_match_gbstats(row: dict[str, Any]) -> None:
    a, b = _stat(CASES["statistics"][row["a"]]), _stat(CASES["statistics"][row["b"]])
    relative = row["difference"] == "relative"
    _same(st.ttest(a, b, relative=relative), row["ttest"], "p_value")
    _same(st.ttest(a, b, relative=relative, sequential=True), row["sequential"], "p_value")
    for golden in row["bayesian"]:
        prior = golden["prior"]
        ours = st.bayesian(
            a, b, relative=relative, prior_mean=prior["mean"], prior_variance=prior["variance"],
            proper=prior["proper"],
        )  # fmt: skip
        _same(ours, golden, "chance_to_win")
        assert ours.risk is not None
        for mine, theirs in zip(ours.risk, golden["risk"], strict=True):
            _close(mine, theirs)


@pytest.mark.parametrize("row", GOLDEN["srm"], ids=lambda r: str(r["units"]))
def test_srm_matches_gbstats(row: dict[str, Any]) -> None:
    _close(st.srm_p_value(row["units"], row["weights"]), row["p_value"])


def test_cuped_pooled_theta_narrows_the_interval() -> None:
    a, b = _stat(CASES["statistics"]["cuped_a"]), _stat(CASES["statistics"]["cuped_b"])
    assert isinstance(a, st.RegressionAdjusted) and isinstance(b, st.RegressionAdjusted)
    adjusted = st.ttest(a, b, relative=False)
    plain = st.ttest(a.post, b.post, relative=False)
    assert adjusted.theta is not None and adjusted.theta > 0
    assert adjusted.hi - adjusted.lo < plain.hi - plain.lo


def test_holm_and_bh_match_statsmodels() -> None:
    p = [0.001, 0.04, 0.03, 0.2, 0.011, 0.5, 0.04]
    for ours, method in ((st.holm(p), "holm"), (st.benjamini_hochberg(p), "fdr_bh")):
        theirs = multipletests(p, method=method)[1]
        for x, y in zip(ours, theirs, strict=True):
            _close(x, float(y))
