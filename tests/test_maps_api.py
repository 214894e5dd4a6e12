"""The Python API of one map (``ws.map("order").check()``) and what deviations cost per stage.

* ``ws.map(NAME)`` has one method per registered analysis that takes a map, generated from the
  registry (drift-tested): each returns what ``ws.map_<analysis>(NAME)`` returns; an unknown name
  fails as on the command line (the maps folder, the maps there, close matches).
* Per stage, the journeys with a deviation placed at it against conforming journeys: success and
  cost-to-serve differences with their intervals and the money the map's costs imply, hand-computed
  on eight stories, in ``map check`` JSON, the ``map show`` lane (JSON and HTML) and the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from journeylens import Workspace
from journeylens._docs import MAP_METHODS
from journeylens.analyses._generate import map_analyses, map_methods_source
from journeylens.errors import InputError
from journeylens.journeys.definitions import Criteria, JourneyType
from test_maps_check import _write_events

REPO = Path(__file__).resolve().parents[1]
MAP = """\
journey_type: order
goal: Buy without help
stages:
  - {name: browse, touchpoints: [home, product]}
  - {name: buy, touchpoints: [cart, pay, pay_failed]}
  - {name: done, touchpoints: [confirm]}
costs: {lost_conversion: 100}
"""
# Every event is on the web, which costs 1: a journey's cost to serve is its number of events.
STORIES = {
    "ok1": ["home", "product", "cart", "pay", "confirm"],
    "ok2": ["home", "product", "product", "cart", "pay", "confirm"],
    "ok3": ["home", "product", "product", "product", "cart", "pay", "confirm"],
    "back1": ["home", "product", "cart", "product", "cart", "pay", "confirm"],  # irregular: browse
    "back2": ["home", "product", "cart", "home", "cart", "pay_failed"],  # browse, buy (failed), done
    "skip": ["cart", "pay", "confirm"],  # missing: browse
    "fail": ["home", "product", "cart", "pay_failed"],  # failed: buy; missing: done
    "left": ["home", "product", "cart", "pay"],  # missing: done; the latest journey, still open
}
# Conforming: ok1-3, all succeed, costs 5, 6, 7. Deviating at each stage: the journeys, how many
# succeed of how many are decided (an open journey is not), their costs.
AT_STAGE = {
    "browse": (["back1", "back2", "skip"], 2, 3, [7, 6, 3]),
    "buy": (["back2", "fail"], 0, 2, [6, 4]),
    "done": (["back2", "fail", "left"], 0, 2, [6, 4, 4]),
}
CONFORMING_COSTS = [5, 6, 7]
ORDER_TYPE = JourneyType(
    priority=1,
    start=Criteria(touchpoints=["home", "product", "cart", "pay", "pay_failed", "confirm"]),
    success=Criteria(touchpoints=["confirm"]),
    failure=Criteria(touchpoints=["pay_failed"]),
)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("api") / "ws"
    ws = Workspace.init(root)
    ws.config.journeys.types = {"order": ORDER_TYPE}
    ws.config.journeys.costs = {"web": 1.0}
    ws.config.dump(root / "journeylens.toml")
    ws.close()
    ws = Workspace.open(root)
    stories = {case: [(tp, 5 * i) for i, tp in enumerate(steps)] for case, steps in STORIES.items()}
    ws.ingest(paths=[str(_write_events(root.parent, stories))])
    ws.build()
    (root / "maps" / "order.yaml").write_text(MAP, encoding="utf-8")
    yield ws
    ws.close()


# --- ws.map(NAME) -----------------------------------------------------------------------------


def test_map_methods_are_generated_from_the_registry() -> None:
    assert (REPO / MAP_METHODS).read_text() == map_methods_source(), (
        f"{MAP_METHODS} is stale: run `python -m journeylens._docs`"
    )
    from journeylens._map_analyses import MapAnalyses

    names = {a.name.partition(" ")[2] for a in map_analyses()}
    assert names == {"check", "show", "monitor"}  # map draft takes a journey type, not a map
    assert all(callable(getattr(MapAnalyses, n)) for n in names)


def _same(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-9 (the engine sums variances in no fixed order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_map_check_through_the_handle_equals_the_workspace_method(ws: Workspace) -> None:
    order = ws.map("order")
    assert order.path == ws.root / "maps" / "order.yaml"
    assert [s.name for s in order.validate().stages] == ["browse", "buy", "done"]
    assert order.model.costs.lost_conversion == 100
    assert _same(order.check().to_dict(), ws.map_check("order").to_dict())
    assert order.check(top=1).patterns == ws.map_check("order", top=1).patterns
    mermaid = order.show(format="mermaid", out="-")
    assert mermaid.text == ws.map_show("order", format="mermaid", out="-").text
    assert _same(mermaid.to_dict(), ws.map_show("order", format="json", out="-").to_dict())


def test_unknown_map_names_the_folder_the_maps_and_close_matches(ws: Workspace) -> None:
    with pytest.raises(InputError) as exc:
        ws.map("ordr")
    assert str(ws.root / "maps") in exc.value.message and "Available: 'order'" in exc.value.message
    assert exc.value.hint == "Did you mean 'order'?"
    # The same error as the command's run function gives.
    with pytest.raises(InputError) as cli:
        ws.map_check("ordr")
    assert (cli.value.message, cli.value.hint) == (exc.value.message, exc.value.hint)


# --- per-stage deviation cost -------------------------------------------------------------------


def _wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def _newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    (l1, u1), (l2, u2) = _wilson(k1, n1), _wilson(k2, n2)
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def _welch(a: list[int], b: list[int]) -> tuple[float, float, float]:
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1) / len(a)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1) / len(b)
    df = (va + vb) ** 2 / (va * va / (len(a) - 1) + vb * vb / (len(b) - 1))
    half = float(stats.t.ppf(0.975, df)) * math.sqrt(va + vb)
    return ma - mb, ma - mb - half, ma - mb + half


def _expected(stage: str) -> dict[str, Any]:
    cases, won, decided, costs = AT_STAGE[stage]
    success = _newcombe(won, decided, 3, 3)
    cost = _welch(costs, CONFORMING_COSTS)
    per_journey = cost[0] - success[0] * 100  # cost to serve, plus conversions lost at 100 each
    return {"journeys": len(cases), "share": len(cases) / len(STORIES), "success": success, "cost": cost,
            "per_journey": per_journey, "total": per_journey * len(cases)}  # fmt: skip


def test_stage_costs_in_map_check_equal_a_hand_computation(ws: Workspace) -> None:
    result = ws.map_check("order")
    rows = {(r["stage"], r["metric"]): r for r in result.stage_costs}
    base = rows[(None, "cost_to_serve")]
    assert (base["group"], base["value"], base["journeys"]) == ("conforming", 6.0, 3)
    money = {m["stage"]: m for m in result.stage_money}
    for stage in AT_STAGE:
        want = _expected(stage)
        success, cost = rows[(stage, "success")], rows[(stage, "cost_to_serve")]
        assert (success["group"], success["baseline"], success["journeys"]) == (
            "deviating",
            "conforming",
            want["journeys"],
        )
        got = (success["diff"], success["diff_lo"], success["diff_hi"])
        assert got == pytest.approx(want["success"]), stage
        assert (cost["diff"], cost["diff_lo"], cost["diff_hi"]) == pytest.approx(want["cost"]), stage
        assert cost["test"] == "welch" and cost["q"] is not None
        assert money[stage]["per_journey"] == pytest.approx(want["per_journey"])
        assert money[stage]["total"] == pytest.approx(want["total"])
        assert set(money[stage]["parts"]) == {"cost_to_serve", "lost_conversions"}
        assert "not caused" in money[stage]["note"]
    assert "stage_costs" in result.to_dict() and "stage_money" in result.to_dict()


def test_stage_costs_fill_the_deviations_lane_json_html_and_report(ws: Workspace, tmp_path: Path) -> None:
    view = ws.map("order").show(format="json", out="-")
    lane = {s["stage"]: s for s in view.to_dict()["stages"]}
    for stage in AT_STAGE:
        want, s = _expected(stage), lane[stage]
        assert s["deviation_share"] == pytest.approx(want["share"])
        assert s["deviation_journeys"] == want["journeys"]
        got = (s["deviation_success_diff"], s["deviation_success_diff_lo"], s["deviation_success_diff_hi"])
        assert got == pytest.approx(want["success"])
        cost = (s["deviation_cost_to_serve_diff"], s["deviation_cost_to_serve_diff_lo"],
                s["deviation_cost_to_serve_diff_hi"])  # fmt: skip
        assert cost == pytest.approx(want["cost"])
        assert s["deviation_cost"] == pytest.approx(want["total"])
        assert s["deviation_cost_per_journey"] == pytest.approx(want["per_journey"])
    html = view.html()
    # buy: success -100 pts against conforming journeys; cost to serve -1.00; 2 x 99.00 implied.
    assert "25% deviate here (2 journeys)" in html
    assert "success -100 pts" in html and "cost to serve -1.00" in html
    assert "money implied 198.00 (99.00 per journey)" in html and "an association" in html

    report = ws.report(tmp_path / "report.html").read_text(encoding="utf-8")
    assert "money implied 198.00 (99.00 per journey)" in report
