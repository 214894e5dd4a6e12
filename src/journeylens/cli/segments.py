"""Discovery commands (segments)."""

from __future__ import annotations
