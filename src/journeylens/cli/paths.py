"""Discovery commands (paths)."""

from __future__ import annotations
