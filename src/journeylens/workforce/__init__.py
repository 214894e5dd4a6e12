"""Agents and employee experience: who served each journey, case-mix adjusted, and how
engagement and training relate to customer outcomes (``journeylens agents``)."""

from __future__ import annotations

__all__: list[str] = []
