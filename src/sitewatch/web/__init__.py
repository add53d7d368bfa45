"""The dashboard: a FastAPI JSON API and a bundled single-page front-end (``sitewatch serve``)."""
