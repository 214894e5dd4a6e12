"""Names of the model's tables and channels, without the engine: settings, specs and ``status``
read them at start-up (the table schemas, which need Ibis, are in ``store.schema``)."""

from __future__ import annotations

CHANNELS = (
    "web", "app", "email", "sms", "whatsapp", "social", "chat",
    "call_center", "store", "mail", "other",
)  # fmt: skip
RAW_TABLE_NAMES = (
    "events", "identities", "customers", "feedback", "agents", "assignments", "employee_feedback",
    "decisions",
)  # fmt: skip
SYSTEM_TABLE_NAMES = (
    "quarantine",
    "ingests",
    "builds",
    "alerts",
    "suppressions",
    "privacy_audit",
    "collector_seen",
)
"""Tables JourneyLens keeps about its own work (``store.schema.SYSTEM_TABLES``)."""

METRICS = ("nps", "csat", "ces", "rating")
"""Scored feedback metrics (``feedback.metric``), each with its scale in :data:`SCORE_RANGES`."""
TEXT = "text"
"""The metric of text-only feedback (a social post, chat transcript, complaint, call note): a
comment and no score."""
FEEDBACK_METRICS = (*METRICS, TEXT)
"""Every value ``feedback.metric`` may take."""
SCORE_RANGES: dict[str, tuple[float, float]] = {
    "nps": (0, 10),
    "csat": (1, 5),
    "ces": (1, 7),
    "rating": (0, 10),
}
"""The scale of each metric's score (CES: 7 = very easy)."""

TRAINING = "training"
"""The metric of a training or coaching completion in ``employee_feedback`` (no score)."""
EMPLOYEE_SCORE_RANGES: dict[str, tuple[float, float]] = {
    "enps": (0, 10),
    "engagement": (1, 5),
    "pulse": (1, 5),
}
"""The scale of each employee metric (``employee_feedback.metric``): eNPS 0-10 (promoters 9-10
minus detractors 0-6), engagement and pulse answers 1-5 (5 = most engaged)."""
EMPLOYEE_METRICS = (*EMPLOYEE_SCORE_RANGES, TRAINING)
"""Every value ``employee_feedback.metric`` may take."""
