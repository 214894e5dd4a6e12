"""The synthetic world: determinism, layout, and the planted truths later analyses must recover.

One world of 20,000 customers (~580k events, ~2 s) is generated per session and shared; the
statistical checks use it, with tolerances derived from its sample sizes (see each test).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from journeylens.errors import InputError
from journeylens.store.names import CHANNELS
from journeylens.store.schema import ASSIGNMENTS, EVENTS, FEEDBACK, IDENTITIES
from journeylens.synth import TABLES, WorldSummary, generate_world

ALIASES = {
    "phone": "call_center",
    "Call": "call_center",
    "IVR": "call_center",
    "WhatsApp": "whatsapp",
    "e-mail": "email",
}


def read(path: Path) -> pd.DataFrame:
    return ds.dataset(path).to_table().to_pandas()


def digests(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


def e164(raw: str, country_code: str = "31") -> str:
    """Reference phone normaliser: what ingest is expected to do with default country 31."""
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return "+" + country_code + digits[1:]


class World:
    """The shared world, loaded once: raw tables joined with their ground truth."""

    def __init__(self, root: Path, summary: WorldSummary) -> None:
        self.root, self.summary = root, summary
        self.truth: dict[str, Any] = json.loads((root / "ground_truth.json").read_text())
        truth_events = pq.read_table(root / "ground_truth/events.parquet").to_pandas()
        self.events = read(root / "events").merge(truth_events, on="event_id", validate="one_to_one")
        self.events["canonical"] = self.events["channel"].replace(ALIASES)
        self.journeys = pq.read_table(root / "ground_truth/journeys.parquet").to_pandas()
        self.identities = read(root / "identities")
        self.assignments = read(root / "assignments")
        self.agents = pq.read_table(root / "agents/agents.parquet").to_pandas()
        feedback_truth = pq.read_table(root / "ground_truth/feedback.parquet").to_pandas()
        self.feedback = read(root / "feedback").merge(feedback_truth, on="feedback_id")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("synth") / "world"
    summary = generate_world(root, customers=20_000, seed=11, chunk_customers=7_000)
    return World(root, summary)


# --- determinism and layout ----------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate_world(tmp_path / "a", customers=400, seed=5, chunk_customers=150)
    generate_world(tmp_path / "b", customers=400, seed=5, chunk_customers=150)
    generate_world(tmp_path / "c", customers=400, seed=6, chunk_customers=150)
    assert first.chunks == 3
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    a, c = digests(tmp_path / "a"), digests(tmp_path / "c")
    assert all(a[f] != c[f] for f in a if f.startswith(("events/", "identities/", "feedback/")))


def test_a_chunk_holds_the_same_customers_whatever_the_world_size(tmp_path: Path) -> None:
    generate_world(tmp_path / "small", customers=300, seed=5, chunk_customers=150)
    generate_world(tmp_path / "large", customers=450, seed=5, chunk_customers=150)
    small, large = digests(tmp_path / "small"), digests(tmp_path / "large")
    parts = [f for f in small if "part-" in f]
    assert len(parts) == 12  # 2 chunks x (events, identities, customers, feedback, assignments, decisions)
    assert all(small[f] == large[f] for f in parts)


def test_counts_agree_with_files_and_ground_truth(world: World) -> None:
    counts = world.truth["counts"]
    for table in TABLES:
        assert counts[table] == len(read(world.root / table)) == world.summary.counts[table]
    assert counts["journeys"] == len(world.journeys) == world.events["journey_id"].nunique()
    assert world.events["event_id"].is_unique and world.feedback["feedback_id"].is_unique
    assert world.truth["customers"] == counts["customers"] == 20_000
    assert world.truth["complete"] is True
    assert 20 <= counts["events"] / counts["customers"] <= 35


def test_tables_use_the_canonical_column_names(world: World) -> None:
    events = pq.read_schema(next((world.root / "events").glob("*.parquet")))
    assert events.names == EVENTS.column_names
    assert str(events.field("timestamp").type) == "timestamp[us, tz=UTC]"
    assert list(read(world.root / "feedback").columns) == FEEDBACK.column_names
    assert set(world.identities.columns) <= set(IDENTITIES.column_names)
    assert set(world.assignments.columns) <= set(ASSIGNMENTS.column_names)
    assert {"user_id", "segment", "country", "signup_date", "age_band", "plan", "email"} <= set(
        read(world.root / "customers").columns
    )
    assert {"agent_id", "team", "site", "tenure", "skill_level"} <= set(world.agents.columns)


def test_events_are_well_formed(world: World) -> None:
    ev = world.events
    assert set(ev["channel"]) <= set(CHANNELS) | set(ALIASES)
    assert set(ALIASES) <= set(ev["channel"]), "every alias spelling should occur"
    calls = ev[ev["canonical"] == "call_center"]
    assert 0.02 < (calls["channel"] != "call_center").mean() < 0.10
    assert ev[["user_id", "anonymous_id", "case_id"]].notna().any(axis=1).all()
    assert set(ev["direction"]) == {"inbound", "outbound"}
    properties = ev["properties"].dropna()
    assert all(isinstance(json.loads(p), dict) for p in properties)
    # Case ids (tickets) are on agent-handled contacts only; revenue only on orders.
    assert ev.loc[ev["case_id"].notna(), "agent_id"].notna().all()
    assert set(ev.loc[ev["value"].notna(), "touchpoint"]) == {"order_confirmation", "payment_call"}


# --- identity ------------------------------------------------------------------------------------


def test_anonymous_devices_log_in_later(world: World) -> None:
    device = world.events[world.events["anonymous_id"].notna()].sort_values("timestamp")
    per_device = device.groupby("anonymous_id")["user_id"].agg(first="first", known="count")
    first_anonymous = device.groupby("anonymous_id")["user_id"].apply(lambda s: s.iloc[0] is None)
    later_known = per_device["known"] > 0
    assert (first_anonymous & later_known).mean() > 0.25
    assert (per_device["known"] == 0).mean() > 0.1, "some devices never log in"


def test_shared_identifiers_are_listed_and_really_shared(world: World) -> None:
    shared = world.truth["shared_identifiers"]
    kinds = {s["kind"] for s in shared}
    assert kinds == {"family_tablet", "store_kiosk", "call_centre_default_number"}
    users_by_device = world.events.groupby("anonymous_id")["customer"].agg(lambda s: sorted(set(s)))
    for entry in (s for s in shared if s["identifier_type"] == "anonymous_id"):
        assert len(entry["customers"]) >= 2
        assert users_by_device[entry["value"]] == sorted(entry["customers"])
    kiosk = max((s for s in shared if s["kind"] == "store_kiosk"), key=lambda s: len(s["customers"]))
    assert len(kiosk["customers"]) >= 20
    default = next(s for s in shared if s["kind"] == "call_centre_default_number")
    phones = world.identities[world.identities["identifier_type"] == "phone"]
    on_default = phones[
        phones["identifier_value"].map(e164) == world.truth["identity"]["call_centre_default_number"]
    ]
    assert sorted(on_default["user_id"].unique()) == sorted(default["customers"])
    assert len(default["customers"]) > 100


def test_raw_phones_and_emails_normalise_to_one_value_per_person(world: World) -> None:
    assert world.truth["default_country_code"] == "31"
    phones = world.identities[world.identities["identifier_type"] == "phone"].copy()
    phones["e164"] = phones["identifier_value"].map(e164)
    own = phones[phones["e164"] != world.truth["identity"]["call_centre_default_number"]]
    assert own["identifier_value"].nunique() > own["e164"].nunique(), "spellings vary"
    assert (own.groupby("user_id")["e164"].nunique() == 1).all()
    assert (own.groupby("e164")["user_id"].nunique() == 1).all()
    truth = pq.read_table(world.root / "ground_truth/identifiers.parquet").to_pandas()
    truth_phones = truth[truth["identifier_type"] == "phone"]
    assert (
        truth_phones["identifier_value_raw"].map(e164) == truth_phones["identifier_value_normalised"]
    ).all()
    emails = world.identities[world.identities["identifier_type"] == "email"].copy()
    emails["clean"] = emails["identifier_value"].str.strip().str.lower()
    assert (emails["identifier_value"] != emails["clean"]).mean() > 0.3, "raw e-mails are messy"
    known = emails.dropna(subset=["user_id"])
    assert (known.groupby("user_id")["clean"].nunique() == 1).all()
    assert emails["anonymous_id"].notna().sum() > 1000, "identify calls tie devices to e-mails"


# --- journeys, friction, agents, experiment, feedback -------------------------------------------


def test_journeys_cross_channels_and_never_overlap(world: World) -> None:
    j = world.journeys.sort_values(["customer", "start"])
    gaps = (j["start"] - j.groupby("customer")["end"].shift()).dt.total_seconds().dropna()
    assert (gaps > 0).all()
    inside = (
        world.events.sort_values("timestamp").groupby("journey_id")["timestamp"].diff().dt.total_seconds()
    )
    assert gaps.median() > 20 * inside.median()
    assert (gaps < 24 * 3600).mean() > 0.005, "some journeys follow each other closely"
    assert (inside > 24 * 3600).mean() > 0.005, "some journeys pause for more than a day"
    support = world.events[world.events["journey_type"] == "support"]
    assert (support.groupby("journey_id")["canonical"].nunique() >= 2).mean() > 0.3
    assert set(j["journey_subtype"].dropna()) == {
        "billing_question",
        "delivery_problem",
        "technical_fault",
        "cancellation",
    }


def test_billing_faq_visitors_call_within_48_hours_far_more_often(world: World) -> None:
    ev = world.events
    calls = ev[(ev["canonical"] == "call_center") & (ev["direction"] == "inbound") & ev["agent_id"].notna()]

    def call_rate(pages: set[str]) -> float:
        visits = ev[(ev["canonical"] == "web") & ev["touchpoint"].isin(pages)][["customer", "timestamp"]]
        visits = visits.assign(visit=np.arange(len(visits)))
        pairs = visits.merge(calls[["customer", "timestamp"]], on="customer", suffixes=("", "_call"))
        delay = (pairs["timestamp_call"] - pairs["timestamp"]).dt.total_seconds()
        called = pairs.loc[(delay > 0) & (delay <= 48 * 3600), "visit"].nunique()
        return called / len(visits)

    faq = call_rate({"billing_faq"})
    others = call_rate({"delivery_faq", "troubleshooting_guide", "help_article", "track_order", "faq"})
    assert faq > 0.5 and faq > 2.5 * others
    assert world.truth["friction"][0]["parameters"]["touchpoint"] == "billing_faq"


def test_app_payment_errors_cost_orders(world: World) -> None:
    purchases = world.journeys[world.journeys["journey_type"] == "purchase"]
    app_checkout = world.events[
        (world.events["touchpoint"] == "checkout") & (world.events["canonical"] == "app")
    ]
    checked_out = purchases[purchases["journey_id"].isin(app_checkout["journey_id"])]
    converted = checked_out.groupby("payment_error")["outcome"].apply(lambda s: (s == "converted").mean())
    assert converted[False] - converted[True] > 0.2


def test_agent_teams_differ_in_resolution(world: World) -> None:
    ev = world.events[world.events["journey_type"] == "support"].sort_values("timestamp")
    assisted = ev[ev["agent_id"].notna() & (ev["direction"] == "inbound")]
    first = assisted.groupby("journey_id").head(1).merge(world.agents, on="agent_id")
    contacts = assisted.groupby("journey_id").size()
    first["repeat"] = first["journey_id"].map(contacts) > 1
    repeat_rate = first.groupby("team")["repeat"].mean()
    assert repeat_rate["voice_nearshore"] - repeat_rate["voice_amsterdam"] > 0.1
    skills = {t["team"]: t["skill"] for t in world.truth["agents"]["teams"]}
    assert skills["voice_amsterdam"] > skills["voice_nearshore"]


def test_experiment_treatment_converts_better_by_the_planted_effect(world: World) -> None:
    purchases = world.journeys[world.journeys["journey_type"] == "purchase"]
    ordered = set(world.events.loc[world.events["value"] > 0, "journey_id"])
    data = purchases.merge(world.assignments, left_on="customer", right_on="user_id", suffixes=("_truth", ""))
    assert len(data) == len(purchases), "every purchase journey belongs to an assigned user"
    data["order"] = data["journey_id"].isin(ordered)
    rate = data.groupby("variant")["order"].agg(["mean", "size"])
    diff = rate.loc["treatment", "mean"] - rate.loc["control", "mean"]
    # ~25k purchase journeys per arm: the binomial standard error of the difference is ~0.0042;
    # journeys cluster within users, so allow 4 standard errors (about +-0.017) around +0.03.
    se = np.sqrt((rate["mean"] * (1 - rate["mean"]) / rate["size"]).sum())
    experiment = world.truth["experiment"]
    assert experiment["true_effect_absolute"] == 0.03
    assert abs(diff - experiment["true_effect_absolute"]) < 4 * se
    assert abs(rate.loc["control", "mean"] - experiment["expected_control_rate"]) < 4 * se
    assert experiment["observed"]["difference"] == pytest.approx(diff, abs=1e-4)


def test_feedback_follows_the_experience(world: World) -> None:
    fb = world.feedback.merge(world.journeys[["journey_id", "outcome", "contacts"]], on="journey_id")
    csat = fb[fb["metric"] == "csat"]
    by_outcome = csat.groupby("outcome")["score"].mean()
    assert by_outcome["resolved"] - by_outcome["unresolved"] > 1.0
    assert csat.loc[csat["contacts"] >= 3, "score"].mean() < csat.loc[csat["contacts"] == 1, "score"].mean()
    assert csat["agent_id"].notna().all() and csat["case_id"].notna().all()
    for metric, (low, high) in world.truth["feedback"]["metrics"].items():
        scores = fb.loc[fb["metric"] == metric, "score"]
        assert len(scores) > 100 and scores.between(low, high).all()
    comments = fb["comment"]
    assert comments.isna().any() and (comments == "").any() and comments.str.len().gt(20).mean() > 0.5
    angry_billing = fb[(fb["tone"] == "negative") & (fb["theme"] == "billing") & comments.str.len().gt(0)]
    assert angry_billing["comment"].str.contains("invoice|charge|billing", case=False).mean() > 0.9


# --- formats and the output folder ---------------------------------------------------------------


def test_csv_world_is_readable_with_iso_timestamps(tmp_path: Path) -> None:
    summary = generate_world(tmp_path / "w", customers=300, seed=2, fmt="csv", chunk_customers=200)
    files = sorted((tmp_path / "w" / "events").glob("part-*.csv"))
    assert len(files) == 2
    as_text = pacsv.ConvertOptions(column_types={"timestamp": pa.string()})
    table = pacsv.read_csv(files[0], convert_options=as_text)
    assert table.column_names == EVENTS.column_names
    stamps = pd.Series(table.column("timestamp").to_pylist())
    assert stamps.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()
    assert pd.to_datetime(stamps, utc=True).min() >= pd.Timestamp("2026-01-01", tz="UTC")
    total = sum(pacsv.read_csv(f).num_rows for f in files)
    assert (
        total
        == summary.events
        == json.loads((tmp_path / "w" / "ground_truth.json").read_text())["counts"]["events"]
    )
    assert (tmp_path / "w" / "agents" / "agents.csv").is_file()


def test_a_previous_world_is_replaced_and_other_folders_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "w"
    generate_world(out, customers=50, seed=1, fmt="csv")
    calls: list[tuple[int, int]] = []
    generate_world(out, customers=120, seed=1, chunk_customers=50, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(50, 120), (100, 120), (120, 120)]
    assert not list(out.rglob("*.csv")), "files of the previous world are gone"
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty"):
        generate_world(other, customers=10)
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(InputError):
        generate_world(tmp_path / "x", customers=0)
    with pytest.raises(InputError):
        generate_world(tmp_path / "x", customers=10, start="yesterday")
