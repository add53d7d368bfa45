"""Readers for sitewatch's own positions layout (what ``export positions`` writes)."""

from sitewatch.sources.positions import readers as _readers  # noqa: F401  (registers)
