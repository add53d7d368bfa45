"""Fusion: evidence rows per site, daily indicators against a baseline, rule-based assessments.

Modules: :mod:`~sitewatch.fusion.evidence` (the evidence model), :mod:`~sitewatch.fusion.indicators`
(daily series, baselines, change points), :mod:`~sitewatch.fusion.rules` (hypothesis rules in
YAML), :mod:`~sitewatch.fusion.assessment` (ICD-203 judgements with revision history) and
:mod:`~sitewatch.fusion.export` (GeoJSON, KML, CSV, Parquet).
"""
