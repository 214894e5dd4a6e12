"""Connected components of an identity graph, in Ibis, in O(log diameter) rounds.

Every node starts labelled with itself. Each round does two things, both as joins and
aggregations in the engine:

1. **hooking** — a node takes the smallest label among its own and its neighbours' labels, and
   the root of its tree (its old label) takes the smallest label any of its members found, so
   whole trees merge at once (as in Shiloach-Vishkin);
2. **pointer jumping** — a node takes the label of its label (``L(v) = L(L(v))``), which halves
   the length of label chains, so labels travel exponentially far instead of one hop per round.

The loop stops when a round changes no label; the label of a component is then its smallest
node, which makes component ids deterministic and independent of row order. Each round is
materialised as a table so that query plans stay small on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeylens.store._working import scratch_table

MAX_ROUNDS = 64  # 2^64 is far beyond any graph diameter; reaching this means a bug


@dataclass(frozen=True)
class Components:
    """``labels`` maps every node to its component (the component's smallest node)."""

    labels: ir.Table
    rounds: int


def connected_components(
    backend: BaseBackend, edges: ir.Table, *, src: str = "src", dst: str = "dst", prefix: str = "_jl_cc"
) -> Components:
    """Label every node of the undirected graph ``edges`` with the smallest node of its component.

    Nodes may be strings or integers (both endpoint columns of one type).

    Example:
        >>> import ibis, pyarrow as pa
        >>> con = ibis.duckdb.connect()
        >>> edges = ibis.memtable(pa.table({"src": ["b", "c", "x"], "dst": ["a", "b", "y"]}))
        >>> result = connected_components(con, edges)
        >>> sorted(map(tuple, con.to_pyarrow(result.labels).to_pylist()))  # doctest: +SKIP
    """
    pairs = edges.select(a=edges[src], b=edges[dst]).filter(lambda t: t.a.notnull() & t.b.notnull())
    both = pairs.union(pairs.select(a=pairs.b, b=pairs.a), distinct=True)
    both = scratch_table(backend, f"{prefix}_edges", both)
    nodes = both.select(node=both.a).distinct()
    labels = scratch_table(backend, f"{prefix}_labels_0", nodes.mutate(label=nodes.node))
    for round_no in range(1, MAX_ROUNDS + 1):
        hooked = scratch_table(backend, f"{prefix}_hooked", _hook(both, labels))
        updated = scratch_table(backend, f"{prefix}_labels_{round_no % 2}", _jump(hooked))
        changed = _changed(backend, labels, updated)
        labels = updated
        if not changed:
            return Components(labels=labels, rounds=round_no)
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")


def _hook(edges: ir.Table, labels: ir.Table) -> ir.Table:
    """Hooking: of every node to its best neighbour label, and of whole trees via their root."""
    neighbour = edges.join(labels, edges.b == labels.node).select(node=edges.a, label=labels.label)
    own = labels.select("node", "label")
    hooked = own.union(neighbour).group_by("node").agg(best=lambda t: t.label.min())
    # A node's old label (the root of its tree) adopts the best label any member found, so whole
    # trees merge at once instead of one node at a time.
    members = own.join(hooked, "node")
    root_best = members.group_by(root=members.label).agg(best=lambda t: t.best.min())
    return members.join(root_best, members.label == root_best.root, how="left").select(
        node=members.node, label=ibis.least(members.best, root_best.best.fill_null(members.best))
    )


def _jump(labels: ir.Table) -> ir.Table:
    """Pointer jumping: every node takes the label of its label."""
    parent = labels.view()
    return labels.join(parent, labels.label == parent.node, how="left").select(
        node=labels.node, label=ibis.least(labels.label, parent.label.fill_null(labels.label))
    )


def _changed(backend: BaseBackend, before: ir.Table, after: ir.Table) -> int:
    joined = before.join(after, before.node == after.node).filter(before.label != after.label)
    return int(backend.to_pyarrow(joined.count()).as_py())
