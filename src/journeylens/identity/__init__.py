"""Customer 360: the identity graph, its connected components, and stitching into customers."""

from __future__ import annotations

from journeylens.identity.components import Components, connected_components
from journeylens.identity.stitch import IdentityRules, StitchResult, stitch

__all__ = ["Components", "IdentityRules", "StitchResult", "connected_components", "stitch"]
