"""The incremental stitch: relabel only the customers that new identifiers and links touch.

``identity.stitch`` labels every identifier; after an ingest most components are what they were.
This module takes the last build's ``customer_map`` and the rows ingested since (``ingest_seq``
at or above ``since``) and recomputes only the *touched* components:

- the touched identifiers ``T`` are the endpoints of the links the new rows make, the identifiers
  they name, and every identifier whose shared-identifier verdict changed (the one rule that
  reaches past a component: a new link can make an identifier two hops away shared and so cut
  its old component). The links of all rows are kept between builds (``stitch.LINKS``) and the
  new rows' links added; the guard counts again only the new links' ends, their neighbours and
  the identifiers shared before, over all links;
- the sub-graph is every identifier of an old customer holding a node of ``T``, plus ``T``, with
  every usable link (the guard's shared identifiers removed) that starts in it.

That sub-graph is closed: an old component is closed under the old usable links, a link the guard
now removes only cuts, and every new link has both ends in ``T``. So its components are exactly
the full stitch's components of those identifiers, labelled by the same rule (``c_`` + MD5 of
the smallest identifier), and every other row of ``customer_map`` is the full stitch's as it is.
``[identity] max_per_customer`` settles links type by type in priority order; that path is not
extended here (``model.build_plan`` stitches in full when limits are set).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.identity.stitch import (
    LINKS,
    StitchResult,
    edges_of,
    label_components,
    map_rows,
    nodes_of,
    shared_identifiers,
    shared_report,
)
from journeylens.specs.identity import SEP, IdentityRules
from journeylens.store import Store
from journeylens.store._rows import replace_rows
from journeylens.store._working import drop_scratch, scratch_table

SHARED, TOUCHED, GONE, SUB = (
    "_jl_identity_shared", "_jl_identity_inc_touched", "_jl_identity_inc_gone", "_jl_identity_inc_sub",
)  # fmt: skip
FRESH, LINKED, ADDED, COUNTED = (
    "_jl_identity_inc_fresh", "_jl_identity_inc_links", "_jl_identity_inc_added", "_jl_identity_inc_counted",
)  # fmt: skip
MOVED = "_jl_identity_inc_moved"
"""The customers whose identifiers moved (``StitchResult.moved``): kept for the journeys' update,
which drops it."""


def extend_customers(store: Store, rules: IdentityRules, since: int) -> StitchResult:
    """Update ``customer_map`` in place for the rows ingested at ``ingest_seq >= since``.

    The result equals :func:`journeylens.identity.stitch.stitch` on all the rows (see the module
    docstring); ``rounds`` counts the rounds of the touched components only, and ``moved`` holds
    both customer ids of every identifier whose customer changed: only identifiers of the
    relabelled customers can have, so both maps are compared on those alone.

    Example:
        >>> extend_customers(ws.store, ws.config.identity, since=5 << 32)  # doctest: +SKIP
    """
    if rules.max_per_customer:
        raise ValueError("max_per_customer limits need the full stitch (see model.build_plan)")
    backend = store.backend
    # Read before it is rewritten: every scratch table below that reads it is written first.
    old_map = backend.table("customer_map")
    try:
        new_rows = [store.table(n) for n in ("events", "identities", "customers")]
        new_rows = [t.filter(t.ingest_seq >= since) for t in new_rows]
        links = scratch_table(backend, LINKED, edges_of(new_rows[0], new_rows[1], rules))
        edges = _extend_links(store, links)
        old = old_map.select(
            node=old_map.identifier_type + SEP + old_map.identifier_value, c=old_map.customer_id
        )
        was_shared = old_map.filter(old_map.shared).select(
            node=old_map.identifier_type + SEP + old_map.identifier_value
        )
        shared = scratch_table(backend, SHARED, _shared_now(edges, links, was_shared, rules))
        changed = (
            shared.select("node").difference(was_shared).union(was_shared.difference(shared.select("node")))
        )
        # The neighbours of an identifier whose verdict changed gain or lose a usable link to it.
        near = edges.filter(edges.src.isin(changed.node) | edges.dst.isin(changed.node))
        verdicts = ibis.union(changed, near.select(node=near.src), near.select(node=near.dst))
        touched = scratch_table(
            backend,
            TOUCHED,
            ibis.union(
                links.select(node=links.src), links.select(node=links.dst), nodes_of(*new_rows), verdicts,
                distinct=True,
            ),
        )  # fmt: skip
        gone = scratch_table(
            backend, GONE, old.filter(old.node.isin(touched.node)).select(customer_id="c").distinct()
        )
        sub = scratch_table(
            backend,
            SUB,
            old.filter(old.c.isin(gone.customer_id)).select("node").union(touched, distinct=True),
        )
        usable = edges.filter(
            edges.src.isin(sub.node) & ~edges.src.isin(shared.node) & ~edges.dst.isin(shared.node)
        )
        components, labels = label_components(store, usable, sub)
        fresh = scratch_table(backend, FRESH, map_rows(labels, shared))
        moved = scratch_table(backend, MOVED, _moved(old.filter(old.c.isin(gone.customer_id)), fresh))
        replace_rows(backend, "customer_map", "customer_id", gone, fresh)
        return StitchResult(
            customer_map=backend.table("customer_map"),
            shared=shared_report(shared),
            rounds=components.rounds,
            moved=moved,
        )
    finally:
        drop_scratch(backend, TOUCHED, GONE, SUB, FRESH, LINKED, ADDED, COUNTED)


def _moved(old: ir.Table, fresh: ir.Table) -> ir.Table:
    """``c``, distinct: both customer ids of the identifiers whose customer differs between the
    old rows (``node``, ``c``) and the new ones (a ``customer_map`` slice). An identifier first
    seen now is not one: every row naming it is new, so its customer's stored rows are as they
    were unless another identifier moved."""
    new = fresh.select(_node=fresh.identifier_type + SEP + fresh.identifier_value, _new=fresh.customer_id)
    both = old.left_join(new, old.node == new._node)
    changed = both.filter(both._new.isnull() | (both.c != both._new))
    ids = changed.select("c").union(changed.select(c=changed._new), distinct=True)
    return ids.filter(ids.c.notnull())


def _extend_links(store: Store, links: ir.Table) -> ir.Table:
    """The stored links (``stitch.LINKS``, kept by the last build) with ``links``, those the new
    rows make, added: every link of every row, as :func:`identity_edges` finds them. Rows are
    only ever added between two incremental builds (a deletion makes the next build full), so
    the new links are all that can change. (``model.build_plan`` builds in full when the table
    is gone: a forget drops working tables.)"""
    backend = store.backend
    stored = backend.table(LINKS)
    # A stored link equal to a new one starts where it does: only those are compared, so the
    # engine hashes the few new links' sources, not every stored link.
    near = stored.filter(stored.src.isin(links.src))
    added = scratch_table(backend, ADDED, links.difference(near))
    backend.insert(LINKS, added)
    return backend.table(LINKS)


def _shared_now(edges: ir.Table, links: ir.Table, was_shared: ir.Table, rules: IdentityRules) -> ir.Table:
    """``stitch.shared_identifiers`` of all ``edges``, counted only for the nodes whose verdict
    can differ from the last build's (``was_shared``): a node's count reads its own links and its
    neighbours', so a new link (a, b) can change the counts of a, b and their neighbours. Those
    and the nodes shared before are counted again over every link; no other node can have become
    shared."""
    ends = links.select(node=links.src).union(links.select(node=links.dst))
    touching = edges.filter(edges.src.isin(ends.node) | edges.dst.isin(ends.node))
    counted = ibis.union(
        ends,
        touching.select(node=touching.src),
        touching.select(node=touching.dst),
        was_shared,
        distinct=True,
    )
    return shared_identifiers(edges, rules, only=scratch_table(edges.get_backend(), COUNTED, counted))
