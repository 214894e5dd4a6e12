"""The typed result of an outcome-accuracy measurement (see :mod:`.outcome_accuracy`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DENOMINATORS = {
    "pair_precision": "pairs of events in the same predicted journey (events present on both sides)",
    "pair_recall": "pairs of events in the same true journey (events present on both sides)",
    "exact_share": "true journeys; exact = a predicted journey with the same event set",
    "type_agreement": "events present on both sides",
    "true_success_rate": "all true journeys of the type (converted, resolved or informed = success)",
    "predicted_success_rate": "predicted journeys of the type whose outcome is defined (not unknown), "
    "open ones included - the rate `journeylens journeys summary` reports",
    "success_rate_bias_pp": "predicted_success_rate - true_success_rate, in percentage points",
    "confusion": "matched journeys of the true type (mutual best match by shared events)",
    "outcome_accuracy": "matched journeys of the true type whose predicted outcome is not open "
    "(predicted success == true success; unknown and failed count as not success)",
    "fcr": "matched support journeys with an assisted contact in both the truth and the model",
    "leakage": "matched support journeys with a digital event and an assisted contact in both",
    "leakage_to_call": "the leakage journeys whose true journey has a call-centre event (the world "
    "counts leakage only when a call followed; the model counts any assisted contact)",
    "evidence": "matched journeys with that outcome_evidence",
    "silent_give_ups": "matched truly unresolved support journeys",
}
"""What each rate is over: part of every result (``to_dict()["denominators"]``)."""


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass(frozen=True)
class BoundaryAccuracy:
    """Journey boundaries: are the events that belong together put together?"""

    events_truth: int
    events_model: int
    """Events placed in a predicted journey."""
    events_compared: int
    """Events on both sides (the ones pairs and type agreement are counted over)."""
    shared_pairs: int
    predicted_pairs: int
    true_pairs: int
    true_journeys: int
    exact_journeys: int
    same_type_events: int
    pair_precision: float | None = field(init=False)
    pair_recall: float | None = field(init=False)
    exact_share: float | None = field(init=False)
    type_agreement: float | None = field(init=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "pair_precision", _rate(self.shared_pairs, self.predicted_pairs))
        set_(self, "pair_recall", _rate(self.shared_pairs, self.true_pairs))
        set_(self, "exact_share", _rate(self.exact_journeys, self.true_journeys))
        set_(self, "type_agreement", _rate(self.same_type_events, self.events_compared))


@dataclass(frozen=True)
class TypeAccuracy:
    """Outcomes of one true journey type."""

    journey_type: str
    true_journeys: int
    true_success: int
    predicted_journeys: int
    """Predicted journeys of this type (all of them)."""
    predicted_defined: int
    """... of which the outcome is final (not ``open``, not ``unknown``): the predicted rate's
    denominator, as in ``journeylens summary``."""
    predicted_success: int
    matched: int
    """True journeys of this type matched one-to-one to a predicted journey."""
    matched_same_type: int
    confusion: dict[str, dict[str, int]]
    """True outcome -> predicted outcome -> matched journeys."""
    judged: int
    """Matched journeys whose predicted outcome is not ``open`` (accuracy's denominator)."""
    agreed: int
    open: int
    """Matched journeys predicted ``open``: left out of accuracy."""
    unobservable: int = 0
    """Judged journeys that are silent give-ups (truly not a success, inferred a success from "no
    repeat", no negative feedback anywhere in the data): nothing observable can tell them."""
    true_success_rate: float | None = field(init=False)
    predicted_success_rate: float | None = field(init=False)
    success_rate_bias_pp: float | None = field(init=False)
    outcome_accuracy: float | None = field(init=False)
    observable_accuracy: float | None = field(init=False)
    """Accuracy over the judged journeys that are not silent give-ups."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        true_rate = _rate(self.true_success, self.true_journeys)
        predicted = _rate(self.predicted_success, self.predicted_defined)
        set_(self, "true_success_rate", true_rate)
        set_(self, "predicted_success_rate", predicted)
        bias = None
        if true_rate is not None and predicted is not None:
            exact = self.predicted_success / self.predicted_defined - self.true_success / self.true_journeys
            bias = round(100 * exact, 2)
        set_(self, "success_rate_bias_pp", bias)
        set_(self, "outcome_accuracy", _rate(self.agreed, self.judged))
        set_(self, "observable_accuracy", _rate(self.agreed, self.judged - self.unobservable))


@dataclass(frozen=True)
class PairedRate:
    """One rate counted by the truth and by the model on the same journeys (same denominator)."""

    journeys: int
    true: int
    predicted: int
    agree: int
    """Journeys where the truth and the model say the same."""
    true_rate: float | None = field(init=False)
    predicted_rate: float | None = field(init=False)
    difference_pp: float | None = field(init=False)
    agreement: float | None = field(init=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "true_rate", _rate(self.true, self.journeys))
        set_(self, "predicted_rate", _rate(self.predicted, self.journeys))
        gap = round(100 * (self.predicted - self.true) / self.journeys, 2) if self.journeys else None
        set_(self, "difference_pp", gap)
        set_(self, "agreement", _rate(self.agree, self.journeys))


@dataclass(frozen=True)
class EvidenceRow:
    """Matched journeys whose outcome one evidence rule decided, against the truth."""

    evidence: str
    journeys: int
    truly_success: int
    predicted_success: int
    agree: int | None
    """Journeys where predicted and true success agree; None for rules that make no claim
    (``open``, ``no_criteria``)."""
    agreement: float | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "agreement", None if self.agree is None else _rate(self.agree, self.journeys)
        )


@dataclass(frozen=True)
class EvidenceBreakdown:
    """Which rule decided each outcome, and what is unobservable from behaviour alone."""

    rows: list[EvidenceRow]
    unresolved_support: int
    """Matched truly unresolved support journeys."""
    silent_give_ups: int
    """... predicted success by inference (no repeat): the customer gave up without a trace."""
    silent_give_ups_without_negative_feedback: int
    """... of which the truth links no negative feedback: nothing in the data can reveal them."""
    recovered_by_feedback: int
    """Truly unresolved support journeys whose evidence is ``negative_feedback``."""
    wrongly_overridden: int
    """Truly resolved support journeys whose evidence is ``negative_feedback``."""
    recovered_share: float | None = field(init=False)
    """recovered / (recovered + silent give-ups): how much of the inferred-but-false success
    feedback catches."""

    def __post_init__(self) -> None:
        recovered = _rate(self.recovered_by_feedback, self.recovered_by_feedback + self.silent_give_ups)
        object.__setattr__(self, "recovered_share", recovered)


@dataclass(frozen=True)
class Target:
    """One target of issue 13 and whether this measurement meets it."""

    name: str
    value: float | None
    requirement: str
    met: bool


@dataclass(frozen=True)
class OutcomeAccuracy:
    """A built workspace against its world's ground truth.

    Every rate names its denominator in :data:`DENOMINATORS` (``to_dict()["denominators"]``).
    """

    world: str
    boundaries: BoundaryAccuracy
    types: list[TypeAccuracy]
    fcr: PairedRate
    leakage: PairedRate
    leakage_to_call: PairedRate
    evidence: EvidenceBreakdown | None
    evidence_reason: str | None
    """Why ``evidence`` is None (the journeys table has no ``outcome_evidence`` column)."""
    targets: list[Target]
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of each step that produced this result (build, compare, ...)."""

    @property
    def targets_met(self) -> bool:
        return all(t.met for t in self.targets)

    def type(self, name: str) -> TypeAccuracy:
        """The figures of true journey type ``name``."""
        return next(t for t in self.types if t.journey_type == name)

    def to_dict(self) -> dict[str, Any]:
        """Every figure, the target verdicts and the denominators, as JSON-ready values."""
        return {**asdict(self), "targets_met": self.targets_met, "denominators": DENOMINATORS}
