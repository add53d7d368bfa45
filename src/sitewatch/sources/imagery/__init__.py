"""Readers for satellite and aerial scenes (GeoTIFF/COG, JPEG/PNG, STAC items)."""

from sitewatch.sources.imagery import readers as _readers  # noqa: F401  (registers)
