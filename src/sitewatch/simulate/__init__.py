"""A deterministic, seeded simulator of the Hmeimim–Tartus withdrawal of December 2024.

Contract: :func:`~sitewatch.simulate.scenario.build` turns ``(seed, scale)`` into a
:class:`~sitewatch.simulate.scenario.Scenario` (pure data: sites and zones, flights,
ship voyages, vehicle counts, scene plans, analyst observations), and
:func:`~sitewatch.simulate.writer.write_scenario` writes it as raw files **in the real
formats** a user would bring — SBS-1/BaseStation CSV or Beast binary for ADS-B, NMEA
``!AIVDM`` for AIS, GeoTIFF scenes with acquisition-time tags, an observations CSV, an
OpenSky-style aircraft database CSV and GeoJSON zones — so that ``sitewatch demo`` can
push them through the ordinary ingest and analysis commands.

The scenario describes what happens (who flies where, which ships sail); it never
states a conclusion. Every file carries a SIMULATED mark in its name and content.
"""

from sitewatch.simulate.scenario import Scenario, build

__all__ = ["Scenario", "build"]
