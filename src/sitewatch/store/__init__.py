"""The workspace store: one DuckDB file, declared tables, the ingest machinery."""

from sitewatch.store.db import Store

__all__ = ["Store"]
