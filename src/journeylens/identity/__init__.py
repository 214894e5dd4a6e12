"""Customer 360: the identity graph, its connected components, and stitching into customers.

The public names are imported on first use: the settings (``identity.rules``) need no engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeylens._lazy import lazy_names

if TYPE_CHECKING:
    from journeylens.identity.components import Components, connected_components
    from journeylens.identity.rules import IdentityRules
    from journeylens.identity.stitch import StitchResult, stitch

_LAZY = {
    "Components": "journeylens.identity.components",
    "connected_components": "journeylens.identity.components",
    "IdentityRules": "journeylens.identity.rules",
    "StitchResult": "journeylens.identity.stitch",
    "stitch": "journeylens.identity.stitch",
}


__getattr__ = lazy_names(__name__, _LAZY)


__all__ = ["Components", "IdentityRules", "StitchResult", "connected_components", "stitch"]
