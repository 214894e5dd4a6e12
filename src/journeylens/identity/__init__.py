"""Customer 360: the identity graph and its connected components."""

from __future__ import annotations

from journeylens.identity.components import Components, connected_components

__all__ = ["Components", "connected_components"]
