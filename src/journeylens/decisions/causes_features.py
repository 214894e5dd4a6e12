"""Candidate causes of ``journeylens causes``: journey features, one Ibis table per family.

Every family is a table of distinct (``journey_id``, ``family``, ``key``, ``value``, ``label``)
rows over the journeys that count for the outcome (``causes_outcomes.outcome_table``):

==============  ======================================================  =======================
family          value                                                   label, e.g.
==============  ======================================================  =======================
``touchpoint``  ``channel:touchpoint`` of an event (with ``--map``:     ``touchpoint web:faq``
                ``stage/channel:touchpoint``, stages from
                ``maps.stage_assignment``)
``channel``     a channel used                                          ``channel sms``
``switch``      consecutive events on two channels, ``from->to``        ``switch web->chat``
``entry``       the journey's first channel                             ``entry app``
``segment``     the customer's segment trait                            ``segment loyal``
``team``        the team (``agents`` table) of an agent who handled it  ``team billing_a``
``event``       ``KEY=VALUE`` of an event property (``--property``)     ``event device=ios``
``trait``       ``KEY=VALUE`` of a customer trait (``--trait``)         ``trait plan=basic``
==============  ======================================================  =======================

Event families read only the events that may carry a cause of the outcome
(``causes_outcomes.CUTS``). The counts below are the engine's share of the search (never one
query per candidate); Python receives a few hundred rows:

- :func:`feature_counts`: per feature, journeys with it (``n``) and those of them with the outcome
  (``k``) — one pass for every family; "without" is the totals minus these;
- :func:`patterns`: per pattern of presence over the chosen features (a bit mask), journeys and
  outcome count — every pair count (the pair candidates), every 2x2x2 table of the stratified
  checks and the grouped data of the joint logistic regression follow from it;
- :func:`examples`: the smallest ids of journeys with each feature and the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from journeylens.discovery.selection import customer_segments
from journeylens.errors import InputError
from journeylens.journeys.definitions import JourneyRules
from journeylens.specs.causes import DEFAULT_PROPERTIES, CausesSpec
from journeylens.store import Store
from journeylens.store._backend import json_text

if TYPE_CHECKING:
    from journeylens.maps.model import JourneyMap

COLUMNS = ("journey_id", "family", "key", "value", "label")
NO_STAGE = "(no stage)"


def _rows(t: ir.Table, family: str, value: ir.StringValue, key: ir.StringValue | None = None) -> ir.Table:
    key = ibis.literal(family) if key is None else key
    out = t.select(
        "journey_id",
        family=ibis.literal(family),
        key=key,
        value=value,
        label=ibis.literal(f"{family} ") + value,
    )
    return out.filter(out.value.notnull()).distinct()


def cut_events(store: Store, outcome: ir.Table, cuts: Sequence[str], rules: JourneyRules) -> ir.Table:
    """The events of the counted journeys that may carry a cause: ``journey_id``, ``step``,
    ``channel``, ``touchpoint``, ``agent_id``, ``properties`` (``cuts``: ``causes_outcomes.CUTS``)."""
    je, events = store.backend.table("journey_events"), store.table("events")
    o = outcome.select("journey_id", "_decided_tp")
    rows = je.join(o, "journey_id").join(events, je.event_id == events.event_id)
    rows = rows.select(
        "journey_id", "_decided_tp", step=je.step.cast("int64"), channel=events.channel,
        touchpoint=events.touchpoint, agent_id=events.agent_id, properties=events.properties,
        direction=events.direction,
    )  # fmt: skip
    if not cuts:
        return rows.drop("_decided_tp", "direction")
    w = ibis.window(group_by="journey_id")
    keep: list[ir.BooleanValue] = []
    if "last_inbound" in cuts:
        inbound = rows.direction.fill_null("inbound") != "outbound"
        last = ibis.ifelse(inbound, rows.step, None).max().over(w)
        keep.append((rows.step <= last).fill_null(True))
    if "first_contact" in cuts:
        # The contact starts at the first event on an assisted channel (the IVR menu or the chatbot
        # in front of the agent is already the customer contacting).
        assisted = rows.channel.isin(rules.assisted_channels)
        keep.append((rows.step < ibis.ifelse(assisted, rows.step, None).min().over(w)).fill_null(True))
    if "decided" in cuts:
        decided = ibis.ifelse(rows.touchpoint == rows._decided_tp, rows.step, None).min().over(w)
        keep.append((rows.step < decided).fill_null(True))
    marked = rows.mutate(_keep=ibis.and_(*keep))
    kept = marked.filter(marked._keep).drop("_keep", "_decided_tp", "direction")
    if "decided" in cuts:
        # A touchpoint that decides outcomes (a success or failure event) is the outcome, not a
        # candidate: cut in the journeys it decided and left in the others, it would only look
        # associated with the other outcome.
        deciding = outcome.filter(outcome._decided_tp.notnull()).select(_tp=outcome._decided_tp).distinct()
        kept = kept.anti_join(deciding, kept.touchpoint == deciding._tp)
    return kept


def families(
    store: Store,
    spec: CausesSpec,
    outcome: ir.Table,
    journeys: ir.Table,
    events: ir.Table,
    journey_map: JourneyMap | None = None,
) -> dict[str, ir.Table]:
    """Every feature family of ``spec`` (module doc), keyed by family name."""
    out: dict[str, ir.Table] = {}
    tp = events.channel + ":" + events.touchpoint
    if journey_map is not None:
        from journeylens.maps.stage_assignment import stage_name, stage_rank

        stage = stage_name(stage_rank(events, journey_map.stages), journey_map.stages).fill_null(NO_STAGE)
        tp = stage + "/" + tp
    out["touchpoint"] = _rows(events, "touchpoint", tp)
    out["channel"] = _rows(events, "channel", events.channel)
    prev = events.channel.lag().over(ibis.window(group_by="journey_id", order_by="step"))
    switched = events.mutate(_prev=prev)
    switched = switched.filter(switched._prev.notnull() & (switched._prev != switched.channel))
    out["switch"] = _rows(switched, "switch", switched._prev + "->" + switched.channel)
    counted = journeys.semi_join(outcome, "journey_id")
    out["entry"] = _rows(counted, "entry", counted.first_channel)
    people = outcome.filter(outcome.customer_id.notnull()).select("journey_id", "customer_id")
    if "customers" in store.backend.list_tables() and store.count("customers"):
        seg = customer_segments(store, spec.segment_trait)
        joined = people.join(seg, "customer_id")
        out["segment"] = _rows(joined, "segment", joined.segment)
        traits = [_trait(store, people, name) for name in spec.traits]
        if traits:
            out["trait"] = ibis.union(*traits)
    elif spec.traits:
        raise InputError(f"--trait {spec.traits[0]}: the workspace has no customers table.", hint=_TRAIT_HINT)
    if "agents" in store.backend.list_tables() and store.count("agents"):
        agents = store.table("agents")
        teams = (
            agents.filter(agents.team.notnull()).group_by(_aid=agents.agent_id).agg(_team=agents.team.max())
        )
        handled = events.join(teams, events.agent_id == teams._aid)
        out["team"] = _rows(handled, "team", handled._team)
    if "event" in spec.families:
        props = [_property(events, name) for name in _property_names(store, spec)]
        if props:
            out["event"] = ibis.union(*props)
    return {name: table for name, table in out.items() if name in spec.families}


_TRAIT_HINT = "Name a trait the customers table has (see `journeylens customer ID`)."


def _property(events: ir.Table, name: str) -> ir.Table:
    value = json_text(events.properties, name)
    return _rows(events, "event", ibis.literal(f"{name}=") + value, key=ibis.literal(f"event:{name}"))


def _trait(store: Store, people: ir.Table, name: str) -> ir.Table:
    values = customer_segments(store, name)
    joined = people.join(values, "customer_id")
    return _rows(
        joined, "trait", ibis.literal(f"{name}=") + joined.segment, key=ibis.literal(f"trait:{name}")
    )


def _property_names(store: Store, spec: CausesSpec) -> list[str]:
    """The event property keys to test: the given ones, each of which some event must have (else a
    clear error), or the defaults that exist."""
    names = list(DEFAULT_PROPERTIES) if spec.properties is None else spec.properties
    found = present_properties(store, names)
    if spec.properties is not None:
        missing = [n for n in names if n not in found]
        if missing:
            raise InputError(
                f"--property {missing[0]}: no event has a property named {missing[0]!r}.",
                hint="Name a key of the events' properties JSON (e.g. device, carrier, template).",
            )
    return found


def present_properties(store: Store, names: Sequence[str]) -> list[str]:
    """The ``names`` that some event has as a property key (one aggregation)."""
    if not names:
        return []
    events = store.table("events")
    present = store.execute(
        events.aggregate(
            **{f"p{i}": json_text(events.properties, n).notnull().any() for i, n in enumerate(names)}
        )
    ).to_pylist()[0]
    return [n for i, n in enumerate(names) if present[f"p{i}"]]


def check_traits(store: Store, spec: CausesSpec) -> None:
    """Each ``--trait`` must be a key some customer has."""
    if not spec.traits:
        return
    customers = store.table("customers")
    present = store.execute(
        customers.aggregate(
            **{f"t{i}": json_text(customers.traits, n).notnull().any() for i, n in enumerate(spec.traits)}
        )
    ).to_pylist()[0]
    for i, name in enumerate(spec.traits):
        if not present[f"t{i}"]:
            raise InputError(f"--trait {name}: no customer has a trait named {name!r}.", hint=_TRAIT_HINT)


# --- counts: the engine's share of the search ---------------------------------------------------
CAPPED = ("event", "trait")
"""Families whose keys are capped at ``max_values`` distinct values (low cardinality only)."""


def totals(outcome: ir.Table) -> ir.Table:
    """One row: journeys that count (``n``) and those with the outcome (``k``)."""
    return outcome.aggregate(n=outcome.count(), k=outcome._y.sum().fill_null(0))


def feature_counts(features: ir.Table, outcome: ir.Table, max_values: int) -> ir.Table:
    """``family``, ``key``, ``value``, ``label``, ``n``, ``k`` and ``values`` (distinct values of the
    key) per feature, every family in one pass. A key of a capped family with more than
    ``max_values`` values returns one row (its first label), so that the caller can say it was not
    tested."""
    o = outcome.select("journey_id", "_y")
    j = features.join(o, "journey_id")
    agg = j.group_by("family", "key", "value", "label").agg(n=j.count(), k=j._y.sum())
    agg = agg.mutate(
        values=agg.label.count().over(group_by="key"),
        _first=ibis.row_number().over(group_by="key", order_by="label"),
    )
    kept = ~agg.family.isin(CAPPED) | (agg["values"] <= max_values) | (agg._first == 0)
    return agg.filter(kept).drop("_first")


def _chosen(features: ir.Table, labels: Sequence[str]) -> ir.Table:
    return features.filter(features.label.isin(list(labels))).select("journey_id", "label")


def patterns(features: ir.Table, outcome: ir.Table, labels: Sequence[str]) -> ir.Table:
    """``mask`` (bit ``i`` set: the journey has ``labels[i]``), ``n`` and ``k`` per pattern, every
    counted journey included (mask 0: none of the features)."""
    rows = _chosen(features, labels)
    bit = ibis.cases(*((rows.label == name, 2**i) for i, name in enumerate(labels)), else_=0).cast("int64")
    masks = rows.mutate(_bit=bit).group_by(_jid=rows.journey_id).agg(_mask=ibis._["_bit"].sum())
    o = outcome.select("journey_id", "_y")
    joined = o.left_join(masks, o.journey_id == masks._jid)
    joined = joined.mutate(mask=joined._mask.fill_null(0))
    return joined.group_by("mask").agg(n=joined.count(), k=joined._y.sum())


def examples(features: ir.Table, outcome: ir.Table, labels: Sequence[str], count: int) -> ir.Table:
    """``label`` and ``journey_id``: the ``count`` smallest ids of journeys with the feature and the
    outcome (deterministic on every engine)."""
    hit = outcome.filter(outcome._y == 1).select("journey_id")
    rows = _chosen(features, labels).semi_join(hit, "journey_id")
    ranked = rows.mutate(_rank=ibis.row_number().over(group_by="label", order_by="journey_id"))
    return ranked.filter(ranked._rank < count).select("label", "journey_id")
