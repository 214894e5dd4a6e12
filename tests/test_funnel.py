"""Funnels: stories for each semantic rule, a plain-Python reference on random logs, bad input, CLI.

Most tests write the derived tables (customer_map, journeys, journey_events) straight into an
in-memory store, so one DuckDB serves a whole test and each story costs milliseconds; the
end-to-end tests at the bottom go through ingest and ``build`` as a user would.
"""

from __future__ import annotations

import datetime as _dt
import json
import statistics
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import STORY_START, journeys, write_csv
from journeylens import Workspace
from journeylens.discovery import EmptySelectionError, JourneyFilter
from journeylens.discovery.funnel import (
    MAX_STEPS,
    FunnelResult,
    FunnelSpec,
    FunnelSpecError,
    FunnelUnit,
    StepMatcher,
    funnel,
    funnel_spec,
)
from journeylens.errors import NotFoundError
from journeylens.store import Store

# --- a store written directly --------------------------------------------------------------------


@dataclass(frozen=True)
class Ev:
    """One event of a test log; ``seq`` is its ingestion order, ``journey`` its journey."""

    user: str
    minute: float
    touchpoint: str
    channel: str = "web"
    seq: int = 0
    journey: str = ""
    props: Mapping[str, str] = field(default_factory=dict)

    @property
    def ts(self) -> _dt.datetime:
        return STORY_START + _dt.timedelta(minutes=self.minute)

    @property
    def event_id(self) -> str:
        return f"e{self.seq:05d}"

    @property
    def journey_id(self) -> str:
        return f"{self.user}/{self.journey or 'j'}"


def story(stories: Mapping[str, Sequence[tuple[Any, ...]]]) -> list[Ev]:
    """``{"ann": [(0, "home"), (5, "web", "checkout"), (9, "cart", {"journey": "j2"})]}``.

    Each step is (minute, touchpoint) or (minute, channel, touchpoint), optionally followed by a
    dict of extras (``journey``, ``props``). Ingestion order is the order written.
    """
    out: list[Ev] = []
    for user, steps in stories.items():
        for step in steps:
            extra = dict(step[-1]) if isinstance(step[-1], Mapping) else {}
            body = step[:-1] if extra else step
            minute, channel, touchpoint = (body[0], "web", body[1]) if len(body) == 2 else body
            out.append(Ev(user, minute, touchpoint, channel, len(out) + 1, **extra))
    return out


def load(store: Store, events: Sequence[Ev]) -> None:
    """Replace the store's events, customer map and journeys with ``events`` (user = customer)."""
    schema = store.table("events").schema().to_pyarrow()
    cols: dict[str, list[Any]] = {name: [None] * len(events) for name in schema.names}
    for i, e in enumerate(events):
        cols["event_id"][i], cols["timestamp"][i], cols["user_id"][i] = e.event_id, e.ts, e.user
        cols["channel"][i], cols["touchpoint"][i], cols["ingest_seq"][i] = e.channel, e.touchpoint, e.seq
        cols["properties"][i] = json.dumps(dict(e.props))
    backend = store.backend
    backend.truncate_table("events")
    if events:
        types = {n: pa.string() if n == "properties" else schema.field(n).type for n in cols}
        store.insert("events", pa.table({n: pa.array(v, types[n]) for n, v in cols.items()}))
    users = sorted({e.user for e in events})
    text, utc = pa.string(), pa.timestamp("us", tz="UTC")
    put(store, "customer_map", identifier_type=(["user_id"] * len(users), text),
        identifier_value=(users, text), customer_id=(users, text))  # fmt: skip
    by_journey: dict[str, list[Ev]] = {}
    for e in sorted(events, key=order_key):
        by_journey.setdefault(e.journey_id, []).append(e)
    firsts = [evs[0] for evs in by_journey.values()]
    put(store, "journeys", journey_id=(list(by_journey), text), customer_id=([e.user for e in firsts], text),
        journey_type=(["purchase"] * len(firsts), text), outcome=(["open"] * len(firsts), text),
        start=([e.ts for e in firsts], utc))  # fmt: skip
    je = [(e.event_id, jid, step) for jid, evs in by_journey.items() for step, e in enumerate(evs, 1)]
    put(store, "journey_events", event_id=([r[0] for r in je], text), journey_id=([r[1] for r in je], text),
        step=([r[2] for r in je], pa.int32()))  # fmt: skip


def put(store: Store, name: str, **columns: tuple[list[Any], pa.DataType]) -> None:
    """Replace a derived table with these (values, type) columns."""
    table = pa.table({c: pa.array(values, kind) for c, (values, kind) in columns.items()})
    store.backend.create_table(name, table, overwrite=True)


def order_key(e: Ev) -> tuple[Any, ...]:
    return (e.ts, e.seq, e.event_id)


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    s = Store.connect("duckdb://", timezone="UTC")
    yield s
    s.close()


@pytest.fixture
def run(store: Store) -> Callable[..., FunnelResult]:
    """``run(events, steps=[...], ...)``: load the events, compute the funnel."""

    def go(events: Sequence[Ev], **spec: Any) -> FunnelResult:
        load(store, events)
        return funnel(store, **spec)

    return go


def units(result: FunnelResult) -> list[int]:
    return [int(u) for u in result.table.column("units").to_pylist()]


# --- the plain-Python reference ----------------------------------------------------------------


def matches(e: Ev, matchers: Sequence[StepMatcher]) -> bool:
    return any(
        (m.touchpoint is None or e.touchpoint == m.touchpoint)
        and (m.channel is None or e.channel == m.channel)
        and all(e.props.get(k) == v for k, v in m.properties.items())
        for m in matchers
    )


@dataclass
class Attempt:
    level: int
    start: int
    last: int
    times: dict[int, float]


def _candidates(spec: FunnelSpec, level: int) -> list[int]:
    out = []
    for k in range(level + 1, len(spec.steps) + 1):
        out.append(k)
        if not spec.steps[k - 1].optional:
            break
    return out


def ordered_attempt(evs: Sequence[Ev], s: int, spec: FunnelSpec) -> Attempt | None:
    """Greedy: advance at the first event that matches a step the attempt may take next."""
    end = evs[s].minute + spec.window_seconds / 60
    a = Attempt(level=1, start=s, last=s, times={1: evs[s].minute})
    ranges = [(spec.exclusion_range(x), x) for x in spec.exclusions]
    for i in range(s + 1, len(evs)):
        e = evs[i]
        if e.minute > end or a.level == len(spec.steps):
            break
        hit = [c for c in _candidates(spec, a.level) if matches(e, spec.steps[c - 1].any_of)]
        if hit:
            a.level, a.last = max(hit), i
            a.times[a.level] = e.minute
            continue
        if spec.order.value == "strict":
            break
        if any(lo <= a.level < hi and matches(e, x.any_of) for (lo, hi), x in ranges):
            return None
    return a


def any_attempt(evs: Sequence[Ev], s: int, spec: FunnelSpec) -> Attempt | None:
    """Each event fills a slot of the first group of identical steps it matches."""
    keys: dict[tuple[str, ...], int] = {}
    groups = [keys.setdefault(step.key, len(keys)) for step in spec.steps]
    sizes = Counter(groups)
    first = {g: spec.steps[groups.index(g)] for g in sizes}
    end = evs[s].minute + spec.window_seconds / 60
    filled: Counter[int] = Counter()
    times: list[float] = []
    last = s
    for i in range(s, len(evs)):
        e = evs[i]
        if e.minute > end or len(times) == len(spec.steps):
            break
        g = next((g for g in sorted(sizes) if matches(e, first[g].any_of)), None)
        if g is not None and filled[g] < sizes[g]:
            filled[g] += 1
            times.append(e.minute)
            last = i
    complete = len(times) == len(spec.steps)
    for i in range(s + 1, len(evs)):
        e = evs[i]
        if (complete and i >= last) or (not complete and e.minute > end):
            break
        if any(matches(e, x.any_of) for x in spec.exclusions):
            return None
    return Attempt(len(times), s, last, dict(enumerate(sorted(times), start=1)))


def reference(events: Sequence[Ev], spec: FunnelSpec) -> dict[str, Any]:
    """Per-step units, drop-offs, times (minutes) and next activities, by the documented rules."""
    per_unit: dict[str, list[Ev]] = {}
    for e in sorted(events, key=order_key):
        per_unit.setdefault(e.journey_id if spec.unit.value == "journey" else e.user, []).append(e)
    n = len(spec.steps)
    best: list[tuple[Attempt, list[Ev]]] = []
    for evs in per_unit.values():
        attempts = []
        for s, e in enumerate(evs):
            if spec.order.value == "any":
                if any(matches(e, step.any_of) for step in spec.steps):
                    attempts.append(any_attempt(evs, s, spec))
            elif matches(e, spec.steps[0].any_of):
                attempts.append(ordered_attempt(evs, s, spec))
        valid = [a for a in attempts if a is not None]
        if valid:
            best.append((min(valid, key=lambda a: (-a.level, a.last, -a.start)), evs))
    out: dict[str, Any] = {"units": [], "dropped": [], "from_first": [], "from_previous": []}
    for k in range(1, n + 1):
        done = [a for a, _ in best if k in a.times]
        out["units"].append(len(done))
        out["dropped"].append(sum(1 for a, _ in best if a.level == k) if k < n else 0)
        out["from_first"].append([a.times[k] - a.times[1] for a in done])
        out["from_previous"].append(
            [a.times[k] - a.times[max(j for j in a.times if j < k)] for a in done if k > 1]
        )
    after: Counter[tuple[int, str]] = Counter()
    for a, evs in best:
        if a.level < n:
            nxt = evs[a.last + 1] if a.last + 1 < len(evs) else None
            inside = nxt is not None and nxt.minute <= evs[a.start].minute + spec.window_seconds / 60
            after[(a.level, nxt.touchpoint if inside and nxt else "(none)")] += 1
    out["after"] = after
    return out


def assert_matches_reference(result: FunnelResult, events: Sequence[Ev], spec: FunnelSpec) -> None:
    want = reference(events, spec)
    rows = result.records()
    assert [r["units"] for r in rows] == want["units"]
    assert [r["dropped_off"] for r in rows] == want["dropped"]
    for r, firsts, prevs in zip(rows, want["from_first"], want["from_previous"], strict=True):
        if r["step"] == 1 or not firsts:
            continue
        assert r["median_seconds_from_first"] == pytest.approx(statistics.median(firsts) * 60)
        assert r["mean_seconds_from_first"] == pytest.approx(statistics.fmean(firsts) * 60)
        assert r["median_seconds_from_previous"] == pytest.approx(statistics.median(prevs) * 60)
    got = Counter({(r["step"], r["activity"]): r["units"] for r in result.after_drop_off.to_pylist()})
    assert got == want["after"]


# --- property tests ----------------------------------------------------------------------------

TOUCHPOINTS = ["a", "b", "c", "d"]


@st.composite
def logs(draw: st.DrawFn) -> list[Ev]:
    events = []
    for user in ("u1", "u2", "u3", "u4")[: draw(st.integers(1, 4))]:
        for _ in range(draw(st.integers(0, 9))):
            events.append(
                Ev(
                    user,
                    draw(st.integers(0, 12)) * 5.0,  # few distinct times: many ties
                    draw(st.sampled_from(TOUCHPOINTS)),
                    draw(st.sampled_from(["web", "app"])),
                    journey=draw(st.sampled_from(["j1", "j2"])),
                    props={"plan": draw(st.sampled_from(["pro", "free"]))},
                )
            )
    order = draw(st.permutations(range(len(events))))  # ingestion order, independent of time
    shuffled = [Ev(e.user, e.minute, e.touchpoint, e.channel, seq + 1, e.journey, e.props)
                for seq, e in zip(order, events, strict=True)]  # fmt: skip
    # One more customer who used every touchpoint on both channels, so every step names a known one.
    filler = [Ev("zz", 100.0 * i, tp, ch, len(events) + 1 + i) for i, (tp, ch) in
              enumerate((tp, ch) for tp in TOUCHPOINTS for ch in ("web", "app"))]  # fmt: skip
    return shuffled + filler


@st.composite
def step_texts(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from(TOUCHPOINTS))
    kind = draw(
        st.sampled_from(["plain", "plain", "plain", "channel", "either", "property", "whole channel"])
    )
    if kind == "channel":
        return f"{draw(st.sampled_from(['web', 'app']))}:{first}"
    if kind == "whole channel":  # no touchpoint: matched by expressions, not the touchpoint lookup
        return f"{draw(st.sampled_from(['web', 'app']))}:*"
    if kind == "either":
        return f"{first}|{draw(st.sampled_from(TOUCHPOINTS))}"
    if kind == "property":
        return f"{first}[plan=pro]"
    return first


@st.composite
def specs(draw: st.DrawFn) -> FunnelSpec:
    order = draw(st.sampled_from(["ordered", "ordered", "strict", "any"]))
    n = draw(st.integers(2, 4))
    steps = [draw(step_texts()) for _ in range(n)]
    if order != "any":
        steps = [steps[0]] + [("?" if draw(st.integers(0, 3)) == 0 else "") + s for s in steps[1:]]
    exclusions = []
    if order != "strict" and draw(st.booleans()):
        lo, hi = (
            (1, n)
            if order == "any"
            else sorted(draw(st.lists(st.integers(1, n), min_size=2, max_size=2, unique=True)))
        )
        exclusions.append(f"{draw(st.sampled_from(TOUCHPOINTS))}@{lo}-{hi}")
    return funnel_spec(
        steps=steps, order=order, exclusions=exclusions, window=f"{draw(st.sampled_from([5, 10, 25, 60]))}m",
        unit=draw(st.sampled_from(["customer", "journey"])), top=100,
    )  # fmt: skip


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=logs(), spec=specs())
def test_funnel_equals_the_plain_python_reference_on_random_logs(
    store: Store, events: list[Ev], spec: FunnelSpec
) -> None:
    load(store, events)
    assert_matches_reference(funnel(store, spec), events, spec)


# --- stories: one per semantic rule ------------------------------------------------------------

CHECKOUT = ["product_page", "checkout", "order_confirmation"]


def test_ordered_allows_other_events_between_steps_and_strict_does_not(
    run: Callable[..., FunnelResult],
) -> None:
    events = story({
        "ann": [(0, "product_page"), (5, "checkout"), (9, "order_confirmation")],
        "bob": [(0, "product_page"), (2, "faq"), (5, "checkout"), (9, "order_confirmation")],
        "cem": [(0, "product_page"), (5, "order_confirmation"), (9, "checkout")],
    })  # fmt: skip
    assert units(run(events, steps=CHECKOUT)) == [3, 3, 2]  # cem checks out after confirming
    assert units(run(events, steps=CHECKOUT, order="strict")) == [3, 1, 1]
    assert units(run(events, steps=CHECKOUT, order="any")) == [3, 3, 3]


def test_window_runs_from_step_one_inclusive_and_a_later_attempt_may_convert(
    run: Callable[..., FunnelResult],
) -> None:
    events = story({
        "ann": [(0, "product_page"), (60, "checkout")],  # exactly one window later: counts
        "bob": [(0, "product_page"), (61, "checkout")],  # one minute too late
        # PostHog's rule, not "first step 1 then the window": the second visit converts
        "cem": [(0, "product_page"), (200, "product_page"), (230, "checkout")],
    })  # fmt: skip
    result = run(events, steps=["product_page", "checkout"], window="1h")
    assert units(result) == [3, 2]
    assert result.records()[1]["median_seconds_from_first"] == 45 * 60  # 60 min (ann), 30 min (cem)


def test_steps_at_the_same_time_follow_ingestion_order(run: Callable[..., FunnelResult]) -> None:
    events = story({
        "ann": [(0, "product_page"), (0, "checkout")],  # written in this order: converts
        "bob": [(0, "checkout"), (0, "product_page")],  # checkout was ingested first: does not
    })  # fmt: skip
    assert units(run(events, steps=["product_page", "checkout"])) == [2, 1]


def test_repeated_steps_need_separate_events(run: Callable[..., FunnelResult]) -> None:
    events = story({
        "ann": [(0, "product_page"), (5, "checkout")],
        "bob": [(0, "product_page"), (3, "product_page"), (5, "checkout")],
    })  # fmt: skip
    assert units(run(events, steps=["product_page", "product_page", "checkout"])) == [2, 1, 1]
    assert units(run(events, steps=["product_page", "product_page", "checkout"], order="any")) == [2, 2, 1]


def test_optional_steps_may_be_skipped_and_count_only_when_done_in_order(
    run: Callable[..., FunnelResult],
) -> None:
    events = story({
        "ann": [(0, "product_page"), (5, "coupon"), (9, "checkout")],
        "bob": [(0, "product_page"), (9, "checkout")],
        "cem": [(0, "product_page"), (5, "checkout"), (7, "coupon"), (9, "checkout")],  # first checkout wins
    })  # fmt: skip
    result = run(events, steps=["product_page", "?coupon", "checkout"])
    rows = result.records()
    assert units(result) == [3, 1, 3]
    assert [r["optional"] for r in rows] == [False, True, False]
    # Rates divide by the previous *required* step; time from previous is this attempt's last step.
    assert rows[2]["previous_units"] == 3 and rows[2]["conversion_from_previous"] == 1.0
    assert rows[2]["median_seconds_from_previous"] == 5 * 60  # 4 (ann), 9 (bob), 5 (cem) minutes


def test_exclusion_between_steps_voids_that_attempt_but_not_a_clean_retry(
    run: Callable[..., FunnelResult],
) -> None:
    events = story({
        "ann": [(0, "product_page"), (2, "payment_error"), (5, "checkout")],  # voided: counts nowhere
        "bob": [(0, "product_page"), (2, "payment_error"), (4, "product_page"), (5, "checkout")],
        "cem": [(0, "product_page"), (5, "checkout"), (7, "payment_error")],  # after step 2: fine
        "dan": [(0, "product_page"), (90, "payment_error")],  # after the window closed: fine
        "eve": [(0, "product_page"), (2, "payment_error")],  # never reached step 2, error inside the window
    })  # fmt: skip
    result = run(events, steps=["product_page", "checkout"], exclusions=["payment_error@1-2"], window="1h")
    assert units(result) == [3, 2]
    assert result.records()[0]["dropped_off"] == 1  # dan


def test_an_exclusion_only_applies_between_its_steps(run: Callable[..., FunnelResult]) -> None:
    events = story({"ann": [(0, "home"), (1, "faq"), (2, "product_page"), (3, "checkout")]})
    assert units(run(events, steps=["home", "product_page", "checkout"], exclusions=["faq@2-3"])) == [1, 1, 1]
    assert units(run(events, steps=["home", "product_page", "checkout"], exclusions=["faq@1-2"])) == [0, 0, 0]


def test_any_order_counts_how_many_of_the_steps_were_done(run: Callable[..., FunnelResult]) -> None:
    events = story({
        "ann": [(0, "checkout"), (5, "product_page")],
        "bob": [(0, "order_confirmation")],
        "cem": [(0, "faq")],
    })  # fmt: skip
    result = run(events, steps=CHECKOUT, order="any")
    assert units(result) == [2, 1, 0]
    assert [r["step_name"] for r in result.records()] == ["1 of 3 steps", "2 of 3 steps", "3 of 3 steps"]


def test_a_journey_converts_only_within_itself(run: Callable[..., FunnelResult]) -> None:
    events = story({
        "ann": [(0, "product_page", {"journey": "browse"}), (30, "checkout", {"journey": "buy"})],
    })  # fmt: skip
    assert units(run(events, steps=["product_page", "checkout"])) == [1, 1]
    assert units(run(events, steps=["product_page", "checkout"], unit="journey")) == [1, 0]


def test_channels_alternatives_and_properties_in_steps(run: Callable[..., FunnelResult]) -> None:
    events = story({
        "ann": [(0, "app", "product_page"), (5, "web", "checkout", {"props": {"plan": "pro"}})],
        "bob": [(0, "web", "product_page"), (5, "chat", "sales_chat")],
        "cem": [(0, "web", "pricing"), (5, "web", "checkout", {"props": {"plan": "free"}})],
    })  # fmt: skip
    assert units(run(events, steps=["product_page|pricing", "web:checkout|chat:*"])) == [3, 3]
    assert units(run(events, steps=["web:product_page|pricing", "checkout[plan=pro]"])) == [2, 0]
    assert units(run(events, steps=["product_page|pricing", "checkout[plan=pro]"])) == [3, 1]


def test_drop_off_paths_sum_to_the_drop_off_with_none_and_other(run: Callable[..., FunnelResult]) -> None:
    events = story({
        "ann": [(0, "product_page"), (5, "faq")],
        "bob": [(0, "product_page"), (5, "faq")],
        "cem": [(0, "product_page"), (5, "contact_form")],
        "dan": [(0, "product_page"), (500, "faq")],  # after the window: goes nowhere within it
        "eve": [(0, "product_page")],
        "fay": [(0, "product_page"), (5, "checkout")],
    })  # fmt: skip
    result = run(events, steps=["product_page", "checkout"], window="1h", top=1)
    after = [(r["step"], r["activity"], r["units"]) for r in result.after_drop_off.to_pylist()]
    assert after == [(1, "faq", 2), (1, "(other)", 1), (1, "(none)", 2)]
    assert result.records()[0]["dropped_off"] == 5 == sum(u for _, _, u in after)


def test_rates_come_with_denominators_and_wilson_intervals(run: Callable[..., FunnelResult]) -> None:
    events = story({f"c{i}": [(0, "product_page")] + ([(5, "checkout")] if i < 3 else []) for i in range(8)})
    row = run(events, steps=["product_page", "checkout"]).records()[1]
    assert (row["units"], row["previous_units"], row["first_units"]) == (3, 8, 8)
    assert row["conversion_from_previous"] == pytest.approx(3 / 8)
    # 3/8 with a 95% Wilson interval: 0.1368-0.6943 (statsmodels proportion_confint method="wilson")
    assert row["conversion_from_previous_low"] == pytest.approx(0.13684, abs=1e-4)
    assert row["conversion_from_previous_high"] == pytest.approx(0.69425, abs=1e-4)


def test_breakdown_by_entry_channel_gives_a_row_per_value_and_step(run: Callable[..., FunnelResult]) -> None:
    events = story({
        "ann": [(0, "app", "product_page"), (5, "web", "product_page"), (9, "web", "checkout")],
        "bob": [(0, "web", "product_page")],
        "cem": [(0, "web", "product_page"), (5, "web", "checkout")],
    })  # fmt: skip
    result = run(events, steps=["product_page", "checkout"], by="channel")
    # ann's best attempt starts at the web visit (latest start among equally good attempts)
    got = [(r["breakdown"], r["step"], r["units"]) for r in result.records()]
    assert got == [("web", 1, 3), ("web", 2, 2)]


def test_no_unit_reaching_step_one_gives_zero_rows_not_an_error(run: Callable[..., FunnelResult]) -> None:
    events = story({"ann": [(0, "product_page"), (1, "payment_error"), (5, "checkout")]})
    result = run(events, steps=["product_page", "checkout"], exclusions=["payment_error"])
    assert units(result) == [0, 0]
    assert result.records()[1]["conversion_from_first"] is None


# --- result objects ----------------------------------------------------------------------------


def test_result_views(run: Callable[..., FunnelResult]) -> None:
    events = story({"ann": [(0, "product_page"), (5, "checkout")], "bob": [(0, "product_page")]})
    result = run(events, steps=["product_page", "checkout"])
    frame = result.to_pandas()
    assert list(frame["units"]) == [2, 1]
    as_dict = result.to_dict()
    assert as_dict["steps"][1]["conversion_from_first"] == 0.5
    assert as_dict["after_drop_off"] == [
        {"step": 1, "step_name": "product_page", "activity": "(none)", "units": 1, "share": 1.0}
    ]
    assert json.loads(json.dumps(as_dict))["spec"]["steps"][0]["any_of"][0]["touchpoint"] == "product_page"
    fig = result.plot()
    assert fig.data[0].type == "funnel" and list(fig.data[0].x) == [2, 1]
    assert "<table" in result._repr_html_() and "Where they went" in result._repr_html_()
    assert result.compact()[1]["from first"] == "50.0% [9.5–90.5]\n1/2"


# --- bad input ---------------------------------------------------------------------------------


@pytest.fixture
def shop(store: Store) -> Store:
    load(store, story({"ann": [(0, "product_page"), (5, "checkout"), (9, "chat", "sales_chat")]}))
    return store


def test_unknown_touchpoint_names_the_step_and_suggests_close_matches(shop: Store) -> None:
    with pytest.raises(FunnelSpecError) as err:
        funnel(shop, steps=["product_page", "chekout"])
    assert err.value.message == "Funnel step 2: no event has the touchpoint 'chekout'."
    assert err.value.hint == "Did you mean 'checkout'?"
    with pytest.raises(FunnelSpecError, match="exclusion 'refund'") as err:
        funnel(shop, steps=["product_page", "checkout"], exclusions=["refund"])
    with pytest.raises(FunnelSpecError) as err:
        funnel(shop, steps=["product_page", "chat"])
    assert "'chat:*'" in str(err.value.hint)  # a channel written as a touchpoint


def test_an_empty_workspace_says_what_to_load(store: Store) -> None:
    load(store, [])
    with pytest.raises(NotFoundError, match="no events to build a funnel from") as err:
        funnel(store, steps=["product_page", "checkout"])
    assert "journeylens ingest" in str(err.value.hint)


def test_empty_filter_result_is_a_clear_error(shop: Store) -> None:
    with pytest.raises(
        EmptySelectionError, match=r"No journeys match the filter \(journey_type=\['support'\]\)"
    ):
        funnel(shop, steps=["product_page", "checkout"], filter=JourneyFilter(journey_type=["support"]))


WINDOW, STEPS, EXCLUSIONS = "positive duration", "?step", "FROM-TO"
TOO_MANY = f"{MAX_STEPS + 1} steps is more than the limit of {MAX_STEPS}: each step adds one window pass"
NO_MATCHER = {"any_of": [{"properties": {"plan": "pro"}}]}


@pytest.mark.parametrize(
    ("fields", "message", "hint"),
    [
        ({"window": "0m"}, "window: the conversion window must be longer than zero (got 0:00:00)", WINDOW),
        ({"window": "-2h"}, "must be longer than zero", WINDOW),
        ({"window": "two hours"}, "'two hours' is not a duration like 30m, 2h, 14d or 1w", WINDOW),
        ({"steps": ["product_page"] * (MAX_STEPS + 1)}, TOO_MANY, STEPS),
        ({"steps": ["product_page", "*"]}, "a step needs a touchpoint or a channel", "channel:*"),
        ({"steps": ["product_page", NO_MATCHER]}, "a step needs a touchpoint or a channel", "channel:*"),
        ({"steps": ["product_page"]}, "at least 2 items", STEPS),
        ({"steps": ["?product_page", "checkout"]}, "the first step cannot be optional", STEPS),
        ({"order": "strict", "exclusions": ["faq"]}, "a strict funnel allows nothing between", EXCLUSIONS),
        (
            {"order": "any", "exclusions": ["faq@1-2"], "steps": ["a", "b", "c"]},
            "whole funnel (1-3)",
            EXCLUSIONS,
        ),
        ({"exclusions": ["faq@2-2"]}, "need 1 <= from < to <= 2", EXCLUSIONS),
        ({"by": "variant"}, "by=variant needs the experiment", "--experiment"),
    ],
)
def test_bad_specs_name_the_field_and_give_a_hint(fields: dict[str, Any], message: str, hint: str) -> None:
    with pytest.raises(FunnelSpecError) as err:
        funnel_spec(**{"steps": ["product_page", "checkout"], **fields})
    assert message in err.value.message
    assert err.value.message.startswith("Invalid funnel: ")
    assert hint in str(err.value.hint)


def test_variant_breakdown_without_assignments_says_what_to_load(shop: Store) -> None:
    with pytest.raises(FunnelSpecError, match="No experiment assignments have been loaded") as err:
        funnel(shop, steps=["product_page", "checkout"], by="variant", experiment="pricing_test")
    assert "--table assignments" in str(err.value.hint)


# --- end to end: ingest, build, breakdowns and the command line ---------------------------------

SHOP = ["home", "product_page", "checkout"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Five customers loaded from files and built (stitch + journeys) as a user would."""
    from journeylens.identity import stitch
    from journeylens.journeys import build_journeys

    folder = tmp_path_factory.mktemp("shop")
    rows = journeys({
        "ann": [("web", "home"), ("web", "product_page"), ("web", "checkout")],
        "bob": [("app", "home"), ("app", "product_page"), ("app", "faq")],
        "cem": [("web", "home")],
        "dan": [("web", "home"), ("web", "product_page"), ("web", "checkout")],
        "eve": [("app", "home"), ("app", "checkout")],
    })  # fmt: skip
    traits = [{"user_id": u, "segment": s} for u, s in
              (("ann", "loyal"), ("bob", "loyal"), ("cem", "first-time"), ("dan", "first-time"))]  # fmt: skip
    when = STORY_START.strftime("%Y-%m-%dT%H:%M:%SZ")
    assignments = [{"user_id": u, "experiment": "new_checkout", "variant": v, "timestamp": when}
                   for u, v in (("ann", "B"), ("bob", "A"), ("cem", "A"), ("dan", "B"))]  # fmt: skip
    ws = Workspace.init(folder / "ws")
    ws.ingest(paths=[str(write_csv(folder, "events.csv", rows))])
    ws.ingest(paths=[str(write_csv(folder, "customers.csv", traits))], table="customers")
    ws.ingest(paths=[str(write_csv(folder, "assignments.csv", assignments))], table="assignments")
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    yield ws
    ws.close()


def by_value(result: FunnelResult) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in result.records():
        out.setdefault(r["breakdown"], []).append(r["units"])
    return out


def test_breakdown_by_segment_and_by_experiment_variant(built: Workspace) -> None:
    seg = funnel(built.store, steps=SHOP, by="segment")
    assert by_value(seg) == {"first-time": [2, 1, 1], "loyal": [2, 2, 1], "(unknown)": [1, 0, 0]}
    var = funnel(built.store, steps=SHOP, by="variant", experiment="new_checkout")
    assert by_value(var) == {"A": [2, 1, 0], "B": [2, 2, 2], "(unassigned)": [1, 0, 0]}
    with pytest.raises(FunnelSpecError, match="Unknown experiment 'new_chekout'") as err:
        funnel(built.store, steps=SHOP, by="variant", experiment="new_chekout")
    assert err.value.hint == "Did you mean 'new_checkout'?"


def test_customer_funnel_over_filtered_journeys(built: Workspace) -> None:
    everyone = funnel(built.store, steps=SHOP)
    assert units(everyone) == [5, 3, 2]
    types = {
        j["journey_type"] for j in built.store.execute(built.store.backend.table("journeys")).to_pylist()
    }
    assert units(funnel(built.store, steps=SHOP, filter=JourneyFilter(journey_type=sorted(types)))) == [
        5,
        3,
        2,
    ]
    assert units(funnel(built.store, steps=SHOP, filter=JourneyFilter(channel=["app"]))) == [2, 1, 0]


def test_cli_funnel_json_and_table(built: Workspace, run_cli: Callable[[Sequence[str]], Any]) -> None:
    result = run_cli(
        ["funnel", *SHOP, "--window", "1h", "--by", "segment", "-w", built.root, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [(r["breakdown"], r["step"], r["units"]) for r in out["steps"]][:3] == [
        ("first-time", 1, 2), ("first-time", 2, 1), ("first-time", 3, 1)
    ]  # fmt: skip
    assert {"step": 2, "step_name": "product_page", "activity": "faq", "units": 1, "share": 1.0,
            "breakdown": "loyal"} in out["after_drop_off"]  # fmt: skip
    assert out["spec"]["window"] == "PT1H"
    table = run_cli(
        ["funnel", "home", "?product_page", "checkout|faq", "-w", built.root, "--exclude", "cart@1-2"]
    )
    assert isinstance(table.exception, FunnelSpecError)  # the CLI's one error handler prints it
    table = run_cli(
        ["funnel", "home", "?product_page", "checkout|faq", "-w", built.root, "--unit", "journey"]
    )
    assert table.exit_code == 0, table.output
    assert "(optional)" in table.stdout and "Where they went" in table.stdout
    csv_out = run_cli(["funnel", *SHOP, "-w", built.root, "--format", "csv"]).stdout.splitlines()
    assert csv_out[0].startswith("step,step_name,optional,units,dropped_off,")
    assert len(csv_out) == 4


def test_cli_bad_input_is_one_clear_message(tmp_path: Path, run_journeylens: Callable[..., Any]) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest(
        paths=[
            str(write_csv(tmp_path, "events.csv", journeys({"ann": [("web", "home"), ("web", "checkout")]})))
        ]
    )
    ws.close()  # the command runs in its own process and opens the store itself
    proc = run_journeylens(["funnel", "home", "chekout", "-w", ws.root])
    assert proc.returncode == 2
    assert "Error: Funnel step 2: no event has the touchpoint 'chekout'." in proc.stderr
    assert "Hint: Did you mean 'checkout'?" in proc.stderr
    assert "Traceback" not in proc.stderr
    bad = run_journeylens(["funnel", "home", "checkout", "--window", "0d", "-w", ws.root])
    assert (
        bad.returncode == 2
        and "Error: Invalid funnel: --window: the conversion window must be longer" in bad.stderr
    )


# --- who is counted, and why nobody is ------------------------------------------------------------


def test_default_unit_is_customer_when_the_journeys_have_customers(shop: Store) -> None:
    result = funnel(shop, steps=["product_page", "checkout"])
    assert result.unit is FunnelUnit.customer and units(result) == [1, 1]
    assert result.unit_reason.startswith("customer: 1 of the 1 journeys belong to a known customer")
    assert result.to_dict()["unit"] == "customer" and result.to_dict()["reason"] is None
    assert "unit" not in result.to_dict()["spec"]  # the spec as asked: no unit given


def test_an_exclusion_that_voids_every_attempt_is_said(run: Callable[..., FunnelResult]) -> None:
    events = story({"ann": [(0, "product_page"), (1, "payment_error"), (5, "checkout")]})
    result = run(events, steps=["product_page", "checkout"], exclusions=["payment_error"])
    assert result.undefined is not None
    assert "1 customers did step 1 (product_page), but an exclusion voided every attempt" in (
        result.undefined.reason
    )
    assert "--exclude payment_error" in result.undefined.hint


def test_a_filter_without_step_one_says_what_it_kept_and_the_closest_names(
    run: Callable[..., FunnelResult],
) -> None:
    events = story({
        "ann": [(0, "home"), (5, "product_page")],
        "bob": [(0, "web", "product_pages", {"props": {"plan": "pro"}}), (5, "checkout")],
    })  # fmt: skip
    flt = JourneyFilter(properties={"plan": "pro"})
    result = run(events, steps=["product_page", "checkout"], filter=flt)
    assert units(result) == [0, 0]
    out = result.to_dict()
    assert out["reason"] == (
        "The filter (where plan=pro) kept 1 journeys, and no customer in the selection has "
        "an event matching step 1 (product_page), so every rate is undefined."
    )
    assert out["closest_touchpoints"] == ["product_pages"]
    assert "Closest touchpoints in the selection: 'product_pages'." in out["hint"]
    assert "Loosen the filter" in out["hint"]
    assert [r["conversion_from_first"] for r in out["steps"]] == [None, None]
    assert result.compact()[1]["from first"] == "n/d"


@pytest.fixture(scope="module")
def helpdesk(shared_file: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The help-desk case log (XES: cases, no customers) ingested and built as a user would."""
    from journeylens.identity import stitch
    from journeylens.journeys import build_journeys

    ws = Workspace.init(tmp_path_factory.mktemp("helpdesk") / "ws")
    ws.ingest(paths=[str(shared_file("process-logs/helpdesk.xes.gz"))], channel="other")
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    ws.close()
    yield ws.root


HELPDESK_STEPS = ["Assign seriousness", "Take in charge ticket", "Resolve ticket"]


@pytest.mark.realdata
def test_a_case_log_counts_journeys_by_default(
    helpdesk: Path, run_cli: Callable[[Sequence[str]], Any]
) -> None:
    out = run_cli(["funnel", *HELPDESK_STEPS, "-w", helpdesk, "-f", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["unit"] == "journey" and data["reason"] is None
    assert data["unit_reason"].startswith("journey: none of the 4,580 journeys has a customer")
    # The real funnel (what --unit journey gave before), not zeros.
    assert [r["units"] for r in data["steps"]] == [4495, 3776, 2684]
    explicit = json.loads(
        run_cli(["funnel", *HELPDESK_STEPS, "-w", helpdesk, "-f", "json", "--unit", "journey"]).stdout
    )
    assert explicit["steps"] == data["steps"]
    table = run_cli(["funnel", *HELPDESK_STEPS, "-w", helpdesk])
    assert "per journey" in table.stdout and "4,495/4,495" in table.stdout
    assert "Unit: journey: none of the 4,580 journeys has a customer" in " ".join(table.stderr.split())


@pytest.mark.realdata
def test_a_case_log_counted_by_customer_says_why_it_is_undefined(
    helpdesk: Path, run_cli: Callable[[Sequence[str]], Any]
) -> None:
    out = run_cli(["funnel", *HELPDESK_STEPS, "-w", helpdesk, "-f", "json", "--unit", "customer"])
    assert out.exit_code == 0, out.output  # undefined for this data is not an error
    data = json.loads(out.stdout)
    assert [r["units"] for r in data["steps"]] == [0, 0, 0]
    assert all(r["conversion_from_first"] is None for r in data["steps"])
    assert data["reason"].startswith("No customer in the selection: no journey has a customer")
    assert "--unit journey" in data["hint"]
    table = run_cli(["funnel", *HELPDESK_STEPS, "-w", helpdesk, "--unit", "customer"])
    said = " ".join(table.stderr.split())
    assert (
        "Not defined: No customer in the selection" in said
        and "Hint: Count journeys with --unit journey" in said
    )
    assert "n/d" in table.stdout


@pytest.mark.realdata
def test_a_misspelt_first_step_on_a_case_log_gives_the_closest_names(helpdesk: Path) -> None:
    ws = Workspace.open(helpdesk)
    try:
        with pytest.raises(FunnelSpecError) as err:
            funnel(ws.store, steps=["Asign seriousnes", "Take in charge ticket"])
        assert err.value.message == "Funnel step 1: no event has the touchpoint 'Asign seriousnes'."
        assert err.value.hint == "Did you mean 'Assign seriousness'?"
        # A name the log has, but not the filtered journeys: not an error; the result says what the
        # filter kept and what would define the rates.
        late = funnel(ws.store, steps=["VERIFIED", "Closed"], filter=JourneyFilter(since="2013-06-01"))
        assert [r["units"] for r in late.records()] == [0, 0]
        assert late.undefined is not None
        assert late.undefined.reason == (
            "The filter (since=2013-06-01 00:00:00+00:00) kept 286 journeys, and no journey in the "
            "selection has an event matching step 1 (VERIFIED), so every rate is undefined."
        )
        assert "Loosen the filter" in late.undefined.hint
    finally:
        ws.close()
