"""Readers for event tables computed elsewhere (the Spark engine's Parquet output)."""

from sitewatch.sources.events import parquet as _parquet  # noqa: F401  (registers)
