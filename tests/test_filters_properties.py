"""Property filters with operators and all/any matching (``--where``, ``--match``): the text
grammar, the JSON form, the selection on a small story world with known answers, and the same
filter through the CLI, the REST API (text and structured conditions) and the dashboard.

The story (one ``shop`` journey each, starting at home; ``properties`` per event):

    ann  home {plan: pro, amount: 150, country: DE} -> checkout {coupon: SPRING, page: Billing FAQ}
    bob  home {plan: free, amount: 20, country: FR} -> faq {page: faq-billing}
    cat  home {plan: pro, amount: n/a, country: US}
    dan  home {}                                   -> checkout {amount: 99.5}

Customer traits: ann {tier: gold, vip: yes}, bob {tier: basic}, dan {tier: gold}; cat has no record.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import journeylens as jl
from conftest import customer
from journeylens.discovery.selection import EmptySelectionError, select_journeys
from journeylens.errors import InputError
from journeylens.identity import stitch
from journeylens.journeys import build_journeys
from journeylens.journeys.definitions import Criteria, JourneyRules, JourneyType
from journeylens.server.app import ServerSettings, create_app
from journeylens.server.dashboard_pages import PAGES, panel_values
from journeylens.server.keys import KEYS_FILE, KeyStore
from journeylens.specs.conditions import PropertyCondition, parse_condition
from journeylens.specs.discovery import JourneyFilter
from journeylens.specs.identity import USER

RULES = JourneyRules(types={"shop": JourneyType(priority=1, start=Criteria(touchpoints=["home"]))})
START = dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC)
EVERYONE = {"ann", "bob", "cat", "dan"}


def story_lines() -> list[dict[str, Any]]:
    def at(user: str, day: int, steps: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
        rows = customer(user, [(c, t) for c, t, _ in steps], start=START + dt.timedelta(days=day))
        return [{**row, "properties": props} for row, (_, _, props) in zip(rows, steps, strict=True)]

    return [
        *at("ann", 0, [("web", "home", {"plan": "pro", "amount": 150, "country": "DE"}),
                       ("web", "checkout", {"coupon": "SPRING", "page": "Billing FAQ"})]),
        *at("bob", 1, [("web", "home", {"plan": "free", "amount": 20, "country": "FR"}),
                       ("app", "faq", {"page": "faq-billing"})]),
        *at("cat", 2, [("web", "home", {"plan": "pro", "amount": "n/a", "country": "US"})]),
        *at("dan", 3, [("app", "home", {}), ("app", "checkout", {"amount": 99.5})]),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    folder = tmp_path_factory.mktemp("filters")
    events = folder / "events.jsonl"
    events.write_text("".join(json.dumps(r) + "\n" for r in story_lines()), encoding="utf-8")
    ws = jl.Workspace.init(folder / "ws")
    ws.ingest(paths=[str(events)])
    traits = folder / "customers.jsonl"
    rows = [
        {"user_id": "ann", "traits": {"tier": "gold", "vip": "yes"}},
        {"user_id": "bob", "traits": {"tier": "basic"}},
        {"user_id": "dan", "traits": {"tier": "gold"}},
    ]
    traits.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ws.ingest(paths=[str(traits)], table="customers")
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, RULES)
    yield ws
    ws.close()


def users(ws: jl.Workspace, flt: JourneyFilter) -> set[str]:
    """The user ids of the selected journeys' customers."""
    cmap = ws.store.backend.table("customer_map")
    known = cmap.filter(cmap.identifier_type == USER)
    chosen = select_journeys(ws.store, flt).join(known, "customer_id").select("identifier_value")
    return {str(r["identifier_value"]) for r in ws.store.execute(chosen).to_pylist()}


# --- the grammar ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "op", "value"),
    [
        ("product=loan", "product", "eq", "loan"),
        ("title = sign in now", "title", "eq", "sign in now"),  # the first operator wins
        ("url=https://x.test/?a=1", "url", "eq", "https://x.test/?a=1"),
        ("plan!=free", "plan", "neq", "free"),
        ("page~FAQ", "page", "contains", "FAQ"),
        ("page!~faq", "page", "not_contains", "faq"),
        ("country in DE, FR", "country", "in", ["DE", "FR"]),
        ("country NOT IN DE,FR", "country", "not_in", ["DE", "FR"]),
        ("amount>100", "amount", "gt", 100.0),
        ("amount >= 99.5", "amount", "gte", 99.5),
        ("amount<-1e3", "amount", "lt", -1000.0),
        ("amount<=0", "amount", "lte", 0.0),
        ("coupon?", "coupon", "set", None),
        ("coupon!?", "coupon", "not_set", None),
        ("customer.tier in gold,silver", "tier", "in", ["gold", "silver"]),
    ],
)
def test_text_form(text: str, key: str, op: str, value: Any) -> None:
    cond = parse_condition(text)
    assert (cond.key, cond.op, cond.value) == (key, op, value)
    assert parse_condition(cond.text()) == cond


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("product", "'product' is not a condition; expected KEY=VALUE"),
        ("plan==free", "unknown operator '=='"),
        ("amount=>100", "unknown operator '=>'"),
        ("amount<>3", "unknown operator '<>'"),
        ("amount>abc", "'abc' is not a number"),
        ("amount>inf", "not a finite number"),
        ("country in ,", "non-empty list"),
        ("=loan", "is not a condition"),
        ({"key": "amount", "op": "gt", "value": "100"}, "'100' is not a finite number"),
        ({"key": "amount", "op": "like", "value": "x"}, "op: Input should be 'eq'"),
        ({"key": "coupon", "op": "set", "value": "x"}, "takes no value"),
        ({"key": "plan", "value": 3}, "takes a text value"),
        ({"key": "plan", "value": "x", "extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_bad_conditions_are_named_by_position(given: Any, problem: str) -> None:
    with pytest.raises(ValueError, match="properties\\[1\\]: ") as caught:
        JourneyFilter(properties=["ok=1", given])
    assert problem in str(caught.value)


def test_old_forms_keep_their_meaning() -> None:
    equal = [PropertyCondition(key="product", value="loan")]
    assert JourneyFilter(properties={"product": "loan"}).properties == equal
    assert JourneyFilter(properties=["product=loan"]).properties == equal
    assert JourneyFilter(properties="product=loan").properties == equal
    flt = JourneyFilter(properties=["plan!=free", {"key": "amount", "op": "gt", "value": 100}], match="any")
    assert flt.describe() == "where plan!=free or amount>100"


# --- the selection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "match", "expected"),
    [
        (["plan=pro"], "all", {"ann", "cat"}),
        (["plan!=free"], "all", {"ann", "cat"}),  # only events that have a plan
        (["country in DE,FR"], "all", {"ann", "bob"}),
        (["country not in DE,FR"], "all", {"cat"}),
        (["amount>100"], "all", {"ann"}),  # cat's 'n/a' is not a number
        (["amount<100"], "all", {"bob", "dan"}),
        (["amount>=99.5"], "all", {"ann", "dan"}),
        (["coupon?"], "all", {"ann"}),
        (["coupon!?"], "all", EVERYONE),  # every journey has an event without a coupon
        (["page~faq"], "all", {"ann", "bob"}),  # any case
        (["plan=pro", "country=DE"], "all", {"ann"}),  # one event meets both
        (["coupon?", "country=FR"], "any", {"ann", "bob"}),
        (["plan=free", "amount>50", "page~FAQ"], "any", {"ann", "bob", "dan"}),
        (["customer.tier=gold"], "all", {"ann", "dan"}),
        (["customer.tier!=gold"], "all", {"bob"}),
        (["customer.tier!?"], "all", {"cat"}),  # no customer record: no trait set
        (["customer.tier=gold", "customer.vip?"], "all", {"ann"}),
        (["customer.tier=gold", "amount<100"], "all", {"dan"}),  # the customer and one event
        (["customer.vip?", "amount<100"], "any", {"ann", "bob", "dan"}),
        (["customer.tier=basic", "customer.vip?"], "any", {"ann", "bob"}),
    ],
)
def test_selection_known_answers(
    story: jl.Workspace, where: list[str], match: str, expected: set[str]
) -> None:
    assert users(story, JourneyFilter(properties=where, match=match)) == expected


def test_conditions_combine_with_the_other_filters(story: jl.Workspace) -> None:
    # The channel applies to the same event as the conditions: bob's faq is on the app.
    assert users(story, JourneyFilter(channel=["app"], properties=["page~faq"])) == {"bob"}
    mixed = JourneyFilter(channel=["app"], properties=["customer.vip?", "page~faq"], match="any")
    assert users(story, mixed) == {"bob"}  # ann is a vip but used no app
    assert users(story, JourneyFilter(since=START + dt.timedelta(days=1), properties=["plan=pro"])) == {"cat"}


def test_nothing_selected_is_the_usual_message(story: jl.Workspace) -> None:
    # ann's pro plan and her coupon are on different events.
    with pytest.raises(
        EmptySelectionError, match=re.escape("No journeys match the filter (where plan=pro and coupon?)")
    ):
        story.dfg(where=["plan=pro", "coupon?"])


# --- the surfaces ---------------------------------------------------------------------------------


def test_cli_where_and_match(story: jl.Workspace, run_cli: Callable[..., Any]) -> None:
    args = ["variants", "-w", str(story.root), "-f", "json", "--where", "coupon?", "--where", "country=FR"]
    anyone = run_cli([*args, "--match", "any"])
    assert anyone.exit_code == 0, anyone.output
    assert json.loads(anyone.stdout)["totals"]["journeys"] == 2
    bad = run_cli(["variants", "-w", str(story.root), "--where", "ok=1", "--where", "amount>lots"])
    assert isinstance(bad.exception, InputError)
    text = str(bad.exception)
    assert "Option --where 'ok=1, amount>lots'" in text
    assert "properties[1]: 'amount>lots': 'lots' is not a number" in text and bad.exception.hint


@pytest.fixture(scope="module")
def client(story: jl.Workspace) -> Iterator[TestClient]:
    token = KeyStore(Path(story.root) / KEYS_FILE).create("read").secret
    app = create_app(Path(story.root), settings=ServerSettings(auth_failures_per_minute=10_000))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as http:
        yield http


def test_api_takes_text_and_structured_conditions(client: TestClient) -> None:
    url = "/api/v1/variants"
    text = client.get(url, params=[("where", "coupon?"), ("where", "country=FR"), ("match", "any")])
    assert text.status_code == 200, text.text
    body = {"where": [{"key": "coupon", "op": "set"}, "country=FR"], "match": "any"}
    structured = client.post(url, json=body)
    assert structured.status_code == 200, structured.text
    assert structured.json() == text.json() and text.json()["totals"]["journeys"] == 2
    numeric = client.post(url, json={"where": [{"key": "amount", "op": "gt", "value": 100}]})
    assert numeric.json()["totals"]["journeys"] == 1
    trait = client.post(url, json={"where": [{"key": "tier", "value": "gold", "scope": "customer"}]})
    assert trait.json()["totals"]["journeys"] == 2


def test_api_refuses_bad_conditions_naming_the_field(client: TestClient) -> None:
    unknown = client.post("/api/v1/variants", json={"where": [{"key": "a", "op": "like", "value": "x"}]})
    assert unknown.status_code == 400 and unknown.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert unknown.json()["errors"][0]["field"].startswith("where")
    loose = client.post("/api/v1/variants", json={"where": [{"key": "amount", "op": "gt", "value": "100"}]})
    assert loose.status_code == 400  # strict: a number is a JSON number
    text = client.get("/api/v1/variants", params={"where": "amount>lots"})
    assert text.status_code == 400 and "properties[0]: 'amount>lots'" in text.json()["detail"]
    empty = client.get("/api/v1/variants", params=[("where", "plan=pro"), ("where", "coupon?")])
    assert empty.status_code == 400 and "No journeys match the filter" in empty.json()["detail"]


def test_dashboard_passes_the_property_filter(story: jl.Workspace, client: TestClient) -> None:
    page = PAGES["process-map"]
    query = {"where": "coupon? ; country=FR", "match": "any"}
    assert panel_values(page, page.panels[0], query) == {"where": ["coupon?", "country=FR"], "match": "any"}
    html = client.get("/dashboard/process-map", params=query).text
    assert 'name="where"' in html and 'value="coupon? ; country=FR"' in html
    assert re.search(r'<option value="any" selected>', html)
    panel = client.get("/dashboard/process-map/panel/0", params=query)
    assert panel.status_code == 200
    expected = story.dfg(where=["coupon?", "country=FR"], match="any").records()
    assert all(f">{edge['source']}<" in panel.text for edge in expected) and expected
    with pytest.raises(InputError):
        story.dfg(where=["amount>lots"])
