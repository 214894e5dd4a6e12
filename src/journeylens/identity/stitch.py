"""Identity stitching: who is the customer behind every identifier.

The identity graph has a node per identifier (``user_id:u1``, ``anonymous_id:dev9``,
``email:<hash>``, ``crm_id:C42``) and an edge per observed link: an event carrying both a user id
and an anonymous id, or a row of the ``identities`` table. Before the components are computed, the
**shared-identifier guard** removes identifiers that link more known customers than allowed — a
family tablet, a store kiosk, a call centre's default number — so they cannot merge those
customers; they are reported and keep a customer id of their own.

Customer ids are ``c_`` + MD5 of the component's smallest node: deterministic, and unchanged by
re-runs on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from journeylens.identity.components import Components, connected_components
from journeylens.identity.limits import limited_components
from journeylens.specs.identity import ANONYMOUS, SEP, USER, IdentityRules
from journeylens.store import Store
from journeylens.store._backend import hash64
from journeylens.store._working import scratch_table

LINKS = "_jl_identity_links"
"""Every link of every row (``identity_edges``), kept between builds for ``identity.extend``."""


@dataclass(frozen=True)
class StitchResult:
    customer_map: ir.Table
    """identifier_type, identifier_value, customer_id, shared."""
    shared: ir.Table
    """identifier_type, identifier_value, customers (known customers it linked), reason: ``shared``
    (the shared-identifier guard) or ``limit:<type>`` (left unlinked by max_per_customer)."""
    rounds: int
    moved: ir.Table | None = None
    """``c``: the customer ids, before and after, of every identifier whose customer changed
    (``identity.extend``; None after a full stitch, which does not compare)."""


def _node(kind: ir.StringValue | str, value: ir.StringValue) -> ir.StringValue:
    return ibis.literal(kind) + SEP + value if isinstance(kind, str) else kind + SEP + value


def identity_edges(store: Store, rules: IdentityRules) -> ir.Table:
    """Every observed link between two identifiers: (src, dst) node pairs and the link's ``kind``
    (the identifier type that makes the link: ``anonymous_id`` for a login seen on a device)."""
    return edges_of(store.table("events"), store.table("identities"), rules)


def edges_of(events: ir.Table, ids: ir.Table, rules: IdentityRules) -> ir.Table:
    """The links that rows of ``events`` and ``identities`` (all of them, or some) make."""
    seen = events.filter(events.user_id.notnull() & events.anonymous_id.notnull())
    from_events = seen.select(
        src=_node(USER, seen.user_id), dst=_node(ANONYMOUS, seen.anonymous_id), kind=ibis.literal(ANONYMOUS)
    )
    ids = ids.filter(rules.may_link(ids.identifier_type))
    owner = ibis.cases(
        (ids.user_id.notnull(), _node(USER, ids.user_id)),
        else_=_node(ANONYMOUS, ids.anonymous_id),
    )
    from_identities = ids.select(
        src=_node(ids.identifier_type, ids.identifier_value), dst=owner, kind=ids.identifier_type
    )
    return from_events.union(from_identities, distinct=True)


def all_nodes(store: Store) -> ir.Table:
    """Every identifier known to the store, linked or not."""
    return nodes_of(store.table("events"), store.table("identities"), store.table("customers"))


def nodes_of(events: ir.Table, ids: ir.Table, customers: ir.Table) -> ir.Table:
    """The identifiers that rows of ``events``, ``identities`` and ``customers`` name."""
    parts = [
        events.filter(events.user_id.notnull()).select(node=_node(USER, events.user_id)),
        events.filter(events.anonymous_id.notnull()).select(node=_node(ANONYMOUS, events.anonymous_id)),
        ids.select(node=_node(ids.identifier_type, ids.identifier_value)),
        ids.filter(ids.user_id.notnull()).select(node=_node(USER, ids.user_id)),
        ids.filter(ids.anonymous_id.notnull()).select(node=_node(ANONYMOUS, ids.anonymous_id)),
        customers.select(node=_node(USER, customers.user_id)),
    ]
    return ibis.union(*parts, distinct=True)


def shared_identifiers(edges: ir.Table, rules: IdentityRules, *, only: ir.Table | None = None) -> ir.Table:
    """Non-customer nodes that reach more known customers than the rules allow (``node``,
    ``customers``); of the nodes ``only`` (``node``) holds, when given.

    A node reaches a customer directly (a login on a device, a CRM e-mail) or through one other
    identifier (a device identified with an e-mail that belongs to someone else). The second case
    is how households leak into each other: one member logs in on the family tablet while the
    tablet was identified with the partner's e-mail.
    """
    users_prefix = USER + SEP
    pairs = edges.select("src", "dst")
    both = pairs.union(pairs.select(src=pairs.dst, dst=pairs.src))
    is_user = both.dst.startswith(users_prefix)
    from_node = ~both.src.startswith(users_prefix)
    direct = both.filter(from_node & is_user).select(node=both.src, customer=both.dst)
    hop = both.filter(from_node & ~is_user).select(node=both.src, via=both.dst)
    if only is not None:
        # The counted nodes' own links, and their neighbours' links to customers: only those
        # neighbours' are read, so the engine hashes them rather than every node's.
        hop = hop.filter(hop.node.isin(only.node))
        direct, near = direct.filter(direct.node.isin(only.node)), direct.filter(direct.node.isin(hop.via))
    else:
        near = direct
    via_other = hop.join(near, hop.via == near.node).select(node=hop.node, customer=near.customer)
    reach = direct.union(via_other)
    counts = reach.group_by("node").agg(customers=reach.customer.nunique())
    return counts.filter(counts.customers > rules.max_customers_per_identifier)


def stitch(store: Store, rules: IdentityRules | None = None) -> StitchResult:
    """Build ``customer_map`` in the store and return it with the shared identifiers.

    Example:
        >>> result = stitch(workspace.store)  # doctest: +SKIP
        >>> result.customer_map.count().execute()  # doctest: +SKIP
    """
    rules = rules or IdentityRules()
    backend = store.backend
    # Kept for the next build: the incremental stitch (identity.extend) adds the new rows' links.
    edges = scratch_table(backend, LINKS, identity_edges(store, rules), large=True)
    shared = scratch_table(backend, "_jl_identity_shared", shared_identifiers(edges, rules))
    usable = edges.filter(~edges.src.isin(shared.node) & ~edges.dst.isin(shared.node))
    nodes = scratch_table(backend, "_jl_identity_nodes", all_nodes(store))
    if rules.max_per_customer:
        kinds = store.execute(usable.select("kind").distinct()).column(0).to_pylist()
        limited = limited_components(
            backend, usable, nodes, rules.link_order([str(k) for k in kinds]), rules.max_per_customer
        )
        node_labels, rounds = limited.labels, limited.rounds
        unlinked = limited.unlinked
    else:
        components, node_labels = label_components(store, usable, nodes)
        rounds = components.rounds
        unlinked = None
    customer_map = backend.create_table("customer_map", map_rows(node_labels, shared), overwrite=True)
    report = shared_report(shared)
    if unlinked is not None:
        report = report.union(
            unlinked.select(
                identifier_type=unlinked.node.split(SEP)[0],
                identifier_value=unlinked.node.substr(unlinked.node.find(SEP) + 1),
                customers=ibis.null("int64"),
                reason=unlinked.reason,
            )
        )
    return StitchResult(customer_map=customer_map, shared=report, rounds=rounds)


def map_rows(node_labels: ir.Table, shared: ir.Table) -> ir.Table:
    """``customer_map`` rows of labelled nodes (node, label): every node of a component gets the
    customer id of the component; ``shared`` nodes (the guard's) are flagged."""
    # The customer is named after the smallest identifier string of its component, so ids do not
    # depend on the engine's hash function or on how components were labelled internally.
    reps = node_labels.group_by("label").agg(rep=node_labels.node.min())
    labelled = node_labels.join(reps, "label")
    return labelled.select(
        identifier_type=labelled.node.split(SEP)[0],
        identifier_value=labelled.node.substr(labelled.node.find(SEP) + 1),
        customer_id="c_" + labelled.rep.hexdigest("md5").substr(0, 16),
        shared=labelled.node.isin(shared.node),
    )


def shared_report(shared: ir.Table) -> ir.Table:
    """The guard's shared identifiers as rows of :attr:`StitchResult.shared`."""
    return shared.select(
        identifier_type=shared.node.split(SEP)[0],
        identifier_value=shared.node.substr(shared.node.find(SEP) + 1),
        customers=shared.customers,
        reason=ibis.literal("shared"),
    )


def label_components(store: Store, usable: ir.Table, nodes: ir.Table) -> tuple[Components, ir.Table]:
    """Components of ``nodes`` (``node``) linked by ``usable`` (``src``, ``dst``: links between
    them), over 64-bit node ids where the engine can hash (joins on integers are several times
    cheaper than on identifier strings), else over the strings. Returns (node, label)."""
    backend = store.backend
    key = hash64(backend, nodes.node)
    if key is not None:
        ids = scratch_table(backend, "_jl_identity_ids", nodes.mutate(id=key))
        counts = store.execute(ids.aggregate(nodes=ids.count(), ids=ids.id.nunique())).to_pylist()[0]
        if counts["nodes"] == counts["ids"]:  # no two identifiers share a hash
            src, dst = ids.view(), ids.view()
            int_edges = usable.join(src, usable.src == src.node).join(dst, usable.dst == dst.node)
            graph = int_edges.select(src=src.id, dst=dst.id).union(ids.select(src=ids.id, dst=ids.id))
            result = connected_components(backend, graph, prefix="_jl_identity_cc")
            labels = result.labels.join(ids, result.labels.node == ids.id)
            return result, labels.select(node=ids.node, label=result.labels.label)
    # Self-edges keep isolated and shared identifiers in the result as customers of their own.
    graph = usable.select("src", "dst").union(nodes.select(src=nodes.node, dst=nodes.node))
    result = connected_components(backend, graph, prefix="_jl_identity_cc")
    return result, result.labels.select("node", "label")


def events_with_customers(store: Store) -> ir.Table:
    """Every event with its ``customer_id``: by user id where known, else by anonymous id.

    Needs ``customer_map`` (run :func:`stitch` first).
    """
    return with_customers(store, "events")


def with_customers(store: Store, name: str) -> ir.Table:
    """Every row of raw table ``name`` (``events``, ``feedback``: tables with ``user_id`` and
    ``anonymous_id``) with its ``customer_id``, by user id where known, else by anonymous id."""
    return attach_customers(store.table(name), store.backend.table("customer_map"))


def attach_customers(events: ir.Table, cmap: ir.Table) -> ir.Table:
    """``events`` (any rows with ``user_id`` and ``anonymous_id``) with the ``customer_id`` that
    ``cmap`` (a customer_map) gives them: by user id where known, else by anonymous id."""
    by_user = cmap.filter(cmap.identifier_type == USER).select(
        _user=cmap.identifier_value, _by_user=cmap.customer_id
    )
    by_anon = cmap.filter(cmap.identifier_type == ANONYMOUS).select(
        _anon=cmap.identifier_value, _by_anon=cmap.customer_id
    )
    joined = events.left_join(by_user, events.user_id == by_user._user).left_join(
        by_anon, events.anonymous_id == by_anon._anon
    )
    return joined.select(*events.columns, customer_id=ibis.coalesce(joined._by_user, joined._by_anon))
