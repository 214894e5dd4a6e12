"""Discovery commands (process)."""

from __future__ import annotations
