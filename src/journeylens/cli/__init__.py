"""Command-line interface (Typer + Rich)."""

from __future__ import annotations

from journeylens.cli.app import app, main

__all__ = ["app", "main"]
