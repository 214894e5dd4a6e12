"""DuckDB-PySpark parity: every analysis on one synthetic world, on both engines, compared."""
