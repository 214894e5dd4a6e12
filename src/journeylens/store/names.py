"""Names of the model's tables and channels, without the engine: settings, specs and ``status``
read them at start-up (the table schemas, which need Ibis, are in ``store.schema``)."""

from __future__ import annotations

CHANNELS = (
    "web", "app", "email", "sms", "whatsapp", "social", "chat",
    "call_center", "store", "mail", "other",
)  # fmt: skip
RAW_TABLE_NAMES = ("events", "identities", "customers", "feedback", "agents", "assignments")
SYSTEM_TABLE_NAMES = ("quarantine", "ingests", "builds", "alerts")
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
