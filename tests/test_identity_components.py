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
