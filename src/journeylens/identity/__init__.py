"""Customer 360: the identity graph, its connected components, and stitching into customers.

The ``[identity]`` settings (:class:`IdentityRules`) live in ``journeylens.specs.identity``, which
reads without the engine.
"""

from __future__ import annotations

from journeylens.identity.components import Components, connected_components
from journeylens.identity.stitch import StitchResult, stitch
from journeylens.specs.identity import IdentityRules

__all__ = ["Components", "IdentityRules", "StitchResult", "connected_components", "stitch"]
