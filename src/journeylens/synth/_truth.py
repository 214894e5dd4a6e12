"""``ground_truth.json``: the planted facts a later analysis must recover, in one small file.

Per-row truth lives in ``ground_truth/*.parquet`` (written chunk by chunk); this module tallies
what the summary needs across chunks (counts, shared identifiers, observed experiment and
friction rates) and writes the JSON next to the parameters that generated the world.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.synth import _catalogue as cat
from journeylens.synth import _parameters as par
from journeylens.synth._decisions import decisions_truth
from journeylens.synth._events import DAY
from journeylens.synth._records import SHARED_KINDS
from journeylens.synth._workforce import workforce_truth
from journeylens.synth.feedback import SCORE_MODEL
from journeylens.synth.journeys import Simulation
from journeylens.synth.population import DEFAULT_NUMBER_E164, DEFAULT_NUMBER_RAW, Agents, Population

GROUND_TRUTH = "ground_truth.json"
TRUTH_FILES = {
    "events": "ground_truth/events.parquet",
    "identifiers": "ground_truth/identifiers.parquet",
    "journeys": "ground_truth/journeys.parquet",
    "feedback": "ground_truth/feedback.parquet",
}
ROW_COUNTED = ("events", "identities", "customers", "feedback", "assignments", "decisions")
DEFAULT_COUNTRY_CODE = "31"


def chunk_stats(pop: Population, sim: Simulation, agents: Agents) -> dict[str, float]:
    """Observed counts of one chunk for the summary (plain sums, so chunks add up)."""
    o, kept, kind = sim.outcomes, sim.kept, sim.plan.kind
    variant = pop.variant[sim.plan.customer]
    purchase = kept & (kind == cat.PURCHASE)
    support = kept & (kind == cat.SUPPORT)
    stats: dict[str, float] = {
        "experiment.purchase_journeys": purchase.sum(),
        "experiment.p_order_control_sum": o.p_order_control[purchase].sum(),
    }
    for code, name in enumerate(par.EXPERIMENT.variants):
        rows = purchase & (variant == code)
        stats[f"experiment.{name}.purchase_journeys"] = rows.sum()
        stats[f"experiment.{name}.orders"] = (rows & o.has_order).sum()
    faq = support & o.billing_faq
    stats["billing_faq.support_journeys"] = faq.sum()
    stats["billing_faq.called"] = (faq & o.leakage).sum()
    stats["other_support.journeys"] = (support & ~faq).sum()
    stats["other_support.self_service_then_call"] = (support & ~faq & o.leakage).sum()
    error = purchase & o.payment_error
    stats["payment_error.journeys"] = error.sum()
    stats["payment_error.orders"] = (error & o.has_order).sum()
    stats["payment_error.calls"] = (error & (o.contacts > 0)).sum()
    outage_on = sim.plan.planned / DAY >= par.CHECKOUT_OUTAGE.start_day  # NaN (follow-ups): off
    for label, rows in (("before", purchase & ~outage_on), ("after", purchase & outage_on)):
        stats[f"checkout_outage.{label}.checkouts"] = (rows & o.reached_checkout).sum()
        stats[f"checkout_outage.{label}.orders"] = (rows & o.reached_checkout & o.has_order).sum()
    orders = purchase & o.has_order
    for code, name in enumerate(cat.CARRIERS):
        rows = orders & (o.carrier == code)
        stats[f"delivery_sms.{name}.orders"] = rows.sum()
        stats[f"delivery_sms.{name}.delivery_problems"] = (rows & o.delivery_problem).sum()
    assisted = support & (o.first_agent >= 0)
    team = agents.team[o.first_agent[assisted]]
    resolved = o.first_contact_resolution[assisted]
    for code, t in enumerate(par.TEAMS):
        stats[f"team.{t.name}.support_journeys"] = (team == code).sum()
        stats[f"team.{t.name}.first_contact_resolution"] = ((team == code) & resolved).sum()
    return {key: float(value) for key, value in stats.items()}


@dataclass
class Tally:
    """Running totals over chunks for ``ground_truth.json``."""

    agents: int
    employee_feedback: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys((*ROW_COUNTED, "journeys"), 0))
    counts: dict[str, int] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)
    shared: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)

    def _count(self, prefix: str, column: pa.ChunkedArray) -> None:
        for entry in pc.value_counts(column.drop_null()).to_pylist():
            key = f"{prefix}.{entry['values']}"
            self.counts[key] = self.counts.get(key, 0) + int(entry["counts"])

    def add(self, parts: dict[str, pa.Table], stats: dict[str, float]) -> None:
        """Add one chunk's tables and statistics."""
        for name in ROW_COUNTED:
            self.rows[name] += parts[name].num_rows
        journeys = parts["truth_journeys"]
        self.rows["journeys"] += journeys.num_rows
        self._count("segment", parts["customers"].column("segment"))
        self._count("journey_type", journeys.column("journey_type"))
        self._count("journey_subtype", journeys.column("journey_subtype"))
        self._count("outcome", journeys.column("outcome"))
        self._count("variant", parts["assignments"].column("variant"))
        for key, value in stats.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        shared = parts["shared"]
        columns = (shared.column(c).to_pylist() for c in ("identifier_type", "value", "kind", "customer"))
        for kind, value, label, customer in zip(*columns, strict=True):
            self.shared.setdefault((kind, value, label), []).append(customer)

    def share(self, numerator: str, denominator: str) -> float | None:
        below = self.sums.get(denominator, 0.0)
        return round(self.sums.get(numerator, 0.0) / below, 4) if below else None

    def grouped(self, prefix: str) -> dict[str, int]:
        return {k.split(".", 1)[1]: v for k, v in sorted(self.counts.items()) if k.startswith(prefix + ".")}


def _experiment(tally: Tally) -> dict[str, Any]:
    e = par.EXPERIMENT
    n = tally.sums.get("experiment.purchase_journeys", 0.0)
    control_rate = tally.sums.get("experiment.p_order_control_sum", 0.0) / n if n else None
    observed: dict[str, Any] = {}
    for name in e.variants:
        journeys = f"experiment.{name}.purchase_journeys"
        observed[name] = {
            "assigned_users": tally.counts.get(f"variant.{name}", 0),
            "purchase_journeys": int(tally.sums.get(journeys, 0)),
            "orders": int(tally.sums.get(f"experiment.{name}.orders", 0)),
            "conversion": tally.share(f"experiment.{name}.orders", journeys),
        }
    rates = [observed[v]["conversion"] for v in e.variants]
    observed["difference"] = round(rates[1] - rates[0], 4) if None not in rates else None
    return {
        "name": e.name,
        "variants": list(e.variants),
        "split": {e.variants[0]: 1 - e.treatment_share, e.variants[1]: e.treatment_share},
        "unit": e.unit,
        "metric": e.metric,
        "metric_definition": e.metric_definition,
        "true_effect_absolute": e.effect_absolute,
        "true_effect_relative": round(e.effect_absolute / control_rate, 4) if control_rate else None,
        "expected_control_rate": round(control_rate, 4) if control_rate else None,
        "observed": observed,
    }


def _outage(tally: Tally, start: str, days: int) -> dict[str, Any]:
    """The change planted mid-window, dated, with the conversion at checkout before and after."""
    o = par.CHECKOUT_OUTAGE
    begins = date.fromisoformat(start) + timedelta(days=o.start_day)
    key = "checkout_outage.{}.{}"
    return {
        "name": "checkout_payment_outage",
        "cause": "From start_date a new payment provider fails some checkouts (web and app): "
        "P(order) of purchase journeys planned from then on drops by conversion_penalty.",
        "stage": o.stage,
        "touchpoint": o.touchpoint,
        "start_date": begins.isoformat(),
        "active": o.start_day < days,
        "size": -o.conversion_penalty,
        "size_note": "absolute change in P(order) of a purchase journey; at the checkout stage the "
        "share of journeys that order falls by about conversion_penalty / P(reach checkout).",
        "parameters": asdict(o),
        "observed": {
            f"conversion_at_checkout_{label}": tally.share(
                key.format(label, "orders"), key.format(label, "checkouts")
            )
            for label in ("before", "after")
        },
    }


def _friction(tally: Tally) -> list[dict[str, Any]]:
    carriers = {
        name: tally.share(f"delivery_sms.{name}.delivery_problems", f"delivery_sms.{name}.orders")
        for name in cat.CARRIERS
    }
    return [
        {
            "name": "billing_faq_sends_callers",
            "cause": "The web billing FAQ does not answer billing questions; visitors call.",
            "parameters": asdict(par.BILLING_FAQ),
            "observed": {
                "support_journeys_with_billing_faq": int(tally.sums.get("billing_faq.support_journeys", 0)),
                "share_that_called": tally.share("billing_faq.called", "billing_faq.support_journeys"),
                "other_support_self_service_then_call": tally.share(
                    "other_support.self_service_then_call", "other_support.journeys"
                ),
            },
        },
        {
            "name": "app_payment_error",
            "cause": "An app payment error at checkout makes customers abandon or call.",
            "parameters": asdict(par.PAYMENT_ERROR),
            "observed": {
                "journeys_with_error": int(tally.sums.get("payment_error.journeys", 0)),
                "conversion": tally.share("payment_error.orders", "payment_error.journeys"),
                "share_that_called": tally.share("payment_error.calls", "payment_error.journeys"),
            },
        },
        {
            "name": "swiftpost_sms_without_tracking_link",
            "cause": "The swiftpost delivery SMS (template delivery_update_sp1) lacks a tracking "
            "link, so more orders are followed by a delivery_problem support journey.",
            "parameters": asdict(par.DELIVERY_SMS),
            "observed": {"delivery_problem_share_by_carrier": carriers},
        },
    ]


def _agents(tally: Tally, agents: Agents) -> dict[str, Any]:
    teams = []
    for code, team in enumerate(par.TEAMS):
        key = f"team.{team.name}"
        teams.append(
            {
                "team": team.name,
                "group": team.group,
                "site": team.site,
                "agents": team.agents,
                "skill": team.skill,
                "mean_agent_skill": round(float(agents.skill[agents.team == code].mean()), 4),
                "p_resolve_billing_first_contact": round(
                    par.RESOLUTION.base_by_topic["billing"]
                    + par.RESOLUTION.skill_slope * (team.skill - par.SKILL_CENTRE),
                    4,
                ),
                "observed_support_journeys": int(tally.sums.get(f"{key}.support_journeys", 0)),
                "observed_first_contact_resolution": tally.share(
                    f"{key}.first_contact_resolution", f"{key}.support_journeys"
                ),
            }
        )
    return {
        "teams": teams,
        "resolution_model": asdict(par.RESOLUTION),
        "routing": {
            "voice_default": dict(
                zip([t.name for t in par.TEAMS[:3]], par.VOICE_ROUTING_DEFAULT, strict=True)
            ),
            "voice_technical_fault": dict(
                zip([t.name for t in par.TEAMS[:3]], par.VOICE_ROUTING_TECHNICAL, strict=True)
            ),
            "messaging": dict(zip([t.name for t in par.TEAMS[3:]], par.MESSAGING_ROUTING, strict=True)),
            "note": "Technical faults (hardest topic) go more to the nearshore team: raw team "
            "comparisons are confounded by case mix.",
        },
        "skill_level_column": "agents.skill_level is a 1-5 supervisor rating, a noisy function of skill.",
    }


def _shared(tally: Tally) -> list[dict[str, Any]]:
    """Shared identifiers grouped by kind (in order of first appearance within a kind)."""
    listed = []
    for (kind, value, label), customers in sorted(
        tally.shared.items(), key=lambda i: SHARED_KINDS.index(i[0][2])
    ):
        entry: dict[str, Any] = {"identifier_type": kind, "value": value, "kind": label}
        if label == "call_centre_default_number":
            entry["raw_values"] = list(DEFAULT_NUMBER_RAW)
        entry["customers"] = _OneLine(customers)
        listed.append(entry)
    return listed


class _OneLine(list[str]):
    """A list that :func:`_dumps` writes on one line, so long customer lists stay readable."""


def _dumps(truth: dict[str, Any]) -> str:
    """Indented JSON, except :class:`_OneLine` lists, which are written compactly in place."""
    inline: list[str] = []

    def mark(value: object) -> object:
        if isinstance(value, _OneLine):
            inline.append(json.dumps(list(value), ensure_ascii=False))
            return f"\x00{len(inline) - 1}\x00"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(truth), indent=2, ensure_ascii=False, default=_plain)
    for number, compact in enumerate(inline):
        text = text.replace(json.dumps(f"\x00{number}\x00"), compact, 1)
    return text + "\n"


def write_ground_truth(
    out: Path, settings: dict[str, Any], tally: Tally, agents: Agents, *, complete: bool
) -> Path:
    """Write ``ground_truth.json`` (also written first, as ``complete: false``, as a marker)."""
    segments = {
        name: {**asdict(behaviour), "customers": tally.counts.get(f"segment.{name}", 0)}
        for name, behaviour in zip(cat.SEGMENTS, par.SEGMENT_BEHAVIOUR, strict=True)
    }
    truth: dict[str, Any] = {
        "generator": "journeylens.synth",
        "complete": complete,
        **settings,
        "counts": {**tally.rows, "agents": tally.agents, "employee_feedback": tally.employee_feedback},
        "files": TRUTH_FILES,
        "default_country_code": DEFAULT_COUNTRY_CODE,
        "identity": {
            "customer_key": "user_id (one per customer); ground truth 'customer' columns hold it.",
            "phone_normalisation": "E.164. A leading 00 means +; a leading single 0 is national "
            f"and gets +{DEFAULT_COUNTRY_CODE}; all spellings of one person's number normalise to "
            "one value. Belgian and German numbers are always written internationally.",
            "email_normalisation": "strip surrounding spaces, lower-case.",
            "login_rule": "Device events carry only anonymous_id until the customer's first login "
            "on that device (checkout, account pages, or logging in at session start); from then "
            "on they carry user_id and anonymous_id. Chat and kiosk-after-login events carry both.",
            "call_centre_default_number": DEFAULT_NUMBER_E164,
        },
        "shared_identifiers": _shared(tally),
        "segments": {"description": par.SEGMENT_DESCRIPTION, **segments},
        "journeys": {
            "by_type": tally.grouped("journey_type"),
            "by_support_subtype": tally.grouped("journey_subtype"),
            "by_outcome": tally.grouped("outcome"),
            "boundaries": "A journey's events never interleave with another journey of the same "
            "customer. Each journey starts at least a drawn gap after the previous one ended "
            "(12-48 h for 90%, 1-6 h for 10%, 18-72 h for a delivery problem after its order), "
            "on a whole-day shift of its planned start. Inside journeys, repeat contacts can be up "
            "to 4 days apart. Journeys start inside the window; their last events may fall up to "
            "two weeks after it.",
        },
        "friction": [*_friction(tally), _outage(tally, settings["start"], settings["days"])],
        "experiment": _experiment(tally),
        "decisions": decisions_truth(tally.sums),
        "agents": _agents(tally, agents),
        "workforce": workforce_truth(agents, settings["start"]),
        "feedback": {
            "metrics": {"nps": [0, 10], "csat": [1, 5], "ces": [1, 7]},
            "score_model": SCORE_MODEL,
            "survey_rates": asdict(par.SURVEYS),
            "themes": list(cat.THEMES),
        },
        "channel_aliases": {**cat.CHANNEL_ALIASES, "share_written_as_alias": par.CHANNEL_ALIAS_SHARE},
    }
    path = out / GROUND_TRUTH
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(_dumps(truth), encoding="utf-8")
    temporary.replace(path)
    return path


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
