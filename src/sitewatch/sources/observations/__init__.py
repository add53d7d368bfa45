"""Analyst observations (CSV or YAML) → the ``observations`` table."""

from sitewatch.sources.observations import readers as readers  # registers the readers
