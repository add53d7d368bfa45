"""Alerts: watch rules (YAML), their evaluation against the store, and delivery channels."""
