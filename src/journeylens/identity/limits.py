"""Identifier limits: how many identifiers of a type one customer may have, settled by priority.

``[identity] max_per_customer`` caps identifier types (``user_id = 1``: one login per person;
``email = 3``). Links are added one identifier type at a time, highest ``priority`` first, the way
a profile store settles merges as events arrive: higher-priority identifiers have already shaped
the customers when a lower-priority link is considered. Within one type's round:

1. the links of that type are tried all together; customers that would stay within every limit
   take them;
2. where a would-be customer breaks a limit, the identifiers of this type that **bridge** two
   existing customers are not used (there is no fair winner between the customers they join);
3. a customer that still ends with more identifiers of this type than allowed keeps the ones it
   already had, then the smallest values, and leaves the rest unlinked.

Identifiers left unlinked keep a customer of their own and are reported with their reason, like
shared identifiers. Rounds are a handful of Ibis connected-component runs (one or two per
identifier type), never a loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeylens.identity.components import connected_components
from journeylens.store._working import scratch_table

SEP = ":"


@dataclass(frozen=True)
class LimitedComponents:
    labels: ir.Table
    """node, label"""
    unlinked: ir.Table
    """node, reason ("limit:<type>")"""
    rounds: int


def _type(node: ir.StringValue) -> ir.StringValue:
    return node.split(SEP)[0]


def _components(backend: BaseBackend, edges: ir.Table, nodes: ir.Table, name: str) -> tuple[ir.Table, int]:
    graph = edges.select("src", "dst").union(nodes.select(src=nodes.node, dst=nodes.node))
    result = connected_components(backend, graph, prefix="_jl_identity_lim_cc")
    return scratch_table(backend, name, result.labels.select("node", "label")), result.rounds


def _over_limit(labels: ir.Table, limits: dict[str, int]) -> ir.Table:
    """Labels of components holding more identifiers of a limited type than allowed."""
    typed = labels.mutate(kind=_type(labels.node)).filter(lambda t: t.kind.isin(list(limits)))
    counts = typed.group_by(["label", "kind"]).agg(n=typed.count())
    limit = ibis.cases(*((counts.kind == k, v) for k, v in limits.items()), else_=None)
    return counts.filter(counts.n > limit).select("label").distinct()


def limited_components(
    backend: BaseBackend,
    edges: ir.Table,
    nodes: ir.Table,
    order: list[str],
    limits: dict[str, int],
) -> LimitedComponents:
    """Components of ``edges`` (src, dst, kind) over ``nodes`` with the limits applied.

    ``order`` lists the link kinds, highest priority first; ``limits`` caps identifier types.
    """
    if not limits:
        labels, rounds = _components(backend, edges, nodes, "_jl_identity_lim_base")
        none = nodes.select("node", reason=ibis.literal("")).filter(ibis.literal(False))
        return LimitedComponents(labels=labels, unlinked=none, rounds=rounds)
    accepted = edges.filter(ibis.literal(False))
    labels, rounds = _components(backend, accepted, nodes, "_jl_identity_lim_base")
    unlinked_parts: list[ir.Table] = []
    for i, kind in enumerate(order):
        mine = edges.filter(edges.kind == kind)
        trial = accepted.union(mine)
        tentative, n = _components(backend, trial, nodes, f"_jl_identity_lim_trial_{i}")
        rounds += n
        bad = _over_limit(tentative, limits)
        if int(backend.to_pyarrow(bad.count()).as_py()) == 0:
            accepted = scratch_table(backend, f"_jl_identity_lim_acc_{i}", trial)
            labels = tentative
            continue
        kept, rejected = _settle(backend, mine, labels, tentative, bad, kind, limits, i)
        unlinked_parts.append(rejected.mutate(reason=ibis.literal(f"limit:{kind}")))
        accepted = scratch_table(backend, f"_jl_identity_lim_acc_{i}", accepted.union(kept))
        labels, n = _components(backend, accepted, nodes, f"_jl_identity_lim_base_{i}")
        rounds += n
    if unlinked_parts:
        unlinked = ibis.union(*unlinked_parts, distinct=True)
    else:
        unlinked = nodes.select("node", reason=ibis.literal("")).filter(ibis.literal(False))
    return LimitedComponents(labels=labels, unlinked=unlinked, rounds=rounds)


def _settle(
    backend: BaseBackend,
    mine: ir.Table,
    base: ir.Table,
    tentative: ir.Table,
    bad: ir.Table,
    kind: str,
    limits: dict[str, int],
    i: int,
) -> tuple[ir.Table, ir.Table]:
    """The links of ``kind`` that may be used, and the identifiers of ``kind`` left unlinked."""
    # Which endpoint is the identifier of this kind (event links: the device; identities rows:
    # the e-mail, phone, CRM id...); the other endpoint is what it would join.
    src_is = _type(mine.src) == kind
    links = mine.mutate(
        ident=ibis.cases((src_is, mine.src), else_=mine.dst),
        other=ibis.cases((src_is, mine.dst), else_=mine.src),
    )
    b_ident, b_other, t = base.view(), base.view(), tentative.view()
    joined = (
        links.join(b_ident, links.ident == b_ident.node)
        .join(b_other, links.other == b_other.node)
        .join(t, links.ident == t.node)
    )
    reach = joined.select(
        ident=links.ident, own=b_ident.label, reached=b_other.label, trial=t.label, src=links.src,
        dst=links.dst, kind=links.kind,
    )  # fmt: skip
    reach = scratch_table(backend, f"_jl_identity_lim_reach_{i}", reach)
    # An identifier bridges when it would join two customers that exist already (its own counts
    # when higher-priority links already tied it to something).
    sizes = base.group_by("label").agg(size=base.count())
    tied = reach.join(sizes, reach.own == sizes.label).filter(lambda t: t.size > 1)
    spans = tied.select(ident=tied.ident, label=tied.own).union(
        reach.select(ident=reach.ident, label=reach.reached), distinct=True
    )
    bridges = spans.group_by("ident").agg(n=spans.count()).filter(lambda s: s.n > 1).select("ident")
    in_bad = reach.trial.isin(bad.label)
    bridge_rejects = reach.filter(in_bad & reach.ident.isin(bridges.ident)).select("ident").distinct()
    survivors = reach.filter(~reach.ident.isin(bridge_rejects.ident))
    if kind in limits:
        # One customer per surviving identifier now: the one it reaches (or its own).
        target = survivors.group_by("ident").agg(label=survivors.reached.min(), own=survivors.own.min())
        attached = base.join(sizes.filter(sizes.size > 1), "label")
        had = attached.filter(_type(attached.node) == kind).select(ident=attached.node, label=attached.label)
        had = had.mutate(fresh=ibis.literal(1))
        new = target.select(target.ident, target.label, fresh=ibis.literal(2))
        pool = had.union(new.anti_join(had, "ident"))
        rank = ibis.row_number().over(group_by=pool.label, order_by=[pool.fresh, pool.ident])
        excess = pool.mutate(rank=rank).filter(lambda p: (p.rank >= limits[kind]) & (p.fresh == 2))
        extra_rejects = excess.select("ident")
    else:
        extra_rejects = bridge_rejects.filter(ibis.literal(False))
    rejected = scratch_table(
        backend, f"_jl_identity_lim_rej_{i}", bridge_rejects.union(extra_rejects, distinct=True)
    )
    kept = reach.filter(~reach.ident.isin(rejected.ident)).select("src", "dst", "kind")
    return kept, rejected.select(node=rejected.ident)
