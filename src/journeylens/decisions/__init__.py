"""Why journeys fail and what to fix first: root causes of friction (``journeylens causes``), key
drivers of outcomes and scores (``journeylens drivers``), exact attribution over channels and
touchpoints (``journeylens attribution``) and the money-sized improvement backlog
(``journeylens backlog``). Everything here is "associated with"; causal claims go through an
experiment."""

from __future__ import annotations

__all__: list[str] = []
