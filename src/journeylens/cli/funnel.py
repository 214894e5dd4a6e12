"""Discovery commands (funnel)."""

from __future__ import annotations
