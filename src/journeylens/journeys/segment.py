"""Split each customer's events into journeys: intent episodes across channels and days.

Rules, applied per customer in time order (ties in load order, then by ``event_id``):

1. **Claims.** An event *claims* every journey type whose ``start`` criteria it meets. An event
   claimed by exactly one type carries that type's *intent*; an event several types claim (a home
   page, an IVR menu) is neutral; an event none claims (a delivery update, an order confirmation,
   a survey invitation) is a *follow-up* and never opens a journey on its own.
2. **Look-ahead.** A start event with no intent of its own takes the intent of the first later
   event that has one, when that follows within ``lookahead``: the IVR menu before a billing call
   is a billing contact. A start event the company sent (``direction`` outbound: a newsletter)
   waits ``outbound_lookahead`` for the customer's answer, and belongs to the journey the answer
   opens. A start event without a case takes the case of the next event within ``case_lookahead``.
3. **Boundaries.** An event opens a new journey when the customer has been quiet for longer than
   - ``max_duration`` of the current journey type, for follow-ups (quiet: since the last event);
   - ``switch_gap``, for an event whose intent differs from the current one;
   - the current type's ``resume_gap``, for an event meeting its ``resume`` criteria (a return
     straight to a product page or the cart continues the purchase being considered);
   - ``neutral_gap``, for a neutral start event;
   - the current type's ``inactivity_gap``, for an event of the same intent.
   For start events, quiet counts from the last event that is not a follow-up the company sent:
   a delivery update or a survey invitation joins the journey but does not keep it going, so
   shopping again a day after the delivery e-mail is a new journey.
   An event of the same case as the case seen last never opens a journey, however long the gap.
4. **Cases.** Where events carry a ``case_id`` (ticket, order, XES trace) the case *is* the
   journey: every event of the case belongs to it (even when the events name different
   customers; the journey's customer is the one of its first event), and a case-less event of an
   episode joins the episode's case whose nearest event is closest in time (the help page read
   just before a call goes to that call's ticket). Two cases of one customer stay two journeys
   even when they overlap in time; a case-less event exactly halfway goes to the earlier one.
5. **Type.** The highest-priority type that some event of the journey claims alone; failing
   that, the highest-priority type any event claims; failing that ``other``.
6. **Maximum duration.** A journey without a case that lasts longer than its type's
   ``max_duration`` is cut into consecutive ``max_duration`` windows.

Every event belongs to exactly one journey. All of it is window functions over the events (no
Python loop over rows), so it runs where the events live.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.journeys.definitions import JourneyRules, JourneyType, seconds
from journeylens.store._backend import json_text
from journeylens.store._working import scratch_table

OTHER = "other"
CLAIMS, EPISODES = "_jl_journey_claims", "_jl_journey_episodes"
"""Working tables of :func:`assign_journeys` (one row per event; dropped by ``build_journeys``)."""
BREAKS = "_jl_journey_breaks"
"""Each customer's first event and breaks (:func:`break_rows`), kept between builds for
``journeys.incremental`` (a working table, so forgetting a person drops it)."""
# Packing a small type code under a row number lets a running MAX carry the last intent forward
# (a "last non-null value" that every engine supports).
_PACK = 64
# Time order, ties in the order the events were loaded (file order), then the event id.
ORDER = ["timestamp", "ingest_seq", "event_id"]
# The columns every working table of :func:`assign_journeys` carries to the next pass.
_CARRIED = ("customer_id", *ORDER, "channel", "_assisted", "_who", "_ts", "_own", "_claimed", "_rn", "_case")


def _ordered(group: list[str | ir.Value]) -> ibis.expr.builders.LegacyWindowBuilder:
    return ibis.window(group_by=group, order_by=ORDER)


def _code_cases(conditions: list[ir.BooleanValue]) -> ir.IntegerValue:
    """The index of the first true condition, else NULL."""
    return ibis.cases(*((cond, i) for i, cond in enumerate(conditions)), else_=ibis.null("int8"))


def _per_type(codes: ir.IntegerValue, values: list[int], default: int) -> ir.IntegerValue:
    return ibis.cases(*((codes == i, v) for i, v in enumerate(values)), else_=default)


def assign_journeys(
    backend: ibis.BaseBackend,
    events: ir.Table,
    rules: JourneyRules,
    *,
    case_log: bool = False,
    large: bool = True,
) -> ir.Table:
    """Events with ``journey_id``, ``type_code`` (the journey's type as its index in
    ``rules.ranked()``, NULL for ``other``; see :func:`type_name`), ``step``,
    ``channel_switch`` (the channel differs from the journey's previous event's), ``last_step``,
    ``assisted`` (an assisted contact) and ``before_contact`` (no assisted contact earlier in the
    journey).

    Args:
        backend: where scratch tables are materialised.
        events: events with ``customer_id`` (see ``identity.stitch.events_with_customers``).
        rules: the journey definitions.
        case_log: every event has a ``case_id`` (a process log). Then every journey is a case:
            rules 1-4 decide nothing and rule 6 never cuts a case, so ``journeys.cases`` only
            groups and numbers the steps; the result is the same as without the flag.
        large: the working tables are stored like event-sized ones (see
            ``store._working.scratch_table``); ``False`` when ``events`` are few (the
            incremental build's).
    """
    ranked = rules.ranked()
    gaps = [seconds(jt.inactivity_gap) for _, jt in ranked]
    max_durations = [seconds(jt.max_duration) for _, jt in ranked]
    if case_log:
        # Imported here: journeys.cases builds on this module's claims and step order.
        from journeylens.journeys.cases import assign_cases

        return assign_cases(events, rules)
    first = claimed_events(events, rules)
    w = _ordered(["_who"])
    later = ibis.window(group_by="_who", order_by=ORDER, rows=(1, None))
    # Every window over the customer's time order that needs only the raw events, in one pass
    # (one sort): the first later event with an intent of its own, packed as (time, intent) for
    # a running MIN; the next event's time and case; the row number, the gap since the last event
    # and the quiet time since the customer's last event (running MAX of its time).
    packed = ibis.ifelse(first._own.notnull(), first._ts * _PACK + first._own, None)
    earlier = ibis.window(group_by="_who", order_by=ORDER, rows=(None, -1))
    first = first.mutate(
        _next_own=packed.min().over(later),
        _next_ts=first._ts.lead().over(w),
        _next_case=first.case_id.lead().over(w),
        _rn=ibis.row_number().over(w),
        _gap=first._ts - first._ts.lag().over(w),
        _quiet=first._ts - ibis.ifelse(first._active, first._ts, None).max().over(earlier),
    )
    reach = ibis.ifelse(first._outbound, seconds(rules.outbound_lookahead), seconds(rules.lookahead))
    ahead = first._starter & first._own.isnull() & (first._next_own // _PACK - first._ts <= reach)
    near = first._starter & ((first._next_ts - first._ts) <= seconds(rules.case_lookahead))
    first = first.mutate(
        _intent=ibis.coalesce(first._own, ibis.ifelse(ahead, (first._next_own % _PACK).cast("int8"), None)),
        _case=ibis.coalesce(first.case_id, ibis.ifelse(near, first._next_case, None)),
    )
    # Only what the later passes read is stored: every column written costs its compression.
    resumes = [c for c in first.columns if c.startswith("_resume")]
    carried = [*_CARRIED, "_starter", "_gap", "_quiet", "_intent", *resumes]
    first = scratch_table(backend, CLAIMS, first.select(*carried), large=large)

    second = first.mutate(
        _packed=ibis.ifelse(first._intent.notnull(), first._rn * _PACK + first._intent, None),
        _case_row=ibis.ifelse(first._case.notnull(), first._rn, None),
    )
    third = second.mutate(
        _current=second._packed.max().over(earlier) % _PACK,
        _last_case_row=second._case_row.max().over(earlier),
        _next_case_row=second._case_row.min().over(later),
        # The case of the last earlier event that had one, in the same sort (at 10M events this
        # cost 0.3-0.4 s less than a hash join on the customer and that event's row number). The
        # key is never NULL, so the engine's NULL order cannot pick a case-less row over one.
        _last_case=second._case.argmax(second._case_row.fill_null(-1)).over(earlier),
    )
    current, gap, quiet, intent = third._current, third._gap, third._quiet, third._intent
    same_case = third._case.notnull() & (third._case == third._last_case).fill_null(False)
    opens = third._gap.isnull() | (
        ~same_case
        & ibis.cases(
            (~third._starter, gap > _per_type(current, max_durations, seconds(rules.neutral_gap))),
            (intent.notnull() & current.notnull() & (intent != current), quiet > seconds(rules.switch_gap)),
            *_resumes(third, ranked),
            (intent.isnull(), quiet > seconds(rules.neutral_gap)),
            else_=quiet > _per_type(current, gaps, seconds(rules.neutral_gap)),
        ).fill_null(True)
    )
    third = third.mutate(_opens=opens)
    # Episodes are runs of rows in the customer's order, so the episode's previous and next case
    # events (rule 4) are the customer's, when they fall between the episode's first row and the
    # next episode's: read in this pass, with no window sorted by (customer, episode).
    cumulative = ibis.cumulative_window(group_by="_who", order_by=ORDER)
    opening_row = ibis.ifelse(third._opens, third._rn, None)
    # Episodes are named from the customer's last break (see :func:`break_gap`), not counted from
    # the first event, so a build that starts at a break names them as a full build does.
    hard = third._gap.isnull() | (third._own.notnull() & (third._gap > break_gap(rules)))
    segmented = third.mutate(
        _episode_row=opening_row.max().over(cumulative),
        _break_row=ibis.ifelse(hard, third._rn, None).max().over(cumulative),
        _break_ts=ibis.ifelse(hard, third._ts, None).max().over(cumulative),
        _next_episode_row=opening_row.min().over(later),
    )
    prev_in_episode = segmented._last_case_row >= segmented._episode_row
    next_in_episode = segmented._next_episode_row.isnull() | (
        segmented._next_case_row < segmented._next_episode_row
    )
    segmented = segmented.select(
        *_CARRIED,
        "_break_ts",
        _episode=segmented._episode_row - segmented._break_row,
        _prev_rn=ibis.ifelse(prev_in_episode, segmented._last_case_row, None),
        _next_rn=ibis.ifelse(next_in_episode, segmented._next_case_row, None),
    )
    segmented = scratch_table(backend, EPISODES, segmented, large=large)

    keyed = _nearest_case(segmented)
    case_of = ibis.coalesce(keyed._case, keyed._near_case)
    # A case is one journey whoever's events it holds (a ticket touched by two customer records);
    # an episode without a case belongs to its customer.
    keyed = keyed.mutate(
        _key=ibis.ifelse(
            case_of.notnull(),
            "case:" + case_of,
            keyed._who + "|episode:" + keyed._break_ts.cast("string") + "+" + keyed._episode.cast("string"),
        ),
        _is_case=case_of.notnull(),
    )
    return _typed(keyed, rules)


def break_rows(backend: ibis.BaseBackend, events: ir.Table, *, case_log: bool) -> ir.Table:
    """``customer_id``, ``at`` and ``until``: each customer's first event and each of their
    breaks (see :func:`break_gap`), with the whole second of the last event before the next one,
    read from :func:`assign_journeys`' episodes (none on a case log, whose journeys are its
    cases). ``journeys.incremental`` reads them to find where a customer can be recomputed from;
    ``events``: what :func:`assign_journeys` split."""
    if case_log:
        none = events.filter(ibis.literal(False))
        return none.select("customer_id", at=none.timestamp, until=ibis.null("int64"))
    episodes = backend.table(EPISODES)
    mine = episodes.filter(episodes.customer_id.notnull())
    # A break's row is the first of those named after it, so the earliest time is the break's.
    runs = mine.group_by("customer_id", "_break_ts").agg(at=mine.timestamp.min(), until=mine._ts.max())
    return runs.drop("_break_ts")


def break_gap(rules: JourneyRules) -> int:
    """Seconds of quiet after which an event with an intent of its own is a *break*: it opens a
    journey whatever came before, and nothing before it reads anything after it. The longest
    look-ahead, gap and resume gap of rules 2-3, repeat window and feedback window (max_duration
    is not one: it is only read by follow-ups, and a break has an intent).

    Before a break every decision is unchanged by the events after it. After it, every decision
    reads only the break and what follows (the intent and quiet time carried forward start again
    at the break, and its quiet exceeds every threshold of rule 3), except through cases: a case
    with events on both sides of a break is one journey (rule 4), which the incremental build
    guards against by recomputing such a customer whole.
    Episodes are named ``<who>|episode:<break's second>+<rows since the break>``: the incremental
    build (``journeys.incremental``) recomputes a customer from their last break before the new
    data and names every journey as a full build does.
    """
    spans = [rules.lookahead, rules.outbound_lookahead, rules.case_lookahead, rules.switch_gap]
    spans += [rules.neutral_gap, rules.repeat_window]
    for name, jt in rules.types.items():
        spans += [jt.inactivity_gap, jt.resume_gap, rules.repeat_window_of(name)]
    return max(*(seconds(s) for s in spans), rules.feedback.seconds())


def claimed_events(events: ir.Table, rules: JourneyRules) -> ir.Table:
    """The columns segmentation reads, with rule 1's claims: ``_own`` (the one type that claims
    the event), ``_claimed`` (the highest-priority type that does), ``_starter``, ``_active``,
    ``_outbound``, ``_resume<i>``, the customer key ``_who``, whole seconds ``_ts`` and
    ``_assisted``."""
    ranked = rules.ranked()

    # Only what segmentation reads travels through the scratch tables (properties for criteria);
    # carrying every event column tripled the cost of each materialisation.
    # Each property the start criteria read is extracted from the JSON once, and each claim is a
    # column of its own: inlined, the three default types parsed contact_reason 18 times a row.
    read = sorted({n for _, jt in ranked for c in (jt.start, jt.resume) for n in c.property_names()})
    extracted = {name: f"_prop{i}" for i, name in enumerate(read)}
    events = events.select(
        "event_id", "customer_id", "case_id", "timestamp", "ingest_seq", "channel", "touchpoint",
        "direction",
        **{col: json_text(events.properties, name) for name, col in extracted.items()},
        # An assisted contact (see outcomes): one byte here saves outcomes a join per event.
        _assisted=events.channel.isin(rules.assisted_channels) & events.agent_id.notnull(),
    )  # fmt: skip
    events = events.mutate(
        **{
            f"_claim{i}": jt.start.matches(events, lambda name: events[extracted[name]])
            for i, (_, jt) in enumerate(ranked)
        }
    )
    claims = [events[f"_claim{i}"] for i in range(len(ranked))]
    n_claims = sum((c.cast("int8") for c in claims), ibis.literal(0, "int8"))
    first = events.mutate(
        _who=ibis.coalesce(events.customer_id, "case:" + events.case_id),
        # Whole seconds as integers: some engines return fractional epochs, which cannot be packed.
        _ts=events.timestamp.epoch_seconds().cast("float64").floor().cast("int64"),
        _own=ibis.cases(*((c & (n_claims == 1), i) for i, c in enumerate(claims)), else_=ibis.null("int8")),
        _claimed=_code_cases(claims),
        _starter=n_claims > 0,
        # Company-sent messages no type claims (a delivery update) do not break the quiet.
        _active=(n_claims > 0) | (events.direction != "outbound").fill_null(True),
        _outbound=(events.direction == "outbound").fill_null(False),
        **{
            f"_resume{i}": jt.resume.matches(events, lambda name: events[extracted[name]])
            for i, (_, jt) in enumerate(ranked)
            if not jt.resume.is_empty()
        },
    )
    return first


def _resumes(
    t: ir.Table, ranked: list[tuple[str, JourneyType]]
) -> list[tuple[ir.BooleanValue, ir.BooleanValue]]:
    """Rule 3's case for a start event that resumes the current type (its ``resume`` criteria)."""
    return [
        (
            (t._current == i) & t[f"_resume{i}"] & (t._intent.isnull() | (t._intent == i)),
            t._quiet > seconds(jt.resume_gap),
        )
        for i, (_, jt) in enumerate(ranked)
        if not jt.resume.is_empty()
    ]


def _nearest_case(segmented: ir.Table) -> ir.Table:
    """``_near_case``: the case of the episode's case event nearest in time (rule 4), found from
    the row numbers of the previous and the next case event of the episode (``_prev_rn``,
    ``_next_rn``) and a join on them."""
    cases = segmented.filter(segmented._case.notnull())
    near = segmented
    prev = cases.select(_p_who=cases._who, _p_rn=cases._rn, _p_case=cases._case, _p_ts=cases._ts)
    after = cases.select(_n_who=cases._who, _n_rn=cases._rn, _n_case=cases._case, _n_ts=cases._ts)
    near = near.left_join(prev, (near._who == prev._p_who) & (near._prev_rn == prev._p_rn))
    near = near.left_join(after, (near._who == after._n_who) & (near._next_rn == after._n_rn))
    # A tie goes to the earlier case: the case-less events between two cases that overlap.
    later_is_nearer = near._p_case.isnull() | ((near._n_ts - near._ts) < (near._ts - near._p_ts)).fill_null(
        False
    )
    return near.mutate(_near_case=ibis.ifelse(later_is_nearer, near._n_case, near._p_case)).drop(
        "_prev_rn", "_next_rn", "_p_who", "_p_rn", "_p_case", "_p_ts", "_n_who", "_n_rn", "_n_case", "_n_ts"
    )


def _typed(keyed: ir.Table, rules: JourneyRules) -> ir.Table:
    """Journeys from events keyed by case or episode (``_key``): type (rule 5), the cut at the
    maximum duration (rule 6), ids, and the step-order columns outcomes reads."""
    ranked = rules.ranked()
    max_durations = [seconds(jt.max_duration) for _, jt in ranked]
    types = keyed.group_by("_key").agg(
        _type_code=ibis.coalesce(keyed._own.min(), keyed._claimed.min()),
        _start=keyed._ts.min(),
    )
    typed = keyed.join(types, "_key")
    limit = _per_type(typed._type_code, max_durations, seconds(rules.neutral_gap))
    part = ibis.ifelse(typed._is_case, 0, ((typed._ts - typed._start) / limit).floor().cast("int64"))
    typed = typed.mutate(journey_key=typed._key + "/" + part.cast("string"))
    out = typed.select(
        "event_id",
        "customer_id",
        type_code=typed._type_code,
        journey_id=journey_id(typed.journey_key),
        timestamp=typed.timestamp,
        ingest_seq=typed.ingest_seq,
        channel=typed.channel,
        assisted=typed._assisted,
    )
    return in_step_order(out)


def type_name(code: ir.IntegerValue, names: list[str]) -> ir.StringValue:
    """The journey type named by its code (rule 5), ``other`` for none."""
    return ibis.cases(*((code == i, n) for i, n in enumerate(names)), else_=OTHER)


def journey_id(key: ir.StringValue) -> ir.StringValue:
    """The stable id of a journey key (``case:<case>/<part>`` or
    ``<who>|episode:<break>+<n>/<part>``)."""
    return "j_" + key.hexdigest("md5").substr(0, 16)


def in_step_order(out: ir.Table, journey: str = "journey_id", **more: ir.Value) -> ir.Table:
    """What outcomes needs in step order, in one sort by journey: the step number, the channel
    switch, the last step, and whether an assisted contact came earlier in the journey; the
    ``timestamp``, ``ingest_seq`` and ``channel`` the sort read are dropped. ``journey``: the
    column that names the journey (a case, in a process log); ``more``: other window columns
    over the same sort."""
    in_journey = _ordered([journey])
    earlier_in_journey = ibis.window(group_by=journey, order_by=ORDER, rows=(None, -1))
    contact_earlier = out.assisted.cast("int8").max().over(earlier_in_journey).fill_null(0)
    return out.mutate(
        step=(ibis.row_number().over(in_journey) + 1).cast("int32"),
        channel_switch=(out.channel != out.channel.lag().over(in_journey)).fill_null(False),
        last_step=out.event_id.lead().over(in_journey).isnull(),
        before_contact=contact_earlier == 0,
        **more,
    ).drop("timestamp", "ingest_seq", "channel")
