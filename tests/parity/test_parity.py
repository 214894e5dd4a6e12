"""Every registered parity case on DuckDB and on PySpark (local mode): the results must agree.

The cases live in ``cases.py`` (one function per analysis); the world both engines read is built
once per session in ``conftest.py``, with the Spark input scrambled so that results depending on
storage order differ. PySpark missing is a failure, not a skip.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from parity.cases import CASES, ParityCase, differences
from parity.conftest import RAW_TABLES, ParityWorld, physical_order

pytestmark = pytest.mark.spark

SHOWN = 25


def _param(parity_case: ParityCase) -> Any:
    marks = []
    if parity_case.xfail:
        marks.append(
            pytest.mark.xfail(strict=True, raises=parity_case.xfail_raises, reason=parity_case.xfail)
        )
    return pytest.param(parity_case, id=parity_case.name, marks=marks)


@pytest.mark.parametrize("parity_case", [_param(c) for c in CASES.values()])
def test_duckdb_and_pyspark_agree(parity_case: ParityCase, parity_world: ParityWorld) -> None:
    duck = parity_case.run(parity_world.duckdb)
    assert duck, f"{parity_case.name}: the DuckDB result is empty, so the comparison would prove nothing"
    if parity_case.expect is not None:
        parity_case.expect(duck)
    spark = parity_case.run(parity_world.pyspark)
    found = differences(duck, spark, parity_case.tolerances)
    assert not found, (
        f"{parity_case.name}: PySpark differs from DuckDB in {len(found)} place(s):\n"
        + "\n".join(found[:SHOWN])
        + (f"\n... and {len(found) - SHOWN} more" if len(found) > SHOWN else "")
    )


@pytest.mark.parametrize("table", RAW_TABLES)
def test_spark_input_is_scrambled(table: str, parity_world: ParityWorld) -> None:
    """The harness bites: Spark reads the raw rows in neither ingestion order nor any sorted order."""
    seq = physical_order(parity_world.pyspark.store, table, "ingest_seq")
    assert len(seq) >= 50
    assert seq != sorted(seq) and seq != sorted(seq, reverse=True)
    spread = parity_world.pyspark.store.backend._session.table(table).inputFiles()  # type: ignore[attr-defined]
    assert len(spread) > 1, f"{table} is stored in one file: {spread}"


def test_docs_list_every_case_with_its_status() -> None:
    """docs/scale.md says exactly what is tested: one table row per case, xfails marked."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scale.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([a-z0-9_]+)` \|.*\| (pass|\*\*xfail\*\*[^|]*) \|$", doc, re.MULTILINE))
    assert sorted(listed) == sorted(CASES), "docs/scale.md: the parity table must list exactly the cases"
    for name, status in listed.items():
        assert status.startswith("**xfail**") == bool(CASES[name].xfail), f"docs/scale.md: status of {name}"
