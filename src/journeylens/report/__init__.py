"""Self-contained HTML reports built from registered sections."""

from __future__ import annotations

from journeylens.report.html import build_sections, write_report
from journeylens.report.sections import SECTIONS, Section, section

__all__ = ["SECTIONS", "Section", "build_sections", "section", "write_report"]
