"""Analytics: pure functions from store tables to event tables, registered by name.

See :mod:`sitewatch.analytics.base` for the registry and :func:`run` for ``sitewatch analyze``.
"""
