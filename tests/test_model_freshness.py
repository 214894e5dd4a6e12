"""Analyses keep the model fresh: they build customers and journeys when (and only when) needed.

Stories as a user lives them: ingest, analyse (builds), analyse again (nothing to do), ingest more
(stale, and the reason names the ingest), re-ingest a file (still fresh), edit the journey rules
(stale), refuse with ``build=False``, and a build killed with ``kill -9`` half-way.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import EVENT_HEADER, customer, journeys, table_rows, write_csv
from journeylens import ConfigError, JourneyLensError, NotFoundError, Workspace
from journeylens.config import CONFIG_FILE
from journeylens.identity import stitch
from journeylens.journeys import build_journeys
from journeylens.model import (
    MODEL_VERSION,
    BuildSummary,
    StaleModelError,
    Staleness,
    build_model,
    model_state,
)
from journeylens.synth import generate_world

FIRST = {
    "ann": [("web", "product_page"), ("web", "checkout"), ("web", "order_confirmation")],
    "bob": [("web", "billing_faq"), ("call_center", "billing_call", {"agent_id": "a7"})],
}
BUILDING = "Building customers and journeys: "


def _notices() -> tuple[list[str], Callable[[str], None]]:
    lines: list[str] = []
    return lines, lines.append


def _journey_count(ws: Workspace) -> int:
    return int(ws.store.execute(ws.store.backend.table("journeys").count()).as_py())


def test_analyses_build_once_then_only_after_ingests_that_loaded_rows(
    workspace: Workspace, tmp_path: Path
) -> None:
    first = write_csv(tmp_path, "first.csv", journeys(FIRST), EVENT_HEADER)
    workspace.ingest(paths=[str(first)])
    assert model_state(workspace.store, workspace.config).reasons == (Staleness.NEVER_BUILT,)

    lines, notice = _notices()
    built = workspace.ensure_model(notice=notice)
    assert isinstance(built, BuildSummary) and built.customers == 2 and built.journeys == 2
    assert lines == [BUILDING + "they have not been built yet."]

    # Fresh: nothing is built and nothing is said.
    assert workspace.ensure_model(notice=notice) is None
    assert len(lines) == 1
    state = model_state(workspace.store, workspace.config)
    assert state.fresh and state.last_build == 1

    more = write_csv(
        tmp_path, "more.csv", customer("cid", [("app", "product_page"), ("app", "checkout")]), EVENT_HEADER
    )
    workspace.ingest(paths=[str(more)])
    state = model_state(workspace.store, workspace.config)
    assert state.reasons == (Staleness.NEW_DATA,) and state.new_ingests == {"events": 1}
    rebuilt = workspace.ensure_model(notice=notice)
    assert rebuilt is not None and rebuilt.customers == 3 and _journey_count(workspace) == 3
    assert lines[1:] == [BUILDING + "1 ingest (events) since the last build."]

    # The same file again loads nothing (only duplicates); a file of bad records only quarantines.
    (again,) = workspace.ingest(paths=[str(first)])
    assert (again.loaded, again.duplicates) == (0, 5)
    bad = write_csv(tmp_path, "bad.csv", [{"user_id": "dan", "timestamp": "yesterday", "channel": "web",
                                           "touchpoint": "home"}], EVENT_HEADER)  # fmt: skip
    (quarantined,) = workspace.ingest(paths=[str(bad)])
    assert (quarantined.loaded, quarantined.quarantined_total) == (0, 1)
    # Feedback is outcome evidence (a negative answer overrides an inferred success): loading it
    # rebuilds the journeys.
    survey = write_csv(
        tmp_path, "nps.csv",
        [{"user_id": "ann", "timestamp": "2024-01-16T09:00:00Z", "metric": "nps", "score": 9}],
    )  # fmt: skip
    (answers,) = workspace.ingest(paths=[str(survey)], table="feedback")
    assert answers.loaded == 1
    assert not model_state(workspace.store, workspace.config).fresh
    assert workspace.ensure_model(notice=notice) is not None
    assert lines[2] == BUILDING + "1 ingest (feedback) since the last build."
    del lines[2]

    # Two ingests into two model tables: both are counted and named.
    later = write_csv(tmp_path, "later.csv", customer("eve", [("web", "home")]), EVENT_HEADER)
    links = write_csv(
        tmp_path, "links.csv", [{"identifier_type": "crm_id", "identifier_value": "C1", "user_id": "eve"}]
    )
    workspace.ingest(paths=[str(later)])
    workspace.ingest(paths=[str(links)], table="identities")
    assert workspace.ensure_model(notice=notice) is not None
    assert lines[2:] == [BUILDING + "2 ingests (events, identities) since the last build."]
    builds = sorted(table_rows(workspace, "builds"), key=lambda r: r["build_id"])
    assert [b["build_id"] for b in builds] == [1, 2, 3, 4]
    assert all(b["finished_at"] is not None and b["finished_at"] >= b["started_at"] for b in builds)
    assert [b["ingest_watermark"] for b in builds] == [1, 2, 5, 7]


def test_no_build_refuses_a_stale_model_and_names_the_command(workspace: Workspace, tmp_path: Path) -> None:
    workspace.ingest(paths=[str(write_csv(tmp_path, "e.csv", journeys(FIRST), EVENT_HEADER))])
    with pytest.raises(StaleModelError, match="not been built yet") as caught:
        workspace.ensure_model(build=False)
    assert isinstance(caught.value, JourneyLensError)
    assert caught.value.hint is not None
    assert "`journeylens build`" in caught.value.hint and "without --no-build" in caught.value.hint
    assert "journeys" not in workspace.store.backend.list_tables()  # refusing built nothing

    workspace.ensure_model()
    assert workspace.ensure_model(build=False) is None  # fresh: no error
    workspace.ingest(
        paths=[str(write_csv(tmp_path, "f.csv", customer("cid", [("web", "faq")]), EVENT_HEADER))]
    )
    with pytest.raises(StaleModelError, match=r"1 ingest \(events\) since the last build"):
        workspace.ensure_model(build=False)


def test_editing_journey_rules_makes_journeys_stale(workspace: Workspace, tmp_path: Path) -> None:
    workspace.ingest(paths=[str(write_csv(tmp_path, "e.csv", journeys(FIRST), EVENT_HEADER))])
    workspace.ensure_model()
    root = workspace.root
    toml = root / CONFIG_FILE
    workspace.close()

    # Reformatting the file changes no setting: still fresh.
    text = toml.read_text(encoding="utf-8")
    assert 'repeat_window = "7d"' in text
    toml.write_text(
        text.replace('repeat_window = "7d"', "repeat_window   =   '7d'  # a week"), encoding="utf-8"
    )
    ws = Workspace.open(root)
    assert model_state(ws.store, ws.config).fresh
    ws.close()

    toml.write_text(text.replace('repeat_window = "7d"', 'repeat_window = "3d"'), encoding="utf-8")
    ws = Workspace.open(root)
    try:
        state = model_state(ws.store, ws.config)
        assert state.reasons == (Staleness.CONFIG_CHANGED,)
        with pytest.raises(StaleModelError, match=r"\[journeys\] settings changed"):
            ws.ensure_model(build=False)
        lines, notice = _notices()
        assert ws.ensure_model(notice=notice) is not None
        assert lines == [BUILDING + "the [identity] or [journeys] settings changed since the last build."]
        assert model_state(ws.store, ws.config).fresh
    finally:
        ws.close()


def test_a_journey_type_naming_an_unknown_touchpoint_is_refused_before_anything_is_written(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.ingest(paths=[str(write_csv(tmp_path, "e.csv", journeys(FIRST), EVENT_HEADER))])
    workspace.ensure_model()
    before = _model(workspace)
    workspace.close()
    toml = workspace.root / CONFIG_FILE
    toml.write_text(
        toml.read_text() + '\n[journeys.types.support]\npriority = 1\nstart.touchpoints = ["biling_faq"]\n'
    )
    ws = Workspace.open(workspace.root)
    with pytest.raises(ConfigError, match="biling_faq"):
        ws.ensure_model()
    # The model built before the typo is intact and still the last (finished) build.
    assert _model(ws) == before
    assert [r["build_id"] for r in table_rows(ws, "builds")] == [1]
    assert model_state(ws.store, ws.config).reasons == (Staleness.CONFIG_CHANGED,)
    ws.close()


def test_an_ingest_committed_during_a_build_makes_the_next_analysis_rebuild(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.ingest(paths=[str(write_csv(tmp_path, "e.csv", journeys(FIRST), EVENT_HEADER))])
    late = write_csv(tmp_path, "late.csv", customer("cid", [("web", "faq")]), EVENT_HEADER)

    def ingest_meanwhile(step: str, _done: int, _total: int) -> None:
        if step == "Building journeys":  # the build started before this ingest committed
            workspace.ingest(paths=[str(late)])

    build_model(workspace.store, workspace.config, progress=ingest_meanwhile)
    state = model_state(workspace.store, workspace.config)
    assert state.reasons == (Staleness.NEW_DATA,) and state.new_ingests == {"events": 1}
    assert workspace.ensure_model() is not None
    assert model_state(workspace.store, workspace.config).fresh


def test_dropped_derived_tables_are_rebuilt(workspace: Workspace, tmp_path: Path) -> None:
    workspace.ingest(paths=[str(write_csv(tmp_path, "e.csv", journeys(FIRST), EVENT_HEADER))])
    workspace.ensure_model()
    workspace.store.backend.drop_table("journey_events")
    state = model_state(workspace.store, workspace.config)
    assert state.reasons == (Staleness.TABLES_MISSING,) and state.missing == ("journey_events",)
    lines, notice = _notices()
    workspace.ensure_model(notice=notice)
    assert lines == [BUILDING + "journey_events is missing although build 1 finished."]
    assert model_state(workspace.store, workspace.config).fresh


def test_tables_of_another_model_version_or_without_a_recorded_build_are_rebuilt(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.ingest(paths=[str(write_csv(tmp_path, "e.csv", journeys(FIRST), EVENT_HEADER))])
    # Built the way releases before the builds table did: the tables exist, no build is recorded.
    stitch(workspace.store, workspace.config.identity)
    build_journeys(workspace.store, workspace.config.journeys)
    state = model_state(workspace.store, workspace.config)
    assert state.reasons == (Staleness.NEVER_BUILT,) and not state.missing
    assert state.why == "no build of the existing tables is recorded"
    workspace.ensure_model()
    builds = workspace.store.table("builds")
    workspace.store.rewrite("builds", builds.mutate(model_version=builds.model_version - 1))
    state = model_state(workspace.store, workspace.config)
    assert state.reasons == (Staleness.MODEL_VERSION,)
    assert state.why == f"the tables were written by model version {MODEL_VERSION - 1} " + (
        f"(this JourneyLens writes {MODEL_VERSION})"
    )
    workspace.ensure_model()
    assert model_state(workspace.store, workspace.config).fresh


def test_an_empty_workspace_gets_its_report_and_analyses_say_to_ingest(
    workspace: Workspace, tmp_path: Path
) -> None:
    assert "No events have been ingested yet" in workspace.report(tmp_path / "r.html").read_text()
    with pytest.raises(NotFoundError, match="no events") as caught:
        workspace.ensure_model()
    assert caught.value.hint is not None and "journeylens ingest" in caught.value.hint
    assert table_rows(workspace, "builds") == []  # a refused build leaves no record


# --- kill -9 during a build -----------------------------------------------------------------------

_KILLED_BUILD = textwrap.dedent(
    """
    import os, signal, sys
    from journeylens import Workspace
    from journeylens.model import build_model

    def die_when_journeys_start(step, done, total):
        if step == "Building journeys":
            os.kill(os.getpid(), signal.SIGKILL)

    ws = Workspace.open(sys.argv[1])
    build_model(ws.store, ws.config, progress=die_when_journeys_start)
    print("the build was not killed")
    """
)


def _ingest(ws: Workspace, world: Path, tables: tuple[str, ...]) -> None:
    for table in tables:
        ws.ingest(paths=[str(world / table)], table=table)


def _sorted_rows(ws: Workspace, name: str, keys: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ws.store.execute(ws.store.backend.table(name).order_by(keys)).to_pylist()
    return rows


def _model(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    return {
        "customer_map": _sorted_rows(ws, "customer_map", ["identifier_type", "identifier_value"]),
        "journeys": _sorted_rows(ws, "journeys", ["journey_id"]),
        "journey_events": _sorted_rows(ws, "journey_events", ["event_id"]),
    }


def test_a_build_killed_half_way_is_detected_and_rebuilt(tmp_path: Path) -> None:
    world = tmp_path / "world"
    generate_world(world, customers=40, seed=11)
    ws = Workspace.init(tmp_path / "ws")
    # Built once without identities, so the killed build (with them) writes a different customer_map.
    _ingest(ws, world, ("customers", "events"))
    ws.ensure_model()
    _ingest(ws, world, ("identities",))
    old = _model(ws)
    root, salt = ws.root, ws.config.privacy.salt
    ws.close()  # the subprocess needs the DuckDB file lock

    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_BUILD, str(root)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr

    # The same files in a new workspace with the same salt (e-mail and phone hashes must match).
    clean = Workspace.init(tmp_path / "clean")
    clean.config.privacy.salt = salt
    clean.config.dump(clean.root / CONFIG_FILE)
    clean = Workspace.open(clean.root)
    _ingest(clean, world, ("customers", "events", "identities"))
    build_model(clean.store, clean.config)
    expected = _model(clean)
    clean.close()
    assert expected["customer_map"] != old["customer_map"], "identities must change the customers"

    ws = Workspace.open(root)
    try:
        # Half-built: the new customer_map next to the old journeys. Nothing may read that.
        half = _model(ws)
        assert half["customer_map"] == expected["customer_map"] and half["journeys"] == old["journeys"]
        state = model_state(ws.store, ws.config)
        assert state.reasons == (Staleness.INTERRUPTED,) and state.last_build == 2
        with pytest.raises(StaleModelError, match="interrupted"):
            ws.ensure_model(build=False)
        lines, notice = _notices()
        assert ws.ensure_model(notice=notice) is not None
        assert len(lines) == 1 and lines[0].startswith(BUILDING + "the previous build (build 2, started ")
        assert lines[0].endswith("was interrupted or failed before it finished.")
        assert _model(ws) == expected
        assert model_state(ws.store, ws.config).fresh
        finished = {r["build_id"]: r["finished_at"] is not None for r in table_rows(ws, "builds")}
        assert finished == {1: True, 2: False, 3: True}
    finally:
        ws.close()


# --- the command line -----------------------------------------------------------------------------


def test_report_builds_when_needed_and_says_so(
    tmp_path: Path, run_journeylens: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    root = tmp_path / "ws"
    first = write_csv(tmp_path, "first.csv", journeys(FIRST), EVENT_HEADER)
    more = write_csv(tmp_path, "more.csv", customer("cid", [("app", "product_page")]), EVENT_HEADER)
    for args in (["init", root], ["ingest", first, "-w", root]):
        done = run_journeylens(args)
        assert done.returncode == 0, done.stderr

    report = run_journeylens(["report", "-w", root])
    assert report.returncode == 0, report.stderr
    assert BUILDING + "they have not been built yet." in report.stderr
    assert (root / "report.html").stat().st_size > 100_000

    again = run_journeylens(["report", "-w", root])
    assert again.returncode == 0, again.stderr
    assert "Building" not in again.stderr and "Report written" in again.stderr

    assert run_journeylens(["ingest", more, "-w", root]).returncode == 0
    stale = run_journeylens(["report", "-w", root, "--out", tmp_path / "r2.html"])
    assert stale.returncode == 0, stale.stderr
    assert BUILDING + "1 ingest (events) since the last build." in stale.stderr

    # An explicit build is recorded like any other: the next analysis has nothing to build (any
    # analysis command checks as the report does: a cheap one here).
    assert run_journeylens(["ingest", write_csv(tmp_path, "x.csv", customer("dan", [("web", "faq")]),
                                                EVENT_HEADER), "-w", root]).returncode == 0  # fmt: skip
    built = run_journeylens(["build", "-w", root, "--format", "json"])
    assert built.returncode == 0, built.stderr
    after = run_journeylens(["variants", "-w", root])
    assert after.returncode == 0 and "Building" not in after.stderr, after.stderr


def test_workspace_report_builds_first(workspace: Workspace, tmp_path: Path) -> None:
    workspace.ingest(paths=[str(write_csv(tmp_path, "e.csv", journeys(FIRST), EVENT_HEADER))])
    with pytest.raises(StaleModelError):
        workspace.report(tmp_path / "refused.html", build=False)
    assert not (tmp_path / "refused.html").exists()
    lines, notice = _notices()
    path = workspace.report(tmp_path / "r.html", notice=notice)
    assert path == tmp_path / "r.html" and "<h2>Journeys</h2>" in path.read_text(encoding="utf-8")
    assert lines == [BUILDING + "they have not been built yet."]
    assert workspace.report(notice=notice) == workspace.root / "report.html"
    assert len(lines) == 1


def test_dfg_builds_then_rebuilds_only_after_new_data(
    tmp_path: Path, run_journeylens: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """The issue's story through the CLI: ingest, dfg (builds), ingest more, dfg (rebuilds), dfg
    again (does not), re-ingest the first file (duplicates only) and dfg --no-build (fresh)."""
    root = tmp_path / "ws"
    first = write_csv(tmp_path, "first.csv", journeys(FIRST), EVENT_HEADER)
    more = write_csv(tmp_path, "more.csv", customer("cid", [("app", "product_page")]), EVENT_HEADER)
    assert run_journeylens(["init", root]).returncode == 0
    assert run_journeylens(["ingest", first, "-w", root]).returncode == 0

    built = run_journeylens(["dfg", "-w", root, "-f", "json"])
    assert built.returncode == 0, built.stderr
    assert BUILDING + "they have not been built yet." in built.stderr
    assert json.loads(built.stdout)["totals"]["journeys"] == 2

    assert run_journeylens(["ingest", more, "-w", root]).returncode == 0
    rebuilt = run_journeylens(["dfg", "-w", root, "-f", "json"])
    assert BUILDING + "1 ingest (events) since the last build." in rebuilt.stderr
    assert json.loads(rebuilt.stdout)["totals"]["journeys"] == 3

    again = run_journeylens(["dfg", "-w", root, "-f", "json"])
    assert again.returncode == 0 and "Building" not in again.stderr, again.stderr
    assert json.loads(again.stdout) == json.loads(rebuilt.stdout)

    assert run_journeylens(["ingest", first, "-w", root]).returncode == 0
    fresh = run_journeylens(["dfg", "-w", root, "--no-build", "-f", "json"])
    assert fresh.returncode == 0 and "Building" not in fresh.stderr, fresh.stderr

    assert run_journeylens(["ingest", more.rename(tmp_path / "more2.csv"), "-w", root]).returncode == 0
    refused = run_journeylens(["dfg", "-w", root, "--no-build"])
    # the same rows under another file name are duplicates: still fresh, so nothing to refuse
    assert refused.returncode == 0, refused.stderr
    newer = write_csv(tmp_path, "newer.csv", customer("eve", [("web", "faq")]), EVENT_HEADER)
    assert run_journeylens(["ingest", newer, "-w", root]).returncode == 0
    stale = run_journeylens(["dfg", "-w", root, "--no-build"])
    assert stale.returncode == 2 and "journeylens build" in stale.stderr and stale.stdout == ""
