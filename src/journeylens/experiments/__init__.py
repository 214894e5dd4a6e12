"""Did it work: experiments on whole journeys (``journeylens experiment``) — units and their
variants from ``assignments``, journey and feedback metrics after exposure, the statistics of
GrowthBook's gbstats (Welch, CUPED, sequential, Bayesian, SRM, Holm/BH) and the journey-level view
per variant."""

from __future__ import annotations

__all__: list[str] = []
