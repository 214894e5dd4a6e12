"""Connected components in Ibis agree with networkx on random graphs, in few rounds."""

from __future__ import annotations

import math

import ibis
import networkx as nx
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.identity import connected_components

edge_lists = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 40)).map(lambda e: (f"n{e[0]:02d}", f"n{e[1]:02d}")),
    min_size=1,
    max_size=80,
)


@pytest.fixture(scope="module")
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


def _components(con: ibis.BaseBackend, edges: list[tuple[str, str]]) -> tuple[dict[str, str], int]:
    table = ibis.memtable(pa.table({"src": [a for a, _ in edges], "dst": [b for _, b in edges]}))
    result = connected_components(con, table)
    rows = con.to_pyarrow(result.labels).to_pylist()
    return {r["node"]: r["label"] for r in rows}, result.rounds


@settings(max_examples=60, deadline=None)
@given(edges=edge_lists)
def test_same_partition_as_networkx(con: ibis.BaseBackend, edges: list[tuple[str, str]]) -> None:
    labels, _ = _components(con, edges)
    graph = nx.Graph(edges)
    expected = {node: min(component) for component in nx.connected_components(graph) for node in component}
    assert labels == expected


@pytest.mark.parametrize("length", [2, 10, 200, 2000])
def test_long_chains_converge_in_logarithmic_rounds(con: ibis.BaseBackend, length: int) -> None:
    # A path is the worst case for plain label propagation (one hop per round).
    nodes = [f"v{i:05d}" for i in range(length)]
    edges = list(zip(nodes[::-1][1:], nodes[::-1][:-1], strict=True))  # smallest id at one end
    labels, rounds = _components(con, edges)
    assert set(labels.values()) == {"v00000"}
    assert rounds <= math.ceil(math.log2(length)) + 2


# --- identifier limits on random identity graphs ------------------------------------------------

_links = st.lists(
    st.tuples(
        st.integers(0, 6),  # user
        st.sampled_from(["anonymous_id", "email", "phone"]),
        st.integers(0, 8),  # identifier of that kind
    ),
    min_size=1,
    max_size=30,
)
_limits = st.fixed_dictionaries(
    {},
    optional={
        "user_id": st.integers(1, 2),
        "email": st.integers(1, 2),
        "anonymous_id": st.integers(1, 3),
    },
)


@settings(max_examples=15, deadline=None)
@given(links=_links, limits=_limits)
def test_limits_hold_and_only_split_what_unlimited_stitching_joins(
    con: ibis.BaseBackend, links: list[tuple[int, str, int]], limits: dict[str, int]
) -> None:
    from journeylens.identity.limits import limited_components

    src = [f"user_id:u{u}" for u, _, _ in links]
    dst = [f"{kind}:{kind[0]}{i}" for _, kind, i in links]
    kinds = [kind for _, kind, _ in links]
    edges = ibis.memtable(pa.table({"src": src, "dst": dst, "kind": kinds}))
    nodes = ibis.memtable(pa.table({"node": sorted(set(src) | set(dst))}))
    order = ["email", "phone", "anonymous_id"]
    result = limited_components(con, edges, nodes, order, limits)
    labels = {r["node"]: r["label"] for r in con.to_pyarrow(result.labels).to_pylist()}
    assert set(labels) == set(src) | set(dst)
    members: dict[str, list[str]] = {}
    for node, label in labels.items():
        members.setdefault(label, []).append(node)
    for group in members.values():
        for kind, limit in limits.items():
            assert sum(n.startswith(kind + ":") for n in group) <= limit, (group, limits)
    # Limits only ever keep apart what unlimited stitching would join.
    whole = {
        n: min(c) for c in nx.connected_components(nx.Graph(list(zip(src, dst, strict=True)))) for n in c
    }
    for group in members.values():
        assert len({whole[n] for n in group}) == 1
    if not limits:
        assert len(members) == len(set(whole.values()))
