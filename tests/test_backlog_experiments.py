"""A proposed experiment per backlog item: the rate, its baseline over the denominator it was measured
on, the MDE from the item's estimated excess, units per variant and days at the traffic seen
(decisions/backlog_experiments.py, docs/decisions.md)."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from journeylens.decisions.backlog import BacklogResult, Evidence, Opportunity
from journeylens.decisions.backlog_experiments import DEGENERATE, NOT_A_RATE, proposed_experiment
from journeylens.nba.power import sample_size


def _item(kind: str, numbers: dict[str, object], count: float | None = 300.0) -> Opportunity:
    return Opportunity(
        kind=kind, subject="web:billing_faq", title="t", evidence=(Evidence(kind, "s", "c", numbers),),
        journeys=1_000.0, customers=None, money=None, money_lo=None, money_hi=None, money_method="-",
        owner=None, confidence="high", count=count, count_unit="excess things",
    )  # fmt: skip


def test_avoidable_contact_is_sized_from_its_excess_contact_rate() -> None:
    item = _item("avoidable contact", {"exposures": 1_200, "contact_rate": 0.6, "peer_rate": 0.5})
    d = proposed_experiment(item, days=120)
    assert (d["base_rate"], d["denominator"], d["unit"]) == (0.6, 1_200, "exposure")
    assert d["mde"] == pytest.approx(-0.1) and d["variance"] == pytest.approx(0.24)
    # (z_0.975 + z_0.8)² x 2 p(1-p) / MDE² = 376.7 -> 377 per variant
    assert d["per_variant"] == math.ceil(sample_size(-0.1, 0.24)) == 377
    assert d["eligible_per_day"] == pytest.approx(10.0) and d["days"] == pytest.approx(75.4)
    assert d["reason"] is None and "377" in d["design"]


def test_friction_cause_team_and_theme_have_their_rates() -> None:
    cause = proposed_experiment(
        _item("friction cause", {"journeys_with": 500, "rate_with": 0.3, "difference": 0.12, "label": "x"}),
        100,
    )
    assert (cause["base_rate"], cause["mde"], cause["unit"]) == (0.3, -0.12, "journey")
    team = proposed_experiment(
        _item("team performance", {"fcr_n": 400, "observed": 240, "expected": 280}), 100
    )
    assert team["base_rate"] == 0.6 and team["mde"] == pytest.approx(0.1) and team["denominator"] == 400
    theme = proposed_experiment(_item("negative theme", {"judged": 200, "negative_share": 0.5}, 365.0), 100)
    # 365 a year over 100 days of data: 100 excess comments in the data, over 200 judged
    assert theme["mde"] == pytest.approx(-0.5) and theme["per_variant"] is not None


def test_items_without_an_excess_rate_say_why() -> None:
    deviation = proposed_experiment(_item("map deviation", {"journeys": 10, "per_journey": 2.0}), 100)
    assert deviation["reason"] == NOT_A_RATE and deviation["per_variant"] is None
    flat = proposed_experiment(
        _item("avoidable contact", {"exposures": 10, "contact_rate": 1.0, "peer_rate": 0.5}), 10
    )
    assert flat["reason"] == DEGENERATE and flat["per_variant"] is None and flat["base_rate"] == 1.0


def test_backlog_json_carries_one_proposal_per_item() -> None:
    item = _item("avoidable contact", {"exposures": 1_200, "contact_rate": 0.6, "peer_rate": 0.5})
    result = BacklogResult(pa.table({"id": [item.id]}), items=(item,), context={"days": 120.0})
    proposals = result.to_dict()["proposed_experiments"]
    assert list(proposals) == [item.id] and proposals[item.id]["per_variant"] == 377
