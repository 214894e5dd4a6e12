"""The README's notebook example runs as written, on a small synthetic workspace."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import journeylens as jl
from journeylens.synth import generate_world

README = Path(__file__).resolve().parents[1] / "README.md"
TABLES = ("customers", "identities", "events", "feedback", "assignments")


def notebook_block() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return next(b for b in blocks if "ws.funnel(" in b)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``journeylens-demo``, as the demo makes it, from 300 synthetic customers (nothing built yet)."""
    root = tmp_path_factory.mktemp("readme")
    data = root / "data"
    generate_world(data, customers=300, seed=7)
    ws = jl.Workspace.init(root / "journeylens-demo", timezone="UTC")
    ws.config.privacy.default_country_code = "31"
    for table in TABLES:
        ws.ingest(paths=[str(data / table)], table=table)
    ws.close()
    yield root


def _non_empty(value: Any) -> bool:
    if isinstance(value, pd.DataFrame):
        return not value.empty
    if isinstance(value, pa.Table):
        return value.num_rows > 0
    if hasattr(value, "data"):  # a plotly figure: at least one trace with points
        return len(value.data) > 0
    return bool(value)


def test_readme_notebook_example_runs(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import plotly.graph_objects as go

    monkeypatch.chdir(demo_dir)
    tree = ast.parse(notebook_block())
    scope: dict[str, Any] = {}
    results = []
    for node in tree.body:
        if isinstance(node, ast.Expr):
            code = compile(ast.Expression(node.value), "README.md", "eval")
            results.append((ast.unparse(node.value), eval(code, scope)))
        else:
            exec(compile(ast.Module([node], []), "README.md", "exec"), scope)
    assert len(results) == 8
    for text, value in results:
        assert _non_empty(value), text
    kinds = [type(v) for _, v in results]
    assert kinds[0] is go.Figure and kinds[1] is go.Figure and kinds[3] is go.Figure
    assert all(k is pd.DataFrame for k in kinds[2:3] + kinds[4:7])
    assert isinstance(results[7][1], list) and results[7][1][0]["timestamp"] is not None


def _named(fields: tuple[str, ...]) -> set[str]:
    """Top-level names of a documented JSON_FIELDS list ("totals (object: ...)" -> "totals")."""
    names: set[str] = set()
    for entry in fields:
        head = entry.split(" (", 1)[0]
        names.update(part.strip() for chunk in head.split(",") for part in chunk.split(" or "))
    return names


def _records_of(fields: tuple[str, ...]) -> dict[str, set[str]]:
    """Documented record fields per part, where the list is literal (no <templates> or ...)."""
    parts: dict[str, set[str]] = {}
    for entry in fields:
        head, _, rest = entry.partition(" (records: ")
        if rest and "<" not in rest and "..." not in rest:
            inner = rest.removesuffix(")").split(";")[0].replace(" (list of activities)", "")
            parts[head] = {f.strip() for f in inner.split(",") if not f.strip().startswith("[")}
    return parts


def _demo_map(folder: Path) -> Path:
    """The demo's designed purchase map, as a file (this workspace has no maps/ of its own)."""
    from journeylens.maps._demo_maps import DEMO_MAPS

    path = folder / "purchase.yaml"
    path.write_text(DEMO_MAPS["purchase"], encoding="utf-8")
    return path


def _check_map(folder: Path) -> str:
    """A purchase map of the demo's touchpoints, with every part the JSON lists (a rule, a target,
    a KPI)."""
    path = folder / "purchase.yaml"
    path.write_text(
        "journey_type: purchase\ngoal: Buy without help\nstages:\n"
        "  - {name: discover, touchpoints: [home, product_page], time_target: {duration: 30m},\n"
        "     kpis: [{metric: conversion, min: 0.3}]}\n"
        "  - {name: pay, touchpoints: [checkout, payment]}\n"
        "  - {name: confirm, touchpoints: [order_confirmation]}\n"
        "unplanned: [{name: cart, touchpoints: [add_to_cart]}]\n"
        "rules: [{rule: chain_response, first: checkout, then: payment}]\n",
        encoding="utf-8",
    )
    return str(path)


def test_documented_json_fields_are_what_the_results_write(demo_dir: Path, tmp_path: Path) -> None:
    """docs/cli.md lists each analysis's JSON from its result type's JSON_FIELDS: those names must
    be the keys the result really writes (top level, and the fields of its record lists)."""
    from journeylens.analyses import ANALYSES, load

    values: dict[str, dict[str, Any]] = {
        "funnel": {"steps": ["product_page", "checkout"]},
        "customer": {"key": "u00000042"},
        "export xes": {"out": str(tmp_path / "log.xes")},
        "map draft": {"type": "purchase"},
        "segments": {},
        "map monitor": {"map": str(tmp_path / "purchase.yaml")},
        "map show": {"map": str(_demo_map(tmp_path)), "format": "json"},
        "map check": {"map": _check_map(tmp_path)},
        "experiment": {"name": "checkout_redesign"},
    }
    (tmp_path / "purchase.yaml").write_text(
        "journey_type: purchase\ngoal: buy\nstages:\n  - {name: buy, touchpoints: [checkout]}\n"
    )
    ws = jl.Workspace.open(demo_dir / "journeylens-demo")
    try:
        for name, analysis in ANALYSES.items():
            result = ws.analysis(name, values.get(name, {}))
            documented = load(analysis.result).JSON_FIELDS
            part = getattr(result, analysis.json)
            written = part() if callable(part) else part
            names = _named(documented)
            if isinstance(written, list):  # records (journeys summary): the names are their fields
                literal = _named(tuple(f for f in documented if "<" not in f))
                assert literal <= set(written[0]), (name, literal - set(written[0]))
                continue
            optional = {"cohort", "periods", "reference_date"}  # segments: one of two shapes
            assert set(written) <= names | optional, (name, set(written) - names)
            assert not names - set(written) - optional, (name, names - set(written))
            for part, fields in _records_of(documented).items():
                rows = written.get(part) or []
                if rows:
                    extra = {k for k in rows[0] if k not in ("segment", "variant", "channel")}
                    assert extra <= fields, (name, part, extra - fields)
                    assert fields <= set(rows[0]), (name, part, fields - set(rows[0]))
    finally:
        ws.close()
