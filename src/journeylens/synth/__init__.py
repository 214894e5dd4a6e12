"""A realistic, deterministic synthetic omnichannel world with known ground truth.

``generate_world`` writes raw tables in the canonical model (events, identities, customers,
feedback, agents, assignments) plus ``ground_truth.json`` and per-row truth, so identity
stitching, journey building, friction, agent and experiment analyses can be measured against
what was planted.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> from journeylens.synth import generate_world
    >>> summary = generate_world(Path(tempfile.mkdtemp()) / "world", customers=100, seed=3)
    >>> summary.counts["customers"]
    100
"""

from __future__ import annotations

from journeylens.synth.world import TABLES, WorldSummary, generate_world

__all__ = ["TABLES", "WorldSummary", "generate_world"]
