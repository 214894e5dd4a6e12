"""``journeylens export``: files written atomically, standard output for pipes, Parquet refused there.

The help-desk log (real, 4,580 tickets) is the data: every export is checked against the engine's
own counts, and the XES written to a pipe is read back by pm4py.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from journeylens import Workspace
from journeylens.model import build_model

pytestmark = pytest.mark.realdata

Run = Callable[..., Any]


@pytest.fixture
def helpdesk(workspace: Workspace, shared_file: Callable[[str], Path]) -> Path:
    log = shared_file("process-logs/helpdesk.xes.gz")
    workspace.ingest(paths=[str(log)], mapping={"user_id": "customer"})
    build_model(workspace.store, workspace.config)
    root = workspace.root
    workspace.close()
    return root


def _customer_map_size(root: Path) -> tuple[int, int]:
    ws = Workspace.open(root)
    try:
        cmap = ws.store.backend.table("customer_map")
        counts = ws.store.execute(cmap.aggregate(rows=cmap.count(), customers=cmap.customer_id.nunique()))
        return counts["rows"][0].as_py(), counts["customers"][0].as_py()
    finally:
        ws.close()


def test_customer_map_to_stdout_by_default(helpdesk: Path, run_journeylens: Run) -> None:
    rows, customers = _customer_map_size(helpdesk)
    for args in ([], ["--out", "-"]):
        done = run_journeylens(["export", "customer-map", *args, "-w", helpdesk])
        assert done.returncode == 0, done.stderr
        read = list(csv.DictReader(io.StringIO(done.stdout)))
        assert len(read) == rows and len({r["customer_id"] for r in read}) == customers
        assert set(read[0]) == {"identifier_type", "identifier_value", "customer_id", "shared"}
        assert f"{rows:,} rows written to standard output" in done.stderr


def test_customer_map_json_is_one_valid_array(helpdesk: Path, run_journeylens: Run) -> None:
    rows, _ = _customer_map_size(helpdesk)
    done = run_journeylens(["export", "customer-map", "--format", "json", "-w", helpdesk])
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert len(records) == rows and all(r["customer_id"].startswith("c_") for r in records)


def test_customer_map_files_and_parquet(helpdesk: Path, tmp_path: Path, run_journeylens: Run) -> None:
    rows, _ = _customer_map_size(helpdesk)
    out = tmp_path / "sub" / "cm.parquet"
    done = run_journeylens(["export", "customer-map", "--out", out, "--format", "parquet", "-w", helpdesk])
    assert done.returncode == 0, done.stderr
    assert pq.read_table(out).num_rows == rows
    assert not list(out.parent.glob(".*partial"))  # written beside, renamed when complete


def test_parquet_to_stdout_is_refused_with_a_hint(helpdesk: Path, run_journeylens: Run) -> None:
    done = run_journeylens(["export", "customer-map", "--format", "parquet", "-w", helpdesk])
    assert done.returncode == 2 and done.stdout == ""
    assert "standard output" in done.stderr and "--out FILE.parquet" in done.stderr


def test_unknown_export_format_lists_the_choices(helpdesk: Path, run_journeylens: Run) -> None:
    done = run_journeylens(["export", "customer-map", "--format", "xlsx", "-w", helpdesk])
    assert done.returncode == 2
    assert "csv" in done.stderr and "parquet" in done.stderr and "json" in done.stderr


def test_xes_to_a_pipe_reads_back_in_pm4py(helpdesk: Path, tmp_path: Path) -> None:
    """export_xes with no path writes the log to standard output; pm4py reads the same traces."""
    import contextlib

    import pm4py

    from journeylens.discovery import export_xes

    ws = Workspace.open(helpdesk)
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            written = export_xes(ws.store, None, "-")
    finally:
        ws.close()
    assert written.path is None and written.traces == 4580 and written.events == 21348
    path = tmp_path / "piped.xes"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    log = pm4py.read_xes(str(path), return_legacy_log_object=False)
    assert log["case:concept:name"].nunique() == 4580 and len(log) == 21348


def test_export_xes_command_writes_to_stdout(helpdesk: Path, run_journeylens: Run) -> None:
    done = run_journeylens(["export", "xes", "--outcome", "open", "-w", helpdesk])
    if done.returncode == 2:  # no open journeys in this log: nothing may reach the pipe
        assert "No journeys match" in done.stderr and done.stdout == ""
    piped = run_journeylens(["export", "xes", "-", "-w", helpdesk])
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("<?xml") and piped.stdout.rstrip().endswith("</log>")
    assert piped.stdout.count("<trace>") == 4580
    assert "4,580 traces, 21,348 events written to standard output" in piped.stderr


def test_export_xes_refuses_a_summary_format_on_its_own_pipe(helpdesk: Path, run_journeylens: Run) -> None:
    done = run_journeylens(["export", "xes", "-f", "json", "-w", helpdesk])
    assert done.returncode == 2 and done.stdout == ""
    assert "--format json" in done.stderr and "Name a file" in done.stderr


def test_a_reader_that_goes_away_ends_the_export_quietly(helpdesk: Path) -> None:
    """`journeylens export xes | head`: the reader closes the pipe; the export stops at once with
    status 1 and no traceback (Click's handling of EPIPE, which the entry point leaves in place)."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "journeylens", "export", "xes", "-w", str(helpdesk)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100).startswith(b"<?xml")
    proc.stdout.close()  # about 3 MB of XES are still to come: the next writes hit a closed pipe
    code = proc.wait(timeout=120)
    stderr = proc.stderr.read().decode()
    assert code == 1 and "Traceback" not in stderr and "Error" not in stderr, stderr


def test_customer_map_export_is_never_stale(helpdesk: Path, tmp_path: Path, run_journeylens: Run) -> None:
    """A new customer ingested after the build is in the next export (the model is rebuilt first);
    with --no-build the stale map is refused, not exported."""
    extra = tmp_path / "new.csv"
    extra.write_text(
        "user_id,timestamp,channel,touchpoint\nbrand-new,2024-01-01T10:00:00Z,web,home\n", encoding="utf-8"
    )
    assert run_journeylens(["ingest", extra, "-w", helpdesk]).returncode == 0
    refused = run_journeylens(["export", "customer-map", "--no-build", "-w", helpdesk])
    assert refused.returncode == 2 and refused.stdout == "" and "journeylens build" in refused.stderr
    done = run_journeylens(["export", "customer-map", "-w", helpdesk])
    assert done.returncode == 0, done.stderr
    assert "Building customers and journeys" in done.stderr
    assert any(r["identifier_value"] == "brand-new" for r in csv.DictReader(io.StringIO(done.stdout)))
