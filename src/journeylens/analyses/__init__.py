"""The registry of analyses: each is declared once, and every surface is derived from it.

An :class:`Analysis` names its command path, its typed spec, its run function and result type,
whether it needs the derived model, how its table view looks and (optionally) its report section.
Everything is referenced as ``"module:attribute"`` text and imported on use, so reading the
registry (for ``--help``) never imports the engine. The CLI commands (:mod:`journeylens.cli._commands`),
the workspace methods (generated into ``journeylens/_workspace_analyses.py``) and the CLI
reference read :data:`ANALYSES`; options come from the spec fields' ``Cli`` metadata.

To add an analysis: write its spec (with ``Cli`` markers) and run function, add one entry below,
a table view in ``journeylens/cli/_views.py``, and run ``python -m journeylens._docs`` (it writes the
workspace methods and docs/cli.md; drift tests fail until it has run).

Example:
    >>> ANALYSES["dfg"].method, ANALYSES["journeys summary"].method
    ('dfg', 'journeys_summary')
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["ANALYSES", "Analysis", "ReportPart", "ReportSection", "load"]


def load(ref: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names (imported now)."""
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class ReportSection:
    """A whole report section an analysis contributes: ``build(store) -> Section | None``, placed
    right after the section ``after`` (report keys: overview, volumes, customers, ...)."""

    key: str
    build: str
    after: str


@dataclass(frozen=True)
class ReportPart:
    """One part of the report's discovery section: ``build(store, scope) -> Part``; ``title`` names
    it when it cannot be drawn (nothing selected, nothing to compare)."""

    title: str
    build: str


@dataclass(frozen=True)
class Analysis:
    """One analysis, declared once.

    ``run`` is called ``run(store, spec)``, or ``run(workspace, spec)`` when ``takes_workspace``
    (it needs the workspace's configuration). ``prepare`` turns flat option values into the spec
    when that is more than validating them (the segments command chooses between two specs).
    ``also`` lists further spec models whose options the command takes. ``json``/``csv`` name
    the result attribute written by ``--format json``/``csv``. ``section``/``part`` put it in the
    HTML report; parts appear in registry order.
    """

    name: str
    summary: str
    help: str
    spec: str
    run: str
    result: str
    view: str
    example: str
    needs_model: bool = True
    takes_workspace: bool = False
    prepare: str | None = None
    also: tuple[str, ...] = ()
    json: str = "to_dict"
    csv: str = "records"
    section: ReportSection | None = None
    part: ReportPart | None = None
    standalone_when: str | None = None
    """A spec field that, when set, makes the command run without a workspace (``attribution
    --paths FILE``); the run function then gets ``None`` for the workspace."""

    @property
    def method(self) -> str:
        """The workspace method's name: the command path with underscores."""
        return self.name.replace(" ", "_")

    @property
    def doc(self) -> str:
        return f"{self.summary}\n\n{self.help}".strip()

    def spec_models(self) -> list[Any]:
        return [load(self.spec), *(load(ref) for ref in self.also)]


_D = "journeylens.discovery"
_S = "journeylens.specs"
_V = "journeylens.cli._views"
_R = "journeylens.analyses._runs"
_P = "journeylens.report.discovery"

ANALYSES: dict[str, Analysis] = {
    a.name: a
    for a in (
        Analysis(
            name="journeys summary",
            summary="Outcome rates per group, each with numerator/denominator and a 95% interval.",
            help="",
            spec="journeylens.specs.summary:JourneySummarySpec",
            run=f"{_R}:journeys_summary",
            takes_workspace=True,
            result="journeylens.journeys.summary:JourneySummary",
            view=f"{_V}:journeys_summary",
            json="rows",
            csv="rows",
            example='ws.journeys_summary(by="segment").rows',
            section=ReportSection(
                "journeys", "journeylens.report.journeys:journeys_section", after="customers"
            ),
        ),
        Analysis(
            name="customer",
            summary="Customer 360: identifiers and how each was linked, traits, cross-channel timeline, "
            "feedback.",
            help="",
            spec="journeylens.specs.customer:CustomerSpec",
            run=f"{_R}:customer",
            result="journeylens.identity.profile:CustomerProfile",
            view=f"{_V}:customer",
            csv="timeline",
            example='ws.customer("u1").timeline',
        ),
        Analysis(
            name="dfg",
            summary="Directly-follows process map: activities, transitions with times, start and end "
            "activities.",
            help="JSON is one object (nodes, edges, start_activities, end_activities, totals); CSV is "
            "the edges.",
            spec=f"{_S}.discovery:MapSpec",
            run=f"{_D}.dfg:process_map",
            result=f"{_D}.dfg:ProcessMap",
            view=f"{_V}:dfg",
            example='ws.dfg(type="purchase").plot()',
            # The discovery section gathers the parts below; it sits with the process map, its first.
            section=ReportSection(
                "discovery", "journeylens.report.discovery:discovery_section", after="journeys"
            ),
            part=ReportPart("Process map", f"{_P}:map_part"),
        ),
        Analysis(
            name="variants",
            summary="Variants: distinct journey sequences with count, share, coverage, duration, success "
            "rate.",
            help="JSON is one object (variants as records with ``steps`` and ``count``, totals); CSV the "
            "variants. JSON and CSV list every variant unless --coverage or --limit is given; the "
            "table lists those covering 80% of the journeys (at most 25 rows).",
            spec=f"{_S}.discovery:VariantSpec",
            run=f"{_D}.variants:variants",
            result=f"{_D}.variants:Variants",
            view=f"{_V}:variants",
            example="ws.variants(limit=10).to_pandas()",
            part=ReportPart("Variants", f"{_P}:variants_part"),
        ),
        Analysis(
            name="funnel",
            summary="How many customers (or journeys) get through STEP STEP ..., how fast, and where the "
            "rest went.",
            help="STEP syntax: 'checkout' (touchpoint, any channel), 'web:checkout', 'chat:*' (a whole "
            "channel), 'pricing|plans' (either), '?coupon' (optional), 'checkout\\[plan=pro]' (event "
            "property). Quote steps that contain | \\[ ] ? for your shell.\n\nExample: journeylens "
            "funnel home product_page checkout order_confirmation --window 2h --by segment",
            spec=f"{_S}.funnel:FunnelSpec",
            prepare=f"{_S}.funnel:funnel_from_options",
            run=f"{_D}.funnel:funnel",
            result=f"{_D}.funnel:FunnelResult",
            view=f"{_V}:funnel",
            example='ws.funnel(["product_page", "checkout"], window="2h").plot()',
            part=ReportPart("Funnel", f"{_P}:funnel_part"),
        ),
        Analysis(
            name="paths",
            summary="Paths after, before or between touchpoints as Sankey links; each depth sums to the "
            "journeys.",
            help="Without --start and --end, paths run from the start of every selected journey. A "
            "journey is anchored on the first occurrence of the touchpoint; journeys without it are "
            "counted apart.",
            spec=f"{_S}.discovery:PathsSpec",
            run=f"{_D}.paths:paths",
            result=f"{_D}.paths:PathsResult",
            view=f"{_V}:paths",
            example='ws.paths(start="billing_faq", steps=3).plot()',
            part=ReportPart("Paths", f"{_P}:paths_part"),
        ),
        Analysis(
            name="touchpoints",
            summary="Touchpoint inventory: every touchpoint x channel with volume, reach, stage, outcome, "
            "time, cost and feedback, by volume.",
            help="",
            spec=f"{_S}.discovery:InventorySpec",
            run=f"{_R}:touchpoints",
            takes_workspace=True,
            result=f"{_D}.touchpoints:TouchpointInventory",
            view=f"{_V}:touchpoints",
            example="ws.touchpoints().to_pandas()",
            part=ReportPart("Touchpoint inventory", f"{_P}:touchpoints_part"),
        ),
        Analysis(
            name="segments",
            summary="Journey metrics side by side per segment (or for two periods): 95% intervals, a "
            "test, p and Benjamini-Hochberg q.",
            help=(
                "Rates (success, abandoned, leakage, first_contact_resolution, repeat_contact, "
                "repeat_journey) use Wilson intervals and a two-proportion z test (Fisher's exact test "
                "when an expected count is below 5); means (duration_s, touchpoints, channel_switches, "
                "cost_to_serve, value) use t intervals and Welch's t test.\n\nBuilt-in segments, first "
                "rule that holds: prospect (no purchase), lapsed (last purchase more than --lapsed-days "
                "ago, when set), first-time (one purchase), loyal (at least --loyal-min purchases, the "
                "last within --loyal-days), occasional (the rest). Days count back from the reference "
                "date: the latest event, or --as-of. A purchase is a successful purchase journey or, "
                "when none succeeded, an event with value > 0 (--purchases chooses); data without "
                "customers or purchases gets no segments and says why. did:channel=chat:30d:2x means "
                "at least two chat events in the 30 days up to the reference date."
            ),
            spec=f"{_S}.comparison:SegmentComparisonSpec",
            also=(f"{_S}.comparison:RfmRules", f"{_S}.comparison:PeriodComparisonSpec"),
            prepare=f"{_S}.comparison:comparison_spec",
            run=f"{_R}:segments",
            takes_workspace=True,
            result=f"{_D}._compare:SegmentComparison",
            view=f"{_V}:segments",
            example='ws.segments(cohort="did:channel=chat:30d").to_pandas()',
            part=ReportPart("Segments", "journeylens.report.segments:segments_part"),
        ),
        Analysis(
            name="map draft",
            summary="Draft a journey map from the data: stages from where touchpoints typically sit, "
            "p80 time targets, unplanned touchpoints.",
            help="Writes commented YAML that validates against the map format (docs/maps.md): "
            "expected emotions, goals and owners are left for people. Without --out the YAML is "
            "printed; with --out the file is written (with map.schema.json beside it, for editors) "
            "and the stages are listed.",
            spec=f"{_S}.maps:MapDraftSpec",
            run=f"{_R}:map_draft",
            takes_workspace=True,
            result="journeylens.maps.draft:MapDraft",
            view="journeylens.cli._map_views:map_draft",
            csv="stages",
            example='ws.map_draft(type="purchase", out="maps/purchase.yaml").map.stages',
        ),
        Analysis(
            name="map show",
            summary="Draw a designed journey map with data: per stage the journeys reaching it, "
            "touchpoint volumes and channel mix, time against target, success, emotion, pain points.",
            help="The classic journey-map layout: stages as columns, lanes as rows. --format html "
            "(default) writes a self-contained page that works offline and prints (to "
            "WORKSPACE/maps/MAP.html unless --out says where); mermaid prints a Mermaid journey "
            "diagram, dot a Graphviz stage map with the journeys flowing between stages, json the "
            "per-stage numbers. The deviations lane is filled by `journeylens map check`.",
            spec=f"{_S}.maps:MapShowSpec",
            run="journeylens.maps._show_workspace:map_show",
            takes_workspace=True,
            result="journeylens.maps.show:MapView",
            view="journeylens.cli._map_show:map_show",
            example='ws.map_show("purchase", format="mermaid").text',
            section=ReportSection("maps", "journeylens.report.maps:journey_maps_section", after="discovery"),
        ),
        Analysis(
            name="export xes",
            summary="Write the selected journeys as an XES event log (one trace per journey), e.g. for "
            "pm4py.",
            help="",
            spec=f"{_S}.discovery:XesExportSpec",
            run=f"{_R}:export_xes",
            result=f"{_D}.xes_export:XesExport",
            view=f"{_V}:export_xes",
            csv="to_dict",
            example='ws.export_xes("journeys.xes.gz")',
        ),
        Analysis(
            name="map monitor",
            summary="Living map: every stage metric of a map as a daily or weekly series; alerts when "
            "one changes, within the map's false-alarm budget.",
            help="Metrics per stage: volume, conversion (or resolution), time_within_target (stages "
            "with a time target), feedback_<metric> (answers linked to the journeys); per journey: "
            "missing_required_stage. Laney p' z-scores feed a two-sided CUSUM whose threshold "
            "keeps the map's monitor.false_alarm_budget (default 1/month); repeated alarms of one "
            "change are one alert with a count of re-alarms. Each run replaces the map's rows in "
            "the alerts table. JSON is one object (policy, alerts, unmonitored series); CSV the "
            "alerts. See docs/monitoring.md.",
            spec=f"{_S}.maps:MapMonitorSpec",
            run="journeylens.maps.monitor:monitor_map",
            takes_workspace=True,
            result="journeylens.maps.monitor:MapMonitor",
            view="journeylens.cli._map_views:map_monitor",
            example='ws.map_monitor("purchase", since="2026-03-01").alerts',
        ),
        Analysis(
            name="map check",
            summary="Check a journey map against actual journeys: conformance, CJML deviations, Declare "
            "rules, their cost, time targets and KPIs.",
            help="Per journey of the map's type (and segment): conforms or not, with each deviation "
            "(ad-hoc touchpoint, sequence irregularity, missing touchpoint, failed touchpoint) and each "
            "rule broken. Shares of journeys come with 95% Wilson intervals; deviating journeys are "
            "compared with conforming ones (tests, Benjamini-Hochberg q) - an association, not a cause. "
            "--compare-segments A,B (or the option twice) or --compare-periods START:END twice checks the "
            "map for both, side by side. "
            "JSON is one object (see docs/maps.md); CSV is one row per journey.",
            spec="journeylens.specs.map_check:MapCheckSpec",
            run="journeylens.maps.check:map_check",
            takes_workspace=True,
            result="journeylens.maps._check_result:MapCheck",
            view="journeylens.cli._map_views:map_check",
            csv="verdicts",
            example='ws.map_check("purchase").summary()',
        ),
        Analysis(
            name="contacts",
            summary="Contact-centre signals: why customers contact (volume, trend, resolution, cost by "
            "reason), avoidable contacts, repeated reasons, weekly signals per department.",
            help="--view reasons (default): contacts per reason with the last complete period against "
            "the one before (rate ratio, exact test, Benjamini-Hochberg q), self-service and assisted "
            "resolution (Wilson) and cost; avoidable: digital touchpoints followed by a contact within "
            "[voc.contacts] window, ranked by contacts beyond their peers (lower 95% bound), with the top "
            "touchpoint per "
            "reason; repeats: repeat contacts and reasons stated again after a channel or agent switch, "
            "by channel pair; signals: per owning department what grew, what it costs, example "
            "comments. JSON is one object (context, rows, parts); CSV the rows. See docs/contacts.md.",
            spec="journeylens.specs.contacts:ContactsSpec",
            run="journeylens.contacts.analysis:contacts",
            takes_workspace=True,
            result="journeylens.contacts.analysis:ContactsResult",
            view="journeylens.cli._contacts:contacts",
            example='ws.contacts(view="avoidable").records()[0]["touchpoint"]',
            section=ReportSection("contacts", "journeylens.report.contacts:contacts_section", after="maps"),
        ),
        Analysis(
            name="feedback scores",
            summary="NPS, CSAT and CES per group (touchpoint, journey type, outcome, segment, channel, "
            "agent, team, period, map stage) with denominators, 95% intervals and tests against the rest.",
            help="NPS (promoters 9-10 minus detractors 0-6, in points) has the Adjusted-Wald interval "
            "(3/4 added to promoters and to detractors, n + 3); CSAT and CES are top-box shares "
            "(--csat-top-box, default 4 of 1-5; --ces-top-box, default 6 of 1-7) with Wilson "
            "intervals; means (nps_mean, csat_mean, ces_mean, rating_mean) t intervals. Each group "
            "is tested against all other answers (z, Fisher or Welch) with Benjamini-Hochberg q. "
            "Answers are grouped through feedback_links (docs/voc.md): the touchpoint and channel "
            "the survey names, else the journey step it is about; unlinked answers are kept. "
            "--by stage --map NAME groups the answers about the map's journeys by the stage they are "
            "about (the stage of their linked step, unless the survey names another touchpoint). A "
            "group with fewer than --min-answers answers shows its count, not a score.",
            spec="journeylens.specs.feedback:FeedbackScoresSpec",
            run="journeylens.voc.scores:scores_in_workspace",
            result="journeylens.voc.scores:FeedbackScores",
            takes_workspace=True,
            view="journeylens.cli._voc:feedback_scores",
            example='ws.feedback_scores(by="touchpoint", metric="nps").to_pandas()',
        ),
        Analysis(
            name="feedback emotion",
            summary="The emotion curve: how customers feel at each touchpoint or map stage (-2..2, with "
            "intervals), the gap to the map's expected emotion, and the peak and end moments.",
            help="Each answer linked to a journey is put on the map's -2..2 scale: by its score (NPS and "
            "ratings (score - 5) / 2.5, CSAT score - 3, CES (score - 4) * 2/3), else by its comment's "
            "sentiment times 2. Points are the touchpoints of the steps the answers are about, in "
            "journey order, or with --map the map's stages (with the expected emotion and the gap). "
            "Peak and end (Kahneman): per journey its most intense answer and its last; per group "
            "their means, the share of negative peaks and where most of them are (docs/voc.md).",
            spec=f"{_S}.feedback:EmotionSpec",
            run="journeylens.voc.emotion_curve:emotion_curve",
            takes_workspace=True,
            result="journeylens.voc.emotion_curve:EmotionCurve",
            view="journeylens.cli._voc:feedback_emotion",
            example='ws.feedback_emotion(map="purchase").to_pandas()',
            section=ReportSection("voc", "journeylens.report.voc:voc_section", after="maps"),
        ),
        Analysis(
            name="feedback export",
            summary="Write every feedback row with its sentiment (score, label, model), its journey, step "
            "and agent, and its themes when matched: CSV, JSON or Parquet, to a file or a pipe.",
            help="No row is left out: unlinked answers have empty journey columns. The format follows "
            "the file's suffix (.csv, .json, .parquet) unless --file-format says; standard output "
            "gets CSV (Parquet needs a file). Columns: docs/voc.md.",
            spec=f"{_S}.feedback:FeedbackExportSpec",
            run="journeylens.voc.export:export_feedback",
            result="journeylens.voc.export:FeedbackExport",
            view="journeylens.cli._voc:feedback_export",
            csv="to_dict",
            example='ws.feedback_export("feedback.parquet").rows',
        ),
        Analysis(
            name="agents",
            summary="Agents or teams: contacts, first-contact resolution, repeats, transfers, handle time, "
            "CSAT/NPS and the next journey's success, raw and case-mix adjusted.",
            help="Each journey with a contact belongs to the agent of its first contact. Rates have "
            "denominators and Wilson intervals. FCR is case-mix adjusted (journey type, contact "
            "reason, segment, channel, time of day) by indirect standardisation (observed / expected, "
            "with funnel-plot limits at 95% and 99.8%, Spiegelhalter 2005) and by empirical-Bayes "
            "shrinkage (statsmodels BinomialBayesMixedGLM). Team engagement and training "
            "(employee_feedback) are linked to adjusted FCR (docs/agents.md). Associations: agents "
            "are not assigned to customers at random.",
            spec="journeylens.specs.agents:AgentsSpec",
            run="journeylens.workforce.agents:agents",
            result="journeylens.workforce.agents:AgentsResult",
            view="journeylens.cli._agents:agents_view",
            example='ws.agents(by="team").to_pandas()',
            section=ReportSection("agents", "journeylens.report.agents:agents_section", after="contacts"),
        ),
        Analysis(
            name="feedback themes",
            summary="Themes of feedback text per the workspace's taxonomy (themes.yaml) and a classifier "
            "learned from labelled reasons: volume, share, negative share, sentiment, owner, trend.",
            help="Rewrites feedback_themes first: keywords matched whole-word in the engine (source "
            "taxonomy), then a one-vs-rest TF-IDF + logistic-regression model learned from comments "
            "whose journey states a contact reason listed under a theme's reasons (or [voc.themes] "
            "label_property) gives a theme to comments no keyword matched (source classifier). Shares "
            "have Wilson intervals over all non-empty comments of the period, mean sentiment a t "
            "interval. --discover proposes new themes (NMF on negative comments no theme covers) as "
            "YAML to paste into themes.yaml. JSON is one object (see docs/voc.md); CSV is the themes.",
            spec="journeylens.specs.feedback:FeedbackThemesSpec",
            run="journeylens.voc.theme_summary:feedback_themes",
            takes_workspace=True,
            result="journeylens.voc.theme_summary:FeedbackThemes",
            view="journeylens.cli._voc:feedback_themes",
            example="ws.feedback_themes(discover=True).to_pandas()",
        ),
        Analysis(
            name="drivers",
            summary="Key drivers (moments of truth): which touchpoints, channels, stages and journey "
            "traits are associated with success or a score, as shares of R² with 95% intervals.",
            help="--target success (final outcomes only: open and unknown journeys are left out) or "
            "nps, csat, ces, rating (the mean of the journey's linked answers). Features, counted over "
            "the events the customer experienced before the outcome was decided: the --top most "
            "supported touchpoints and channels, the stages of --map, steps and duration bands, an "
            "assisted contact; each needs --min-support journeys with and without it. Shares: Johnson's "
            "relative weights, and the exact Shapley/LMG decomposition with at most 12 predictors; "
            "direction from the standardised beta; percentile intervals from --bootstrap resamples of "
            "the journeys. Associated with, not caused by (docs/decisions.md).",
            spec="journeylens.specs.drivers:DriversSpec",
            run="journeylens.decisions.drivers:drivers",
            takes_workspace=True,
            result="journeylens.decisions.drivers:DriversResult",
            view="journeylens.cli._decisions_views:drivers",
            example='ws.drivers(target="csat", type="support").to_pandas()',
        ),
        Analysis(
            name="attribution",
            summary="Credit for conversions and their value per channel or touchpoint: first, last, "
            "linear, time decay, position-based, exact Markov removal effects (orders 1-3), Shapley.",
            help="A conversion is a journey with --outcome (default success), worth its value; other "
            "decided outcomes are journeys that did not convert (open and unknown ones are left out "
            "and counted). --paths reads a file in ChannelAttribution's layout instead (path joined "
            "by ' > ', total_conversions, total_conversion_value, total_null; --sep). Markov removal "
            "effects are solved exactly on the absorbing chain (repeated states collapsed as in "
            "ChannelAttribution); Shapley is Zhao et al.'s simplified value (a channel counts once "
            "per path) with the ordered values in JSON. Time decay on a path file is by position. "
            "JSON is one object (totals, markov, shapley_ordered, rows); CSV the rows. See "
            "docs/decisions.md.",
            spec="journeylens.specs.attribution:AttributionSpec",
            run="journeylens.decisions.attribution:attribution",
            takes_workspace=True,
            # A path file needs no journeys: the run builds them (or, --no-build, refuses) only to read them.
            needs_model=False,
            standalone_when="paths",
            result="journeylens.decisions.attribution:AttributionResult",
            view="journeylens.cli._decisions_views:attribution_view",
            example='ws.attribution(model="markov", order=2).credit("markov")',
            section=ReportSection(
                "fix_first", "journeylens.report.fix_first:fix_first_section", after="agents"
            ),
        ),
        Analysis(
            name="backlog",
            summary="Opportunity sizing: every finding (avoidable contacts, map deviations and time "
            "targets, teams below their case mix, negative themes, root causes) as a ranked backlog "
            "item with money per year [95%], journeys, owner, confidence and evidence.",
            help="Money is associated with each finding, not a promised saving: extra assisted contacts "
            "x cost per contact ([journeys.costs]), lost conversions x mean journey value, per year "
            "(365 / the data's span in days), with the count's 95% interval carried to money. Items "
            "about the same touchpoint or stage are merged. backlog.yaml in the workspace (or --plan) "
            "adds effort, status, decision and notes by id; an id that names no finding is a warning. "
            "--rank value_per_effort orders by money per effort day; --markdown FILE writes a roadmap "
            "table. JSON is one object (rules, sources, warnings, rows, evidence); CSV the rows. See "
            "docs/decisions.md.",
            spec="journeylens.specs.backlog:BacklogSpec",
            run="journeylens.decisions.backlog:backlog",
            takes_workspace=True,
            result="journeylens.decisions.backlog:BacklogResult",
            view="journeylens.cli._decisions_views:backlog_view",
            example='ws.backlog(rank="value_per_effort").records()[0]["id"]',
        ),
        Analysis(
            name="experiment",
            summary="An A/B test on journey metrics: each variant's units after exposure against the "
            "baseline, as GrowthBook's gbstats 0.8 tests them (t-test, CUPED, sequential, Bayesian, SRM).",
            help="Units are customers (an assigned anonymous id is stitched to its customer); a unit "
            "assigned to two variants is counted and excluded. Only journeys starting at or after the "
            "unit's first exposure count. Metrics per unit: proportions (converted), means (journeys, "
            "contacts, cost_to_serve, value) and ratio metrics with the delta method (success_rate, "
            "leakage_rate, repeat_rate, fcr, duration, nps, csat). CUPED adjusts means and proportions "
            "by their value in the --pre-days before exposure (pooled theta). Holm or BH across goal "
            "metrics and variants, per --by group; guardrails are not corrected. --funnel STEPS and --maps "
            "add the funnel and the process-map transitions per variant (journeys after exposure, tests "
            "with BH q); contacts and leakage_rate are always stated. See docs/experiments.md.",
            spec="journeylens.specs.experiment:ExperimentSpec",
            run="journeylens.experiments.experiment:experiment",
            result="journeylens.experiments.experiment:ExperimentResult",
            view="journeylens.cli._experiments_views:experiment_view",
            example='ws.experiment("checkout_redesign", metric="success_rate").to_pandas()',
            section=ReportSection(
                "experiments", "journeylens.report.experiments:experiments_section", after="fix_first"
            ),
        ),
        Analysis(
            name="causes",
            summary="Root causes of an outcome (failed, abandoned, leakage, repeat_journey, contact_after, "
            "low_score): journey features associated with it, checked for proxies and adjusted jointly.",
            help="Candidates: touchpoints (with --map, in their stage), channels, channel switches, entry "
            "channel, segment, agent team, event properties (--property) and customer traits (--trait) "
            "of at most --max-values values, and pairs of the --max-pair-features most frequent. Each: "
            "rate with vs without (z or Fisher), difference and risk ratio with 95% intervals, "
            "Benjamini-Hochberg q over all; the significant ones are stratified on each other "
            "(Cochran-Mantel-Haenszel: 'proxy of X'), pairs need a significant interaction, and the "
            "survivors enter one logistic regression (adjusted odds ratios). Causes are ranked by excess "
            "outcome journeys. Associations, not causes: see docs/decisions.md. JSON is one object "
            "(context, rows); CSV the rows.",
            spec="journeylens.specs.causes:CausesSpec",
            run="journeylens.decisions.causes:causes",
            takes_workspace=True,
            result="journeylens.decisions.causes:CausesResult",
            view="journeylens.cli._decisions_views:causes_view",
            example='ws.causes(outcome="leakage", type="support").causes()[0]["label"]',
        ),
        Analysis(
            name="nba",
            summary="Next best actions for customers in open journeys, ranked by estimated effect on "
            "success, with reasons; offline evaluation of logged decisions (IPS, SNIPS, doubly robust).",
            help="An open journey's state is its type and last touchpoint (support|track_order), with its "
            "channel and segment. Actions come from [nba] actions in journeylens.toml or --actions FILE "
            "(name, touchpoint, channel, cost). Where the decisions table logs this state, actions are "
            "ranked by doubly robust uplift over the baseline (95% CLT intervals, effective sample "
            "size) and a T-learner; elsewhere by the success of closed journeys that went next to the "
            "action's touchpoint (Wilson interval; uplift with Newcombe's interval; an association). "
            "--propose ACTION designs an experiment (sample size per variant, two-sided alpha 0.05, "
            "power 0.8). Decisions without a propensity are excluded and counted (docs/nba.md).",
            spec="journeylens.specs.nba:NbaSpec",
            run="journeylens.nba.recommend:nba",
            takes_workspace=True,
            result="journeylens.nba.recommend:NbaResult",
            view="journeylens.cli._nba_views:nba_view",
            example='ws.nba(customer="u000042").records()',
            section=ReportSection("nba", "journeylens.report.nba:nba_section", after="fix_first"),
        ),
    )
}
