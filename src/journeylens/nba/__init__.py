"""What next: next-best-action recommendations learned from journey outcomes (``journeylens
nba``), their honest offline evaluation from logged decisions (IPS, SNIPS, doubly robust), and
proposed experiments with a power calculation."""

from __future__ import annotations

__all__: list[str] = []
