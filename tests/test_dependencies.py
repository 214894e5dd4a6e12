"""The test extra stays out of the product: src/ imports none of it (pm4py and other references run
only in tests and in scripts/, e.g. the benchmark's pm4py peer)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "journeylens"


def _test_only_modules() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] for r in project["optional-dependencies"]["test"]}
    return {name.lower().replace("-", "_") for name in names}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_src_imports_test_only_packages_only_where_allowed() -> None:
    test_only = _test_only_modules()
    assert {"pm4py", "networkx", "playwright", "channelattribution"} <= test_only
    used = {
        (module, path.relative_to(SRC).as_posix())
        for path in sorted(SRC.rglob("*.py"))
        for module in {m.lower() for m in _imports(path)} & test_only
    }
    assert used == set()
