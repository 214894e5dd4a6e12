"""Write GrowthBook gbstats' outputs for the summary-statistic cases of tests/data/gbstats_cases.json.

gbstats pins numpy<2 / pandas<2, so it cannot live in JourneyLens' environment. Run this once in a
separate virtual environment; tests/test_experiment_stats.py checks JourneyLens against the output
to 1e-9::

    python3 -m venv /tmp/gbenv && /tmp/gbenv/bin/pip install gbstats==0.8.0
    /tmp/gbenv/bin/python scripts/gbstats_golden.py \
        tests/data/gbstats_cases.json tests/data/gbstats_golden.json
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)
from gbstats.utils import check_srm


def statistic(s: dict[str, Any]) -> Any:
    kind = s["kind"]
    if kind == "proportion":
        return ProportionStatistic(n=s["n"], sum=s["sum"])
    if kind == "mean":
        return SampleMeanStatistic(n=s["n"], sum=s["sum"], sum_squares=s["sum_squares"])
    if kind == "ratio":
        return RatioStatistic(
            n=s["n"],
            m_statistic=statistic(s["m"]),
            d_statistic=statistic(s["d"]),
            m_d_sum_of_products=s["m_d_sum_of_products"],
        )
    return RegressionAdjustedStatistic(
        n=s["n"],
        post_statistic=statistic(s["post"]),
        pre_statistic=statistic(s["pre"]),
        post_pre_sum_of_products=s["post_pre_sum_of_products"],
        theta=0,
    )


def frequentist(result: Any) -> dict[str, Any]:
    return {
        "estimate": result.expected,
        "lo": result.ci[0],
        "hi": result.ci[1],
        "stddev": result.uplift.stddev,
        "p_value": result.p_value,
        "error": result.error_message,
    }


def main(cases_path: str, out_path: str) -> None:
    cases = json.loads(Path(cases_path).read_text())
    stats = cases["statistics"]
    out: dict[str, Any] = {"gbstats": importlib.metadata.version("gbstats"), "tests": [], "srm": []}
    for case in cases["tests"]:
        for difference in ("absolute", "relative"):
            row: dict[str, Any] = {"a": case["a"], "b": case["b"], "difference": difference}
            test = TwoSidedTTest(
                statistic(stats[case["a"]]),
                statistic(stats[case["b"]]),
                FrequentistConfig(difference_type=difference),
            )
            row["ttest"] = frequentist(test.compute_result())
            seq = SequentialTwoSidedTTest(
                statistic(stats[case["a"]]),
                statistic(stats[case["b"]]),
                SequentialConfig(difference_type=difference),
            )
            row["sequential"] = frequentist(seq.compute_result())
            row["bayesian"] = []
            for prior in cases["priors"]:
                config = EffectBayesianConfig(difference_type=difference, prior_effect=GaussianPrior(**prior))
                r = EffectBayesianABTest(statistic(stats[case["a"]]), statistic(stats[case["b"]]), config)
                res = r.compute_result()
                row["bayesian"].append(
                    {
                        "prior": prior,
                        "estimate": res.expected,
                        "lo": res.ci[0],
                        "hi": res.ci[1],
                        "stddev": res.uplift.stddev,
                        "chance_to_win": res.chance_to_win,
                        "risk": res.risk,
                        "error": res.error_message,
                    }
                )
            out["tests"].append(row)
    for case in cases["srm"]:
        out["srm"].append({**case, "p_value": check_srm(case["units"], case["weights"])})
    Path(out_path).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
