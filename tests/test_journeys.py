"""Journeys on small stories, and the segmentation rules against a plain-Python reference."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeylens as jl
from conftest import STORY_START, write_csv
from journeylens.errors import ConfigError, NotFoundError
from journeylens.identity import stitch
from journeylens.journeys import JourneyRules, assign_journeys, build_journeys
from journeylens.journeys.definitions import EXAMPLE_COSTS, seconds
from journeylens.journeys.segment import BREAKS
from journeylens.journeys.summary import JourneySummarySpec, journey_summary, wilson
from journeylens.store.names import CHANNELS

COSTS = EXAMPLE_COSTS
PRICED = JourneyRules(costs=COSTS)


def at(hours: float) -> str:
    return (STORY_START + _dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ev(user: str, hours: float, channel: str, touchpoint: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "timestamp": at(hours), "channel": channel, "touchpoint": touchpoint, **extra}


def built(tmp_path: Path, rows: Sequence[dict[str, Any]], rules: JourneyRules | None = None) -> jl.Workspace:
    ws = jl.Workspace.init(tmp_path / "ws")
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", rows))])
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, rules or ws.config.journeys)
    return ws


def journeys_of(ws: jl.Workspace) -> list[dict[str, Any]]:
    j = ws.store.backend.table("journeys")
    return sorted(ws.store.execute(j).to_pylist(), key=lambda r: r["start"])


def steps_of(ws: jl.Workspace) -> dict[str, list[str]]:
    """journey_id -> touchpoints in step order."""
    je, events = ws.store.backend.table("journey_events"), ws.store.table("events")
    rows = ws.store.execute(
        je.join(events, "event_id").select("journey_id", "step", "touchpoint")
    ).to_pylist()
    out: dict[str, list[tuple[int, str]]] = {}
    for r in rows:
        out.setdefault(r["journey_id"], []).append((r["step"], r["touchpoint"]))
    return {k: [tp for _, tp in sorted(v)] for k, v in out.items()}


def test_channels_counts_each_channel_of_a_journeys_events_once(tmp_path: Path) -> None:
    """``channels`` counts the distinct channels of each journey's events: every channel,
    repeated, and a raw one ingest maps to ``other``."""
    raw = [*CHANNELS, "fax", "web", "call_center", "other", "email"]
    rows = [ev("ann", 0.01 * i, channel, f"step_{i}") for i, channel in enumerate(raw)]
    rows += [ev("bob", 0.01 * i, channel, "home") for i, channel in enumerate(["web", "web", "app", "web"])]
    ws = built(tmp_path, rows)
    je, events = ws.store.backend.table("journey_events"), ws.store.table("events")
    pairs = ws.store.execute(je.join(events, "event_id").select("journey_id", "channel")).to_pylist()
    used: dict[str, set[str]] = {}
    for r in pairs:
        used.setdefault(r["journey_id"], set()).add(r["channel"])
    counted = {j["journey_id"]: j["channels"] for j in journeys_of(ws)}
    assert counted == {k: len(v) for k, v in used.items()}
    assert max(counted.values()) == len(CHANNELS)  # ann's first journey holds all of them


def test_support_journey_across_app_chat_call_and_sms_over_five_days(tmp_path: Path) -> None:
    rows = [
        ev("ann", 0, "app", "my_invoices"),
        ev("ann", 0.1, "app", "billing_settings"),
        ev("ann", 3, "chat", "chatbot"),
        ev("ann", 3.05, "chat", "billing_chat", agent_id="a1", contact_reason="billing"),
        ev("ann", 50, "call_center", "ivr_menu"),
        ev("ann", 50.05, "call_center", "billing_call", agent_id="a2", contact_reason="billing"),
        ev("ann", 50.1, "call_center", "billing_call", agent_id="a3", contact_reason="billing"),
        ev("ann", 120, "sms", "ticket_resolved", direction="outbound"),
    ]
    ws = built(tmp_path, rows, PRICED)
    (j,) = journeys_of(ws)
    assert j["journey_type"] == "support"
    assert j["outcome"] == "success"
    assert j["touchpoints"] == 8 and j["channels"] == 4 and j["channel_switches"] == 3
    assert j["assisted_contacts"] == 3 and j["repeat_contacts"] == 2
    assert j["transfers"] == 1  # a2 -> a3 within three minutes
    assert j["leakage"] is True and j["leakage_touchpoint"] == "billing_settings"
    assert j["first_contact_resolution"] is False
    assert j["duration_s"] == 120 * 3600
    assert j["time_to_resolution_s"] == 120 * 3600
    expected_cost = 2 * COSTS["app"] + COSTS["chat"] + 2 * COSTS["call_center"] + COSTS["sms"]
    assert j["cost_to_serve"] == pytest.approx(expected_cost)


def test_intent_switch_and_quiet_time_open_new_journeys(tmp_path: Path) -> None:
    rows = [
        ev("bob", 0, "web", "search"),
        ev("bob", 0.1, "web", "add_to_cart"),
        ev("bob", 0.2, "web", "checkout"),
        ev("bob", 0.3, "web", "order_confirmation"),
        ev("bob", 2, "web", "billing_faq"),  # another intent two hours later
        ev("bob", 30, "email", "order_confirmation_email", direction="outbound"),  # follow-up
        ev("bob", 100, "web", "faq"),  # quiet for longer than the support gap
    ]
    ws = built(tmp_path, rows)
    found = [(j["journey_type"], j["touchpoints"], j["outcome"]) for j in journeys_of(ws)]
    # The support journey used self-service only and ended 70 h before the data does: whether a
    # repeat follows within the 7-day repeat window is not known yet, so it is open.
    assert found == [("purchase", 4, "success"), ("support", 2, "open"), ("information", 1, "success")]


def test_follow_ups_join_until_max_duration_and_never_open_alone(tmp_path: Path) -> None:
    rows = [
        ev("cem", 0, "web", "product_page"),
        ev("cem", 0.1, "web", "add_to_cart"),
        ev("cem", 0.2, "web", "order_confirmation"),
        ev("cem", 20, "sms", "delivery_update", direction="outbound"),
        ev("cem", 60, "email", "delivery_confirmation", direction="outbound"),
        # 12 days of silence: longer than purchase's max_duration (10d), so a journey of its own
        ev("cem", 60 + 12 * 24, "email", "survey_invite", direction="outbound"),
    ]
    ws = built(tmp_path, rows)
    found = [(j["journey_type"], j["touchpoints"]) for j in journeys_of(ws)]
    assert found == [("purchase", 5), ("other", 1)]


def test_cases_are_journeys_even_when_they_overlap(tmp_path: Path) -> None:
    rows = [
        ev("dan", 0, "email", "ticket_opened", case_id="T1"),
        ev("dan", 1, "email", "ticket_opened", case_id="T2"),
        # No case: each joins the case whose nearest event is closest in time.
        ev("dan", 1.2, "web", "help_article"),  # 12 minutes after T2's event
        ev("dan", 1.9, "web", "my_account"),  # 6 minutes before T1's update
        ev("dan", 2, "email", "ticket_update", case_id="T1"),
        ev("dan", 200, "email", "ticket_closed", case_id="T2"),  # a week later, still T2
    ]
    ws = built(tmp_path, rows)
    by_case = {j["case_id"]: j for j in journeys_of(ws)}
    assert set(by_case) == {"T1", "T2"}
    steps = steps_of(ws)
    assert steps[by_case["T1"]["journey_id"]] == ["ticket_opened", "my_account", "ticket_update"]
    assert steps[by_case["T2"]["journey_id"]] == ["ticket_opened", "help_article", "ticket_closed"]


def test_a_case_joins_only_events_of_its_own_episode(tmp_path: Path) -> None:
    # Rule 4 looks for the nearest case event within the episode only: a case two days before or
    # after, in another episode of the same customer, does not pull a case-less event in.
    rows = [
        ev("eve", 0, "web", "billing_faq"),
        ev("eve", 1, "web", "billing_faq", case_id="A"),
        ev("eve", 100, "web", "billing_faq"),  # an episode of its own, between the two cases
        ev("eve", 200, "web", "billing_faq"),
        ev("eve", 201, "web", "billing_faq", case_id="B"),
        ev("eve", 300, "web", "billing_faq"),  # after case B's episode
    ]
    ws = built(tmp_path, rows)
    assert [(j["case_id"], j["touchpoints"]) for j in journeys_of(ws)] == [
        ("A", 2),
        (None, 1),
        ("B", 2),
        (None, 1),
    ]


def test_company_messages_do_not_keep_a_journey_going(tmp_path: Path) -> None:
    # Quiet time counts from the customer's own last event, not from the delivery messages the
    # company sends afterwards: shopping again 30 h after ordering is a new purchase journey
    # although the delivery confirmation came 10 h before it.
    rows = [
        ev("kim", 0, "web", "search"),
        ev("kim", 0.1, "web", "add_to_cart"),
        ev("kim", 0.2, "web", "order_confirmation"),
        ev("kim", 12, "sms", "delivery_update", direction="outbound"),
        ev("kim", 20, "email", "delivery_confirmation", direction="outbound"),
        ev("kim", 30, "web", "search"),
        ev("kim", 30.1, "web", "category_page"),
    ]
    ws = built(tmp_path, rows)
    found = [(j["journey_type"], j["touchpoints"], j["outcome"]) for j in journeys_of(ws)]
    assert found == [("purchase", 5, "success"), ("purchase", 2, "open")]
    # Without a direction a message could be the customer's: it keeps the journey going.
    undirected = [{k: v for k, v in r.items() if k != "direction"} for r in rows]
    ws = built(tmp_path / "undirected", undirected)
    assert [j["touchpoints"] for j in journeys_of(ws)] == [7]


def test_a_return_to_a_product_page_resumes_the_purchase(tmp_path: Path) -> None:
    rows = [
        ev("lea", 0, "web", "search"),
        ev("lea", 0.1, "web", "product_page"),
        ev("lea", 40, "app", "product_page"),  # 40 h later, straight back to the product
        ev("lea", 40.1, "app", "add_to_cart"),
        ev("lea", 80, "web", "search"),  # 40 h later again, but a fresh search: a new journey
        ev("lea", 140, "app", "product_page"),  # 60 h: longer than the resume gap (48 h)
    ]
    ws = built(tmp_path, rows)
    assert [(j["journey_type"], j["touchpoints"]) for j in journeys_of(ws)] == [
        ("purchase", 4), ("purchase", 1), ("purchase", 1)
    ]  # fmt: skip


def test_a_newsletter_belongs_to_the_journey_its_click_opens(tmp_path: Path) -> None:
    rows = [
        ev("max", 0, "web", "billing_faq"),
        ev("max", 2, "email", "promo_newsletter", direction="outbound"),
        ev("max", 18, "email", "email_click"),  # answered 16 h later (outbound look-ahead 24 h)
        ev("max", 18.01, "web", "search"),
    ]
    ws = built(tmp_path, rows)
    steps = sorted(steps_of(ws).values(), key=len)
    assert steps == [["billing_faq"], ["promo_newsletter", "email_click", "search"]]


def test_anonymous_browsing_joins_the_journey_after_a_late_login(tmp_path: Path) -> None:
    rows = [
        {**ev("", 0, "web", "product_page"), "anonymous_id": "dev1"},
        {**ev("", 0.1, "web", "search"), "anonymous_id": "dev1"},
        {**ev("eve", 0.2, "web", "checkout"), "anonymous_id": "dev1"},
        ev("eve", 0.3, "web", "order_confirmation"),
    ]
    ws = built(tmp_path, rows)
    (j,) = journeys_of(ws)
    assert (j["journey_type"], j["touchpoints"], j["outcome"]) == ("purchase", 4, "success")


def test_first_contact_resolution_needs_no_repeat_within_the_window(tmp_path: Path) -> None:
    rows = [
        ev("fay", 0, "call_center", "billing_call", agent_id="a1", contact_reason="billing"),
        ev("fay", 72, "call_center", "billing_call", agent_id="a1", contact_reason="billing"),
        ev("gus", 0, "chat", "delivery_chat", agent_id="a2", contact_reason="delivery"),
        ev("gus", 24 * 20, "web", "faq"),  # keeps the data's end far from gus' contact
    ]
    ws = built(tmp_path, rows)
    js = {(j["customer_id"], j["start"]): j for j in journeys_of(ws)}
    fay = sorted((j for j in js.values() if j["journey_type"] == "support" and j["touchpoints"] == 1
                  and j["first_channel"] == "call_center"), key=lambda j: j["start"])  # fmt: skip
    assert len(fay) == 2
    assert fay[0]["repeat_journey"] is True and fay[0]["first_contact_resolution"] is False
    assert fay[0]["outcome"] == "abandoned"  # came back within 7 days: not resolved
    gus = next(j for j in js.values() if j["first_channel"] == "chat")
    assert gus["first_contact_resolution"] is True and gus["outcome"] == "success"


def test_max_duration_cuts_a_journey_that_never_goes_quiet(tmp_path: Path) -> None:
    rows = [ev("hal", 20 * i, "web", "faq") for i in range(12)]  # every 20 h for 9 days
    ws = built(tmp_path, rows)
    sizes = [j["touchpoints"] for j in journeys_of(ws)]
    assert sizes == [9, 3]  # information journeys last at most 7 days: 0..160 h, then 180..220 h


def test_journey_ids_are_stable_across_rebuilds(tmp_path: Path) -> None:
    rows = [ev("ivy", h, "web", tp) for h, tp in [(0, "search"), (2, "faq"), (50, "billing_faq")]]
    ws = built(tmp_path, rows)
    first = {j["journey_id"] for j in journeys_of(ws)}
    build_journeys(ws.store, ws.config.journeys)
    assert {j["journey_id"] for j in journeys_of(ws)} == first and len(first) == 3
    # The event-sized working tables (ordinary tables in the workspace file) are gone afterwards,
    # and so are the working columns journey_events is written with on DuckDB; only the breaks the
    # next incremental build reads are kept.
    left = [t for t in ws.store.backend.list_tables() if t.startswith("_jl_journey")]
    assert left == [BREAKS]
    assert ws.store.backend.table("journey_events").columns == ("event_id", "journey_id", "step")


def test_a_failed_build_leaves_journey_events_with_its_own_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = built(tmp_path, [ev("ivy", 0, "web", "search"), ev("ivy", 1, "web", "faq")])
    from journeylens.journeys import build

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("outcomes failed")

    monkeypatch.setattr(build, "journey_outcomes", broken)
    with pytest.raises(RuntimeError, match="outcomes failed"):
        build_journeys(ws.store, ws.config.journeys)
    # journey_events was rewritten (with the working columns) before outcomes failed
    assert ws.store.backend.table("journey_events").columns == ("event_id", "journey_id", "step")
    assert ws.store.execute(ws.store.backend.table("journey_events").count()).as_py() == 2


# --- the rules against a plain-Python reference --------------------------------------------------

VOCABULARY = {
    # touchpoint: (claimed types in priority order, contact reason)
    "billing_faq": ("support",),
    "search": ("purchase",),
    "faq": ("information",),
    "home": ("purchase", "information"),
    "ivr_menu": ("support", "purchase", "information"),
    "product_page": ("purchase", "information"),  # resumes a purchase
    "promo_newsletter": ("purchase", "information"),  # sent by the company
    "delivery_update": (),  # sent by the company
}
TOUCHPOINTS = sorted(VOCABULARY)
OUTBOUND = {"promo_newsletter", "delivery_update"}


def reference(rows: list[dict[str, Any]], rules: JourneyRules) -> dict[str, tuple[str, str]]:  # noqa: PLR0912 - one branch per documented rule, on purpose
    """The documented rules, one customer and one event at a time: event_id -> (journey, type)."""
    ranked = [name for name, _ in rules.ranked()]
    gap_of = {n: seconds(t.inactivity_gap) for n, t in rules.types.items()}
    max_of = {n: seconds(t.max_duration) for n, t in rules.types.items()}
    resume_of = {n: (set(t.resume.touchpoints), seconds(t.resume_gap)) for n, t in rules.types.items()}
    neutral, switch = seconds(rules.neutral_gap), seconds(rules.switch_gap)
    out: dict[str, tuple[str, str]] = {}
    for who in sorted({r["user_id"] for r in rows}):
        evs = sorted((r for r in rows if r["user_id"] == who), key=lambda r: (r["t"], r["seq"]))
        own = [VOCABULARY[e["touchpoint"]][0] if len(VOCABULARY[e["touchpoint"]]) == 1 else None for e in evs]
        starter = [bool(VOCABULARY[e["touchpoint"]]) for e in evs]
        sent = [e["touchpoint"] in OUTBOUND for e in evs]
        intent, case = list(own), [e["case_id"] for e in evs]
        for i in range(len(evs)):
            later = [k for k in range(i + 1, len(evs)) if own[k]]
            if starter[i] and not own[i] and later:
                soonest = evs[later[0]]["t"]  # ties in the same second: the highest priority
                reach = rules.outbound_lookahead if sent[i] else rules.lookahead
                if soonest - evs[i]["t"] <= seconds(reach):
                    intent[i] = min((own[k] for k in later if evs[k]["t"] == soonest), key=ranked.index)
            if (
                starter[i]
                and i + 1 < len(evs)
                and evs[i + 1]["t"] - evs[i]["t"] <= seconds(rules.case_lookahead)
            ):
                case[i] = case[i] or evs[i + 1]["case_id"]
        episode, episodes = 0, []
        for i, e in enumerate(evs):
            current = next((intent[k] for k in range(i - 1, -1, -1) if intent[k]), None)
            last_case = next((k for k in range(i - 1, -1, -1) if case[k]), None)
            same_case = case[i] is not None and last_case is not None and case[last_case] == case[i]
            gap = e["t"] - evs[i - 1]["t"] if i else None
            active = [k for k in range(i) if starter[k] or not sent[k]]
            quiet = e["t"] - evs[active[-1]]["t"] if active else None
            resumes, resume_gap = resume_of.get(current or "", (set(), 0))
            if gap is None:
                opens = True
            elif same_case:
                opens = False
            elif not starter[i]:
                opens = gap > max_of.get(current or "", neutral)
            elif quiet is None:
                opens = True
            elif intent[i] and current and intent[i] != current:
                opens = quiet > switch
            elif e["touchpoint"] in resumes:
                opens = quiet > resume_gap
            elif intent[i] is None:
                opens = quiet > neutral
            else:
                opens = quiet > gap_of.get(current or "", neutral)
            episode += opens
            episodes.append(episode)

        # A case-less event joins the case of the episode's case event nearest in time (a tie
        # goes to the earlier event, then to the nearer row).
        near: list[str | None] = []
        for i in range(len(evs)):
            mates = [k for k in range(len(evs)) if episodes[k] == episodes[i] and case[k] and k != i]
            order = sorted(mates, key=lambda k, i=i: (abs(evs[k]["t"] - evs[i]["t"]), k > i, abs(k - i)))
            nearest = order[0] if order else None
            near.append(case[i] or (case[nearest] if nearest is not None else None))
        keys = [f"case:{near[i]}" if near[i] else f"episode:{episodes[i]}" for i in range(len(evs))]
        for key in set(keys):
            members = [i for i in range(len(evs)) if keys[i] == key]
            owned = [ranked.index(own[i]) for i in members if own[i]]
            claimed = [ranked.index(VOCABULARY[evs[i]["touchpoint"]][0]) for i in members if starter[i]]
            code = min(owned) if owned else (min(claimed) if claimed else None)
            jtype = ranked[code] if code is not None else "other"
            start = min(evs[i]["t"] for i in members)
            limit = max_of.get(jtype, neutral)
            for i in members:
                part = 0 if key.startswith("case:") else (evs[i]["t"] - start) // limit
                out[evs[i]["event_id"]] = (f"{who}/{key}/{part}", jtype)
    return out


def _partition(assign: dict[str, tuple[str, str]]) -> set[tuple[frozenset[str], str]]:
    groups: dict[str, set[str]] = {}
    types: dict[str, str] = {}
    for event_id, (key, jtype) in assign.items():
        groups.setdefault(key, set()).add(event_id)
        types[key] = jtype
    return {(frozenset(members), types[key]) for key, members in groups.items()}


event_rows = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2"]),
        st.integers(0, 400),  # hours, so gaps straddle every threshold
        st.sampled_from([0, 0, 30, 45, 59]),  # minutes
        st.sampled_from(TOUCHPOINTS),
        st.sampled_from([None, None, None, "A", "B"]),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_rows)
def test_segmentation_matches_the_reference_rules(raw: list[tuple[str, int, int, str, str | None]]) -> None:
    rules = JourneyRules()
    rows = []
    for seq, (user, hours, minutes, tp, case) in enumerate(raw):
        rows.append({
            "event_id": f"e{seq:03d}", "user_id": user, "t": hours * 3600 + minutes * 60, "seq": seq,
            "touchpoint": tp, "case_id": None if case is None else f"{user}-{case}",
            "direction": "outbound" if tp in OUTBOUND else "inbound",
        })  # fmt: skip
    table = pa.table({
        "event_id": [r["event_id"] for r in rows],
        "customer_id": [r["user_id"] for r in rows],
        "case_id": pa.array([r["case_id"] for r in rows], pa.string()),
        "timestamp": pa.array([STORY_START + _dt.timedelta(seconds=r["t"]) for r in rows],
                              pa.timestamp("us", tz="UTC")),
        "ingest_seq": [r["seq"] for r in rows],
        "touchpoint": [r["touchpoint"] for r in rows],
        "channel": ["web"] * len(rows),
        "direction": [r["direction"] for r in rows],
        "agent_id": pa.array([None] * len(rows), pa.string()),
        "properties": [json.dumps({})] * len(rows),
    })  # fmt: skip
    backend = ibis.duckdb.connect()
    events = backend.create_table("events", table)
    events = events.mutate(properties=events.properties.cast("json"))
    got = backend.to_pyarrow(assign_journeys(backend, events, rules)).to_pylist()
    names = [name for name, _ in rules.ranked()]  # type_code indexes them; NULL is "other"
    ours = {
        r["event_id"]: (r["journey_id"], "other" if r["type_code"] is None else names[r["type_code"]])
        for r in got
    }
    assert _partition(ours) == _partition(reference(rows, rules))
    steps = sorted((r["journey_id"], r["step"]) for r in got)
    for jid in {r["journey_id"] for r in got}:
        mine = [s for j, s in steps if j == jid]
        assert mine == list(range(1, len(mine) + 1))


# --- summaries and bad input --------------------------------------------------------------------


def test_wilson_interval_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    for n, d in [(0, 10), (3, 10), (480, 2384), (10, 10)]:
        lo, hi = wilson(n, d)
        ref = proportion_confint(n, d, alpha=0.05, method="wilson")
        assert lo == pytest.approx(ref[0], abs=1e-12) and hi == pytest.approx(ref[1], abs=1e-12)
    assert wilson(0, 0) == (None, None)


def test_summary_rates_carry_numerators_denominators_and_intervals(tmp_path: Path) -> None:
    rows = [
        ev("a", 0, "web", "billing_faq"),
        ev("a", 1, "call_center", "billing_call", agent_id="x", contact_reason="billing"),
        ev("b", 0, "call_center", "billing_call", agent_id="x", contact_reason="billing"),
        ev("c", 0, "web", "search"),
        ev("c", 0.2, "web", "order_confirmation"),
        ev("d", 24 * 30, "web", "faq"),
    ]
    ws = built(tmp_path, rows)
    by_type = {r["group"]: r for r in journey_summary(ws.store, JourneySummarySpec()).rows}
    support = by_type["support"]
    assert (support["journeys"], support["leakage_n"], support["leakage_d"]) == (2, 1, 1)
    assert (support["first_contact_resolution_n"], support["first_contact_resolution_d"]) == (2, 2)
    assert support["leakage_lo"] == pytest.approx(wilson(1, 1)[0])
    assert by_type["purchase"]["success_rate"] == 1.0
    assert by_type["information"]["success_n"] == 1


def test_unknown_channel_in_journey_definitions_names_close_matches(tmp_path: Path) -> None:
    ws = jl.Workspace.init(tmp_path / "ws")
    toml = (ws.root / "journeylens.toml").read_text()
    toml += '\n[journeys.types.support]\npriority = 1\nstart.channels = ["call_centre"]\n'
    (ws.root / "journeylens.toml").write_text(toml)
    with pytest.raises(ConfigError) as err:
        jl.Workspace.open(ws.root)
    text = str(err.value)
    assert "journeys.types.support.start.channels" in text and "'call_center'" in text


def test_unknown_touchpoint_in_declared_journeys_names_close_matches(tmp_path: Path) -> None:
    ws = built(tmp_path, [ev("a", 0, "web", "billing_faq"), ev("a", 1, "web", "my_invoices")])
    declared = JourneyRules.model_validate({
        "types": {"support": {"priority": 1, "start": {"touchpoints": ["biling_faq", "my_invoices"]}}}
    })  # fmt: skip
    with pytest.raises(ConfigError) as err:
        build_journeys(ws.store, declared)
    text = str(err.value)
    assert "journeys.types.support.start.touchpoints" in text and "'billing_faq'" in text


@pytest.mark.parametrize(
    ("types", "problem"),
    [
        ({"a": {"priority": 1, "start": {"touchpoints": ["x"]}},
          "b": {"priority": 1, "start": {"touchpoints": ["y"]}}}, "share a priority"),
        ({"a": {"priority": 1, "start": {"touchpoints": ["x"]}, "inactivity_gap": "9d",
                "max_duration": "2d"}}, "longer than max_duration"),
        ({"a": {"priority": 1, "start": {}}}, "start criteria are empty"),
        ({"other": {"priority": 1, "start": {"touchpoints": ["x"]}}}, "reserved"),
        ({"a": {"priority": 1, "start": {"touchpoints": ["x"]}, "inactivity_gap": "2 days"}}, "duration"),
        ({"a": {"priority": 1, "start": {"touchpoints": ["x"]}, "resume": {"touchpoints": ["x"]},
                "inactivity_gap": "24h", "resume_gap": "12h"}}, "resume_gap 12h must lie between"),
    ],
)  # fmt: skip
def test_contradicting_journey_rules_are_refused(types: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        JourneyRules.model_validate({"types": types})


def test_journeys_before_build_say_how_to_build(tmp_path: Path) -> None:
    ws = jl.Workspace.init(tmp_path / "ws")
    with pytest.raises(NotFoundError, match="ingest"):
        journey_summary(ws.store)
    ws.ingest(paths=[str(write_csv(tmp_path, "e.csv", [ev("a", 0, "web", "faq")]))])
    with pytest.raises(NotFoundError, match="journeylens build"):
        journey_summary(ws.store)


def test_durations_are_true_seconds_across_a_daylight_saving_change(tmp_path: Path) -> None:
    # New York springs forward at 07:00 UTC on 2024-03-10: 06:30Z and 07:30Z are one hour apart
    # though their local wall clocks (01:30 EST, 03:30 EDT) are two. Gaps and durations are
    # measured between instants, whatever the workspace time zone.
    rows = [
        {"user_id": "nyc", "timestamp": "2024-03-10T06:30:00Z", "channel": "web", "touchpoint": "search"},
        {"user_id": "nyc", "timestamp": "2024-03-10T07:30:00Z", "channel": "web", "touchpoint": "checkout"},
    ]
    ws = jl.Workspace.init(tmp_path / "ws", timezone="America/New_York")
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", rows))])
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    (j,) = journeys_of(ws)
    assert j["duration_s"] == 3600
    ws.close()
