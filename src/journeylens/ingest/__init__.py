"""Ingestion: files (CSV, Parquet, JSON Lines, XES, gzip of these) into the canonical tables."""

from __future__ import annotations

from journeylens.ingest.pipeline import Ingestor, IngestReport, IngestSpec

__all__ = ["IngestReport", "IngestSpec", "Ingestor"]
